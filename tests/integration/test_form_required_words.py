"""No form answers an empty required field with WTForms' generic "This field is required.": it names the field."""
from __future__ import annotations

import inspect

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from webapp import forms


def test_every_form_names_the_empty_field_in_words(app):
    checked = 0
    for _, form_class in inspect.getmembers(forms, inspect.isclass):
        if not issubclass(form_class, FlaskForm) or form_class is FlaskForm:
            continue
        with app.test_request_context(method="POST"):
            form = form_class(formdata=MultiDict(), meta={"csrf": False})
            for field in form:
                if getattr(field, "choices", ()) is None:
                    field.choices = []  # set by the view at run time
            form.validate()
            for name, errors in form.errors.items():
                assert "This field is required." not in errors, (form_class.__name__, name)
                checked += len(errors)
    assert checked > 10


def test_signing_up_with_no_name_says_the_name_is_missing(app, client):
    from tests.integration.test_registration import _sign_up
    page = _sign_up(client, "someone@example.com", name="").get_data(as_text=True)
    assert "Your name is missing: please fill it in." in page and "This field is required." not in page

