"""An anonymous visitor who picks a slot keeps it through log-in and sign-up; `next` only ever leads to a local path."""
import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests import factories
from tests.integration.test_registration import confirm_by_email
from tests.conftest import csrf_from
from webapp.services import availability

NEW_YORK = ZoneInfo("America/New_York")


def _slot(tutor, teach) -> datetime:
    now = datetime.now(UTC)
    start = now + timedelta(days=2)
    return availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now).slots[0]


def _booking_path(tutor, teach, slot, **extra) -> str:
    query = urlencode({"teach_id": teach.id, "duration": 60, "lesson_type": "online",
                       "start": slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **extra})
    return f"/tutors/{tutor.id}/book?{query}"


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_picking_a_slot_while_logged_out_asks_to_log_in_and_says_which_slot_and_tutor(client):
    tutor, teach = factories.tutor(name="Ana Lopez")
    slot = _slot(tutor, teach)
    path = _booking_path(tutor, teach, slot, tz="America/New_York")

    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == [path]

    page = _text(client.get(response.headers["Location"]))
    local = slot.astimezone(NEW_YORK)
    assert (f"Log in or create an account to book {local:%H:%M} on {local:%a} {local.day} {local:%b} with Ana Lopez"
            in page)
    # "Create an account" keeps the way back to the booking form.
    register = re.search(r'href="(/register\?next=[^"]+)"', page)
    assert register and parse_qs(urlsplit(register.group(1)).query)["next"] == [path]


def test_the_reason_follows_the_viewers_twelve_hour_clock(client):
    tutor, teach = factories.tutor(name="Ana Lopez", weekly=[(d, "13:00", "15:00") for d in range(7)])
    slot = _slot(tutor, teach)
    path = _booking_path(tutor, teach, slot, tz="Europe/London", clock="12")
    page = _text(client.get("/login?" + urlencode({"next": path})))
    local = slot.astimezone(ZoneInfo("Europe/London"))
    assert f"to book {local.hour - 12}:{local:%M}pm on {local:%a} {local.day} {local:%b} with Ana Lopez" in page


def test_signing_up_from_a_picked_slot_lands_on_the_booking_form_for_that_slot(client):
    tutor, teach = factories.tutor(name="Ana Lopez")
    slot = _slot(tutor, teach)
    path = _booking_path(tutor, teach, slot, tz="America/New_York")
    register_url = "/register?" + urlencode({"next": path})
    page = client.get(register_url).get_data(as_text=True)
    assert "Create an account to book" in html.unescape(page)
    response = client.post(register_url, data={
        "csrf_token": csrf_from(page), "name": "Nora New", "email": "nora@example.com",
        "password": "a-long-password", "role": "student", "timezone": "America/New_York"})
    assert response.status_code == 200  # "check your email": the emailed link makes the account
    response = confirm_by_email(client, "nora@example.com")
    assert response.status_code == 303 and response.headers["Location"] == path

    form = _text(client.get(path))
    assert "Book a lesson with Ana Lopez" in form
    assert slot.astimezone(NEW_YORK).strftime("%a %d %b %Y, %H:%M") + " (America/New_York)" in form


def test_logging_in_from_a_picked_slot_returns_to_the_booking_form(client):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    path = _booking_path(tutor, teach, _slot(tutor, teach))
    login_url = "/login?" + urlencode({"next": path})
    page = client.get(login_url).get_data(as_text=True)
    response = client.post(login_url, data={"csrf_token": csrf_from(page), "email": student.email,
                                            "password": factories.PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == path


def test_a_tutor_signing_up_from_a_slot_link_goes_to_their_own_setup_not_a_form_they_cannot_use(client):
    tutor, teach = factories.tutor()
    path = _booking_path(tutor, teach, _slot(tutor, teach))
    register_url = "/register?" + urlencode({"next": path})
    page = client.get(register_url).get_data(as_text=True)
    response = client.post(register_url, data={
        "csrf_token": csrf_from(page), "name": "Tom Tutor", "email": "tom@example.com",
        "password": "a-long-password", "role": "tutor", "timezone": "Europe/London"})
    assert response.status_code == 200
    response = confirm_by_email(client, "tom@example.com")
    # Their own dashboard, which says what to set up while an admin approves them (not the student's booking form).
    assert response.status_code == 302 and response.headers["Location"].endswith("/tutor/")


@pytest.mark.parametrize("target", [
    "https://evil.example/phish", "//evil.example/phish", "/\\evil.example/phish", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/\n//evil.example", "/\t/evil.example", "http:/evil.example",
])
def test_next_that_is_not_a_local_path_is_ignored_after_log_in_and_sign_up(client, target):
    student = factories.user("student")
    login_url = "/login?next=" + quote(target, safe="")
    page = client.get(login_url)
    assert page.status_code == 200 and "evil.example" not in page.get_data(as_text=True).split('<main id="main"')[1]
    response = client.post(login_url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "email": student.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")
    assert "evil" not in response.headers["Location"]

    client.post("/logout", data={"csrf_token": csrf_from(client.get("/tutors").get_data(as_text=True))})
    register_url = "/register?next=" + quote(target, safe="")
    page = client.get(register_url).get_data(as_text=True)
    email = f"eve{abs(hash(target))}@example.com"
    response = client.post(register_url, data={
        "csrf_token": csrf_from(page), "name": "Eve", "email": email,
        "password": "a-long-password", "role": "student", "timezone": "Europe/London"})
    assert response.status_code == 200
    response = confirm_by_email(client, email)
    assert response.status_code in (302, 303) and "evil" not in response.headers["Location"]
