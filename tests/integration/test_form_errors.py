"""Forms say everything that is wrong at once: each field's errors beside it (aria-describedby, aria-invalid) and a
summary at the top, for WTForms forms and for the field dicts of a service's ValidationError."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_for, login
from webapp.extensions import db
from webapp.models import Lesson, TutorReview
from webapp.services import availability, reviews

HX = {"HX-Request": "true"}


def words(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _described(page: str, field_id: str) -> str:
    """The text of the error element the field with `field_id` points at."""
    tag = re.search(rf'<[^>]*\bid="{re.escape(field_id)}"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in tag, tag
    error_id = next(i for i in re.search(r'aria-describedby="([^"]*)"', tag).group(1).split() if i.endswith("-error"))
    return re.sub(r"<[^>]+>", " ", re.search(rf'id="{error_id}"[^>]*>(.*?)</span>', page, re.S).group(1)).strip()


def test_the_booking_form_shows_a_missing_child_and_a_missing_street_together(app, client):
    tutor, teach = factories.tutor(online=True, in_person=True)
    parent = factories.user("parent")
    factories.child(parent, "Robin")
    login(client, parent.email, factories.PASSWORD)
    now = datetime.now(UTC)
    start = availability.find_slots(availability.SlotRequest(
        tutor.id, teach.id, now + timedelta(days=2), now + timedelta(days=3), 60, True), now).slots[0]
    response = client.post(f"/tutors/{tutor.id}/book", data={
        "csrf_token": csrf_for(client), "teach_id": teach.id, "start": start.isoformat(), "duration": 60,
        "lesson_type": "in_person", "postcode": "NW1 6XE"})
    page = words(response)
    assert response.status_code == 422
    assert "There are 2 problems" in page
    assert _described(page, "line1") == "Give the street and number where the lesson takes place."
    assert 'id="child_id"' in page and "Choose who the lesson is for." in page
    assert 'href="#line1"' in page and 'href="#child_id"' in page
    assert 'checked' not in re.search(r'<fieldset[^>]*id="child_id".*?</fieldset>', page, re.S).group(0)
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 0


def test_a_services_message_without_a_matching_field_still_reaches_the_summary(app, client):
    tutor, _ = factories.tutor(weekly=[(0, "09:00", "12:00")])
    login(client, tutor.email, factories.PASSWORD)
    response = client.post("/tutor/availability/windows", headers={**HX, "X-CSRFToken": csrf_for(client)},
                           data={"weekday": "0", "start": "10:00", "end": "13:00"})
    page = words(response)
    assert response.status_code == 422
    assert _described(page, "window-start") == "That overlaps your 09:00–12:00 window on the same day."
    assert 'id="window-error-summary"' in page and 'href="#window-start"' in page


def test_the_review_form_shows_every_missing_rating_beside_its_group_and_in_the_summary(app, client):
    admin = factories.user("admin")
    knowledge = reviews.add_criterion(admin, "Knowledge", 1)
    clarity = reviews.add_criterion(admin, "Clarity", 2)
    lesson = factories.finished_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    response = client.post(f"/lessons/{lesson.id}/review", data={"csrf_token": csrf_for(client), "comment": "ok"})
    page = words(response)
    assert response.status_code == 422
    for criterion in (knowledge, clarity):
        field = f"rating-{criterion.id}"
        assert re.search(rf'id="{field}" aria-describedby="{field}-error" aria-invalid="true"', page)
        assert f'id="{field}-error">Rate {criterion.name} from 1 to 5.' in page
        assert f'href="#{field}"' in page
    assert db.session.scalar(select(func.count()).select_from(TutorReview)) == 0


def test_the_admin_offer_form_names_every_bad_field_at_once(app, client):
    login(client, factories.user("admin").email, factories.PASSWORD)
    response = client.post("/admin/coupons", data={
        "csrf_token": csrf_for(client), "code": "SPRING", "usage": "ONE_TIME_USE",
        "discount_type": "DISCOUNT_TYPE_PERCENT", "percent": "ten", "currency": "GBP", "valid_from": "tomorrow",
        "max_total_uses": "lots"})
    page = words(response)
    assert response.status_code == 422 and "Please correct the offer below." in page
    assert _described(page, "percent") == "Percentages look like 12.5, not 'ten'."
    assert _described(page, "valid_from") == "Dates look like 2027-03-28, not 'tomorrow'."
    assert _described(page, "max_total_uses") == "Use a whole number such as 100, not 'lots'."
    assert 'aria-invalid' not in re.search(r'<input id="code"[^>]*>', page).group(0)


def test_the_admin_commission_form_names_every_bad_rate_at_once(app, client):
    login(client, factories.user("admin").email, factories.PASSWORD)
    response = client.post("/admin/commissions", data={
        "csrf_token": csrf_for(client), "commission_fee_bp": "lots", "service_fee_bp": "5", "payout_fee_bp": "1.234",
        "payout_amount_fee_minor": "0.25", "account_management_amount_fee_minor": "two pounds"})
    page = words(response)
    assert response.status_code == 422
    assert _described(page, "commission_fee_bp") == "Percentages look like 12.5, not 'lots'."
    assert _described(page, "payout_fee_bp") == "Percentages look like 12.5, not '1.234'."
    assert "account_management_amount_fee_minor-error" in page
    assert 'href="#commission_fee_bp"' in page and 'href="#payout_fee_bp"' in page
