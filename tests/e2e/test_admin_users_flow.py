"""An admin suspends a user from the user's page; the user is logged out at once and cannot log in again."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import PASSWORD, log_in
from webapp.extensions import db
from webapp.models import AuditEntry

pytestmark = pytest.mark.e2e


def test_an_admin_suspends_a_user_who_then_cannot_log_in(browser_page, live_server):
    admin_email = factories.user("admin").email
    student = factories.user("student", name="Morgan Reed")
    student_email = student.email
    db.session.remove()
    phone = browser_page()
    log_in(phone, student_email)

    admin = browser_page()
    log_in(admin, admin_email)
    admin.get_by_role("navigation").get_by_role("link", name="Users").click()
    admin.get_by_label("Name or email").fill("morgan")
    expect(admin.locator("#users")).to_contain_text(student_email)
    admin.get_by_role("link", name="Morgan Reed").click()
    admin.get_by_label("Reason for suspending").fill("Abusive messages to tutors")
    admin.locator("#suspend-confirm summary").click()
    admin.get_by_role("button", name="Yes, suspend").click()
    expect(admin.get_by_text("Suspended: every log-in and app token of the account has ended.")).to_be_visible()
    expect(admin.locator("#suspended-note")).to_contain_text("Abusive messages to tutors")

    phone.reload()
    expect(phone.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    phone.goto("/login")
    phone.get_by_label("Email").fill(student_email)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("alert")).to_contain_text("This account is suspended: Abusive messages to tutors.")
    expect(phone.get_by_role("button", name="Log out")).to_have_count(0)

    admin.get_by_role("link", name="Audit log").click()
    expect(admin.locator("#audit")).to_contain_text("Suspended Morgan Reed")
    assert db.session.query(AuditEntry).filter_by(action="user.suspend").count() == 1


def test_a_waiting_tutor_sees_the_application_state_and_then_the_admins_refusal(browser_page, live_server):
    from webapp.models import TutorProfile
    tutor, _ = factories.tutor(name="Nia New")
    db.session.get(TutorProfile, tutor.id).approval = "pending"  # as a tutor who signed up on the site
    db.session.commit()
    tutor_email, admin_email = tutor.email, factories.user("admin").email
    db.session.remove()

    teacher = browser_page()
    log_in(teacher, tutor_email)
    teacher.goto("/tutor/")
    status = teacher.locator("#approval-status")
    expect(status.get_by_role("heading")).to_have_text("Your application is waiting for approval")
    expect(status.get_by_role("link", name="Set your weekly hours")).to_be_visible()

    admin = browser_page()
    log_in(admin, admin_email)
    admin.goto("/admin/tutors")
    admin.get_by_label("Reason for refusing (emailed)").fill("Please add a teaching qualification")
    admin.get_by_role("button", name="Refuse").click()
    expect(admin.get_by_text("Refused: the tutor was told why by email.")).to_be_visible()

    teacher.reload()
    expect(status.get_by_role("heading")).to_have_text("Your application was not approved")
    expect(teacher.locator("#approval-reason")).to_have_text("Please add a teaching qualification")
    expect(status.get_by_role("link", name="open a support ticket")).to_have_attribute("href", "/support")
    assert db.session.query(AuditEntry).filter_by(action="tutor.refuse").count() == 1
