"""spectree over the API's pydantic models: validates requests and responses, and builds the OpenAPI document.

Two things differ from spectree's stock Flask plugin, both here: a JSON body is validated strictly from its raw bytes
(pydantic's JSON mode: `"false"` is no boolean, `"1"` no integer, while dates and times are still read from their
ISO strings), with a body that is not JSON at all answered 400 as before; and a validation error becomes the API's
own error shape (`{"error": {"status", "message", "fields"}}`) instead of pydantic's list.
"""
from __future__ import annotations

import math
from typing import Any, get_origin

from flask import current_app, request
from pydantic import ValidationError as PydanticError
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.plugins.werkzeug_utils import flask_response_unpack
from spectree.utils import get_multidict_items

from ..domain.limits import MAX_ID
from ..services.errors import ServiceError, ValidationError
from . import api_schemas
from .api_schemas import Error


class BadRequest(ServiceError):
    status = 400


class _StrictJsonFlaskPlugin(FlaskPlugin):
    """spectree's Flask plugin with strict JSON bodies and the app's `id` path converter documented."""

    def request_validation(self, request, query, json, form, headers, cookies):
        """Query, form fields and headers are text parsed as their declared types; a JSON body is checked strictly."""
        has_body = request.method not in ("GET", "DELETE")
        # Only an operation that declares a form reads one; any other body is read as JSON, whatever its
        # Content-Type claims (so a form or a broken multipart header gets the JSON body's 400/422, never a 500).
        use_form = form is not None and has_body and request.mimetype in self.FORM_MIMETYPE
        request.context = Context(
            query.model_validate(get_multidict_items(request.args, query)) if query else None,
            json.model_validate_json(json_object_bytes(optional=body_is_optional(json)))
            if json and has_body and not use_form else None,
            form.model_validate(_form_fields(request.form, form)) if use_form else None,
            headers.model_validate(dict(request.headers.items())) if headers else None, None)

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        """Check what goes over the wire: a dict a view returns is encoded first, then validated as JSON."""
        payload, status, headers = flask_response_unpack(resp)
        if isinstance(payload, (dict, list)):
            resp = (current_app.json.response(payload), status, headers)
        return super().validate_response(resp, resp_model, skip_validation, force_resp_serialize)

    def parse_path(self, route, path_parameter_descriptions):
        path, parameters = super().parse_path(route, path_parameter_descriptions)
        for parameter in parameters:
            if parameter["schema"] is None:  # our `id` converter: a positive 32-bit id (webapp/views/__init__.py)
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return path, parameters


def _form_fields(data, model) -> dict:
    """Form fields as the model declares them: a list field takes every value sent under its name."""
    return {name: data.getlist(name) if name in model.model_fields and get_origin(
        model.model_fields[name].annotation) is list else data.get(name) for name in data}


def body_is_optional(model) -> bool:
    """A body none of whose fields is required may be left out (it then means `{}`)."""
    return not any(field.is_required() for field in model.model_fields.values())


def json_object_bytes(optional: bool = False) -> bytes:
    """The raw request body, once checked to be a JSON object: 400 if it is not JSON at all, 422 if it is JSON but
    not an object (so both keep the words clients saw before the schemas)."""
    raw = request.get_data(cache=True)
    if not raw.strip() and optional:
        return b"{}"
    if not raw.strip():
        raise ValidationError("The request body must be a JSON object.", {"body": "Send a JSON object."})
    try:
        data = current_app.json.loads(raw, parse_float=_finite_float, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.", {"body": "Send valid JSON (an object)."}) from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.",
                              {"body": f"Send a JSON object, not {type(data).__name__}."})
    return raw


def _finite_float(text: str) -> float:
    # Python reads 1e400 as infinity; JSON has no infinities.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; RFC 8259 does not


# --- pydantic's errors in the API's words --------------------------------------------------------------------------

def field_name(loc: tuple) -> str:
    """('teaches', 1, 'subject_id') → 'teaches[1].subject_id'; () → 'body'."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _field_schema(model: Any, loc: tuple) -> dict:
    """The JSON Schema of the field at `loc` in `model` ({} when it cannot be found)."""
    document = model.model_json_schema() if model is not None else {}
    node, defs = document, document.get("$defs", {})
    for part in loc:
        while "$ref" in node or "anyOf" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in node else next(
                (option for option in node["anyOf"] if option.get("type") != "null"), {})
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
    return node


def _words(error: dict, field: dict) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    shown = value
    if kind in ("greater_than_equal", "less_than_equal") and "minimum" in field and "maximum" in field:
        return f"Must be between {field['minimum']} and {field['maximum']}; {shown} is not."
    if kind == "missing" or (kind in ("int_parsing", "float_parsing") and value == ""):
        return "A value is required."
    if kind == "extra_forbidden":
        return "This request has no such field."
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "Must be a whole number."
    if kind in ("float_type", "float_parsing", "finite_number"):
        return "Must be a number."
    if kind in ("bool_type", "bool_parsing"):
        return "Must be true or false."
    if kind == "string_type":
        return "Must be a string."
    if kind in ("list_type", "tuple_type"):
        return "Must be a list."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "Must be an object."
    if kind == "greater_than_equal":
        return f"Must be at least {ctx['ge']}; {shown} is not."
    if kind == "less_than_equal":
        return f"Must be at most {ctx['le']}; {shown} is not."
    if kind == "multiple_of":
        return f"Must be a multiple of {ctx['multiple_of']}; {shown} is not."
    if kind == "string_too_short":
        return "Must not be empty." if ctx.get("min_length") == 1 else f"Use at least {ctx['min_length']} characters."
    if kind == "string_too_long":
        return f"Use at most {ctx['max_length']} characters."
    if kind == "too_long":
        return f"At most {ctx['max_length']} items."
    if kind == "string_pattern_mismatch":
        return "Must not be blank." if ctx.get("pattern") == r"\S" else f"Must match {ctx['pattern']}."
    if kind == "literal_error":
        return f"Choose {ctx['expected']}."
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing", "timezone_aware"):
        return ("Include a UTC offset or Z." if kind == "timezone_aware"
                else "Use ISO 8601 with an offset, like 2027-03-28T09:00:00Z.")
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return "Dates look like 2027-03-28 (YYYY-MM-DD)."
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


def validation_error(exc: PydanticError) -> ValidationError:
    """One 422 naming every wrong field, in words."""
    model = getattr(api_schemas, exc.title, None)
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        fields.setdefault(field_name(error["loc"]), _words(error, _field_schema(model, error["loc"])))
    if len(fields) == 1:
        (name, words), = fields.items()
        message = words if name == "body" else f"{name}: {words}"
    else:
        message = "Please correct these fields: " + ", ".join(fields) + "."
    return ValidationError(message, fields)


def _refuse_invalid(req: Any, resp: Any, error: PydanticError | None, instance: Any, adapter: Any = None) -> None:
    """spectree's before-hook: an invalid request becomes the app's 422, handled by webapp/errors.py."""
    if error is not None:
        raise validation_error(error)


def _refuse_bad_answers(req: Any, resp: Any, error: PydanticError | None, instance: Any, adapter: Any = None) -> None:
    """spectree's after-hook: an answer that breaks its own declaration is our bug, a 500 logged like any other."""
    if error is not None:
        raise RuntimeError(f"{req.method} {req.path} answered what its declaration does not allow: {error}")


def _named(model: Any) -> str:
    return model.__name__


BEARER = "bearerAuth"
SESSION = "sessionCookie"
SIGNED_IN = [{BEARER: []}, {SESSION: []}]
ANYONE = [{}, *SIGNED_IN]  # anonymous works; a token or session is used when sent

spec = SpecTree(
    backend=_StrictJsonFlaskPlugin, before=_refuse_invalid, after=_refuse_bad_answers, validation_error_model=Error, mode="strict",
    naming_strategy=_named, nested_naming_strategy=lambda _parent, child: child,
    path="api/_spectree",  # spectree's own pages are not registered (see /api/docs); the path only has to differ
    title="Lessonbook API", version="1.0.0", annotations=False,
    description="The JSON API for mobile clients. Authenticate with `Authorization: Bearer <token>` (from POST "
                "/api/auth/token), or with the web session cookie plus an `X-CSRFToken` header on writes. Errors are "
                "always `{\"error\": {\"status\", \"message\", \"fields\"?}}`. Money is in integer minor units with a "
                "currency code beside it; times are ISO 8601 with offsets.",
    security_schemes=[
        SecurityScheme(name=BEARER, data=SecuritySchemeData(
            type="http", scheme="bearer", description="A token from /api/auth/token.")),
        SecurityScheme(name=SESSION, data=SecuritySchemeData(
            type="apiKey", field_in="cookie", name="session",
            description="The web session; writes also need the X-CSRFToken header.")),
    ])
