"""Roles are a StrEnum: stored as plain strings, equal to them when read back, and the one list forms offer."""
import json

from webapp.domain.roles import SELF_SERVICE_ROLES, STAFF_ROLES, Role, refund_cap_minor


def test_a_role_read_back_as_a_string_equals_its_member():
    assert "tutor" == Role.TUTOR and Role("parent") is Role.PARENT
    assert "admin" in tuple(Role) and "owner" not in tuple(Role)
    assert {Role.STUDENT: 1}["student"] == 1  # same hash as the string: dict and set lookups work too


def test_a_role_is_written_as_its_value():
    assert str(Role.ADMIN) == "admin" and f"{Role.STUDENT}" == "student"
    assert json.dumps({"role": Role.PARENT}) == '{"role": "parent"}'


def test_visitors_may_register_as_anyone_but_staff():
    assert set(SELF_SERVICE_ROLES) == set(Role) - set(STAFF_ROLES)


def test_only_admins_refund_without_a_cap_and_support_agents_up_to_theirs():
    assert refund_cap_minor(Role.ADMIN, 5000) is None
    assert refund_cap_minor(Role.SUPPORT, 5000) == 5000
    assert refund_cap_minor(Role.STUDENT, 5000) == 0 and refund_cap_minor(Role.TUTOR, 5000) == 0


def test_the_registration_form_offers_exactly_the_self_service_roles():
    from webapp.forms import RegisterForm
    assert [value for value, _ in RegisterForm.role.kwargs["choices"]] == list(SELF_SERVICE_ROLES)
