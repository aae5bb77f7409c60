"""Tutor approval: a tutor who signs up on the site is not listed or bookable until an admin approves them; a refusal
carries a reason by email; existing tutors (and those made by the CLI or demo data) are approved; each decision is
audited."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from, login
from webapp.extensions import db
from webapp.models import AuditEntry, OutboxMessage, TutorProfile, User
from webapp.services import accounts, admin_tutors, availability, catalogue
from webapp.services.errors import Forbidden, NotFound, ValidationError


def _signed_up_tutor() -> User:
    """A tutor who registered through the emailed link, with hours and a subject."""
    now = datetime.now(UTC)
    accounts.request_registration(email="newtutor@example.com", password="a-long-password", name="Nia New",
                                  role="tutor", timezone="Europe/London", now=now)
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "confirm_registration"))
    tutor = accounts.confirm_registration(mail.context["url"].rsplit("/", 1)[1], now)
    catalogue.replace_teaches(tutor, [{"subject_id": factories.subject().id, "level_id": factories.level().id,
                                       "hourly_rate_minor": 3000, "currency": "GBP", "online": True,
                                       "in_person": False}])
    availability.update_settings(tutor, {"weekly": [{"weekday": d, "start": "00:00", "end": "24:00"}
                                                    for d in range(7)],
                                         "min_notice_hours": 0, "horizon_days": 60, "travel_buffer_minutes": 0})
    return tutor


def _listed(tutor_id: int) -> bool:
    return any(c.tutor.id == tutor_id for c in catalogue.search_tutors(catalogue.TutorFilters()))


def test_a_tutor_who_signs_up_waits_for_approval_before_being_listed_or_booked(app, client):
    tutor = _signed_up_tutor()
    existing, _ = factories.tutor()
    assert db.session.get(TutorProfile, tutor.id).approval == "pending"
    assert not _listed(tutor.id) and _listed(existing.id)
    assert client.get(f"/tutors/{tutor.id}").status_code == 404
    with pytest.raises(NotFound):
        catalogue.get_tutor(tutor.id)

    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/tutors").get_data(as_text=True)
    assert "Nia New" in page and existing.name not in page and "No Connect account" in page
    response = client.post(f"/admin/tutors/{tutor.id}/approve", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    db.session.expire_all()
    assert _listed(tutor.id) and client.get(f"/tutors/{tutor.id}").status_code == 200
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "tutor_approved"))
    assert mail.to_address == tutor.email
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "tutor.approve"))
    assert (entry.before, entry.after, entry.actor_id) == ({"approval": "pending"}, {"approval": "approved"}, admin.id)


def test_a_refusal_needs_a_reason_and_the_tutor_receives_it(app, client):
    tutor = _signed_up_tutor()
    admin = factories.user("admin")
    with pytest.raises(ValidationError):
        admin_tutors.refuse(admin, tutor.id, " ", datetime.now(UTC))
    with pytest.raises(Forbidden):
        admin_tutors.refuse(factories.user("support"), tutor.id, "No", datetime.now(UTC))
    admin_tutors.refuse(admin, tutor.id, "Your profile lists no qualifications.", datetime.now(UTC))
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "tutor_refused"))
    assert mail.to_address == tutor.email and mail.context["reason"] == "Your profile lists no qualifications."
    assert not _listed(tutor.id)
    assert db.session.scalar(select(AuditEntry.action)) == "tutor.refuse"


def test_tutors_made_by_operators_are_approved(app):
    tutor, _ = factories.tutor()
    assert tutor.tutor_profile.approval == "approved" and _listed(tutor.id)


def test_a_suspended_tutor_is_neither_listed_nor_bookable(app):
    from webapp.services import admin_users
    tutor, teach = factories.tutor()
    admin_users.suspend(factories.user("admin"), tutor.id, "Complaints", datetime.now(UTC))
    assert not _listed(tutor.id)
    start = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(NotFound):
        availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                datetime.now(UTC))


def test_a_tutors_dashboard_says_where_the_application_stands_and_what_to_do_meanwhile(app, client):
    tutor = _signed_up_tutor()
    login(client, tutor.email, "a-long-password")
    page = client.get("/tutor/").get_data(as_text=True)
    assert "Your application is waiting for approval" in page and "not listed in the directory" in page
    for link in ("/tutor/profile", "/tutor/teaches", "/tutor/availability", "/tutor/payouts"):
        assert f'href="{link}"' in page, link

    admin = factories.user("admin")
    admin_tutors.refuse(admin, tutor.id, "No <b>teaching</b> qualification shown", datetime.now(UTC))
    page = client.get("/tutor/").get_data(as_text=True)
    assert "Your application was not approved" in page and "waiting for approval" not in page
    assert "No &lt;b&gt;teaching&lt;/b&gt; qualification shown" in page  # the admin's words, escaped
    assert 'href="/support"' in page

    admin_tutors.approve(admin, tutor.id, datetime.now(UTC))
    page = client.get("/tutor/").get_data(as_text=True)
    assert "Your profile is approved" in page and f'href="/tutors/{tutor.id}"' in page
    assert "not approved" not in page and "waiting for approval" not in page
