"""Admin user management: search, suspension (ends log-ins and tokens, blocks log-in and booking), support agents'
limits, and the append-only audit log written with each action."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import book, now
from tests.integration.test_refunds_and_payouts import paid_booking
from webapp.extensions import db
from webapp.models import ApiToken, AuditEntry, LoginSession
from webapp.services import accounts, admin_users, audit, availability, bookings, cancellations
from webapp.services.bookings import BookingRequest
from webapp.services.errors import AccountSuspended, Forbidden, NotFound, ValidationError


def _post(client, path: str, data: dict | None = None):
    page = client.get("/admin/users/").get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(page), **(data or {})})


def _logged_in(client) -> bool:
    return client.get("/settings").status_code == 200


def _admin_client(app):
    admin = factories.user("admin")
    c = app.test_client()
    login(c, admin.email, factories.PASSWORD)
    return admin, c


def test_admins_find_users_by_words_role_and_status(app, client):
    admin, staff = _admin_client(app)
    ana = factories.user("student", name="Ana Lima", email="ana@example.com")
    factories.user("tutor", name="Bob Tutor")
    page = staff.get("/admin/users/?q=lima").get_data(as_text=True)
    assert "Ana Lima" in page and "Bob Tutor" not in page
    assert "Bob Tutor" in staff.get("/admin/users/?role=tutor").get_data(as_text=True)
    admin_users.suspend(admin, ana.id, "Chargebacks", now())
    suspended = staff.get("/admin/users/?status=suspended", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert suspended.startswith('<div id="users-results">') and "Ana Lima" in suspended and "Bob Tutor" not in suspended
    assert staff.get("/admin/users/?role=wizard").status_code == 200  # a typed-in role is a message, not a 500
    assert "Pick a role" in staff.get("/admin/users/?role=wizard").get_data(as_text=True)


def test_only_staff_see_the_user_pages(app, client):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    assert client.get("/admin/users/").status_code == 403
    assert client.get(f"/admin/users/{student.id}").status_code == 403
    with pytest.raises(NotFound):
        admin_users.user_overview(student, student.id)


def test_suspending_ends_every_log_in_and_token_and_blocks_log_in_and_booking(app, client):
    admin, staff = _admin_client(app)
    tutor, teach = factories.tutor()
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    phone = app.test_client()
    login(phone, student.email, factories.PASSWORD)
    raw, _ = accounts.issue_api_token(student)
    assert client.get("/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200

    response = _post(staff, f"/admin/users/{student.id}/suspend", {"reason": "Abusive messages"})
    assert response.status_code == 303
    assert not _logged_in(client) and not _logged_in(phone)
    assert app.test_client().get("/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(LoginSession).where(
        LoginSession.user_id == student.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == student.id)) == 0

    fresh = app.test_client()
    page = fresh.get("/login").get_data(as_text=True)
    refused = fresh.post("/login", data={"email": student.email, "password": factories.PASSWORD,
                                         "csrf_token": csrf_from(page)})
    assert refused.status_code == 403
    assert "This account is suspended: Abusive messages." in refused.get_data(as_text=True)
    assert not _logged_in(fresh)
    wrong = fresh.post("/login", data={"email": student.email, "password": "not-the-password",
                                       "csrf_token": csrf_from(page)})
    assert "suspended" not in wrong.get_data(as_text=True)  # said only to someone who knows the password
    api = fresh.post("/api/auth/token", json={"email": student.email, "password": factories.PASSWORD})
    assert api.status_code == 403 and "suspended" in api.get_json()["error"]["message"]

    db.session.expire_all()
    start = now() + timedelta(days=3)
    slot = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now()).slots[0]
    with pytest.raises(AccountSuspended):
        bookings.request_booking(db.session.get(type(student), student.id), BookingRequest(tutor.id, teach.id, slot, 60),
                                 now())

    assert _post(staff, f"/admin/users/{student.id}/reactivate", {"reason": "Apologised"}).status_code == 303
    login(fresh, student.email, factories.PASSWORD)
    assert _logged_in(fresh)


def test_suspension_needs_a_reason_and_an_admin(app, client):
    admin, staff = _admin_client(app)
    student = factories.user("student")
    support = factories.user("support")
    with pytest.raises(ValidationError):
        admin_users.suspend(admin, student.id, "   ", now())
    with pytest.raises(Forbidden):
        admin_users.suspend(support, student.id, "No", now())
    page = staff.get(f"/admin/users/{student.id}").get_data(as_text=True)
    no_reason = staff.post(f"/admin/users/{student.id}/suspend", data={"csrf_token": csrf_from(page), "reason": ""},
                           follow_redirects=True)
    assert "Give a reason" in no_reason.get_data(as_text=True)
    assert staff.post(f"/admin/users/{student.id}/suspend", data={"reason": "x"}).status_code == 400  # no CSRF
    assert db.session.get(type(student), student.id).suspended_at is None


def test_ending_sessions_logs_the_user_out_but_they_may_log_in_again(app, client):
    admin, staff = _admin_client(app)
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    assert _post(staff, f"/admin/users/{student.id}/sessions/end").status_code == 303
    assert not _logged_in(client)
    login(client, student.email, factories.PASSWORD)
    assert _logged_in(client)


def test_support_agents_see_users_and_bookings_but_not_commissions_or_coupons(app, client):
    support = factories.user("support")
    student = factories.user("student")
    booking = book(student=student)
    login(client, support.email, factories.PASSWORD)
    assert client.get("/admin/users/").status_code == 200
    assert student.name in client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    assert client.get(f"/bookings/{booking.id}").status_code == 200
    assert client.get("/admin/commissions").status_code == 403
    assert client.get("/admin/coupons").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    assert client.post(f"/admin/users/{student.id}/suspend",
                       data={"csrf_token": csrf_from(page), "reason": "x"}).status_code == 403


def test_support_agents_refund_up_to_the_configured_cap(app, client, stripe_world):
    app.config["SUPPORT_REFUND_CAP_MINOR"] = 1500
    try:
        booking = paid_booking(stripe_world, client)
        support = factories.user("support")
        with pytest.raises(Forbidden, match="up to £15.00"):
            cancellations.admin_refund(support, booking.id, 1501, "Late start", now())
        cancellations.admin_refund(support, booking.id, 1500, "Late start", now())
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "booking.refund"))
        assert entry.actor_id == support.id and entry.target_id == booking.id and "£15.00" in entry.summary
        assert (entry.before["refunded_minor"], entry.after["refunded_minor"]) == (0, 1500)
    finally:
        app.config["SUPPORT_REFUND_CAP_MINOR"] = 5000


def test_a_refund_form_sent_twice_is_one_refund_and_one_audit_entry(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    for _ in range(2):
        cancellations.admin_refund(admin, booking.id, 1000, "Goodwill", now(), request_key="form-key-123")
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_each_user_action_writes_an_audit_entry_with_before_and_after(app, client):
    admin, staff = _admin_client(app)
    student = factories.user("student", name="Cleo")
    _post(staff, f"/admin/users/{student.id}/suspend", {"reason": "Spam"})
    _post(staff, f"/admin/users/{student.id}/reactivate", {"reason": "Cleared"})
    _post(staff, f"/admin/users/{student.id}/sessions/end")
    entries = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [e.action for e in entries] == ["user.suspend", "user.reactivate", "user.end_sessions"]
    assert all(e.actor_id == admin.id and e.target_id == student.id for e in entries)
    assert (entries[0].before, entries[0].after) == ({"suspended": False}, {"suspended": True, "reason": "Spam"})
    log = staff.get("/admin/audit?q=cleo").get_data(as_text=True)
    assert "Suspended Cleo" in log and "Reactivated Cleo" in log
    only = staff.get("/admin/audit?action=user.reactivate").get_data(as_text=True)
    assert "Reactivated Cleo" in only and "Suspended Cleo" not in only


def test_a_failed_action_writes_no_audit_entry(app):
    admin = factories.user("admin")
    student = factories.user("student")
    admin_users.suspend(admin, student.id, "Spam", now())
    with pytest.raises(Exception):
        admin_users.suspend(admin, student.id, "Again", now())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_the_audit_log_cannot_be_changed_or_deleted(app):
    admin = factories.user("admin")
    student = factories.user("student")
    admin_users.suspend(admin, student.id, "Spam", now())
    assert not any(name in dir(audit) for name in ("update", "delete", "edit", "remove"))
    for statement in ("UPDATE audit_log SET summary = 'nothing happened'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    entry = db.session.scalar(select(AuditEntry))
    entry.summary = "rewritten through the ORM"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(AuditEntry.summary)).startswith("Suspended")


def test_emails_without_times_do_not_say_times_are_in_nothing(app):
    """The mail layout's time-zone line appears only when the email names a zone (a tutor refusal has no times)."""
    from webapp.models import OutboxMessage, TutorProfile
    from webapp.services import admin_tutors
    from webapp.services.outbox import render_email
    tutor, _ = factories.tutor()
    db.session.get(TutorProfile, tutor.id).approval = "pending"
    db.session.commit()
    admin_tutors.refuse(factories.user("admin"), tutor.id, "No certificate yet", now())
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "tutor_refused"))
    _, text_body, html = render_email(mail.template, mail.context)
    assert "No certificate yet" in html and "Times are in ." not in html and "Times are in" not in html


def test_the_audit_log_shows_before_and_after_as_written_not_as_escape_codes(app, client):
    """A reason with <b> or é reads as typed (escaped once for HTML), never as \\u003c or \\u00e9."""
    admin = factories.user("admin")
    student = factories.user("student", name="Renée Roux")
    admin_users.suspend(admin, student.id, "Chargebacks <b>twice</b> & café", now())
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Chargebacks &lt;b&gt;twice&lt;/b&gt; &amp; café" in page.split('id="audit"')[1]
    assert "\\u003c" not in page and "\\u00e9" not in page
