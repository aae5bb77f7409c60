"""Found walking Lessonbook as a newcomer (sign-up, booking across zones, the lesson's life): each test names what a
user saw go wrong."""
from __future__ import annotations

from tests.integration.test_registration import _sign_up, confirm_by_email, emails_to
from webapp.services import outbox


def test_an_email_that_shows_no_times_does_not_end_with_an_empty_times_are_in_line(app, client):
    # The sign-up email ended "Times are in . — Lessonbook": it names no zone because it shows no time.
    _sign_up(client, "zed@example.com")
    (message,) = emails_to("zed@example.com", "confirm_registration")
    _, text, html = outbox.render_email(message.template, message.context)
    assert "Times are in" not in html and "Times are in" not in text
    assert "— Lessonbook" in html


def test_an_email_that_shows_times_names_their_zone(app):
    _, _, html = outbox.render_email("password_reset", {"name": "Zed", "url": "http://x/reset/t",
                                                        "zone": "Asia/Kolkata"})
    assert "Times are in Asia/Kolkata. — Lessonbook" in html


def test_a_new_tutor_lands_where_their_application_is_explained(app, client):
    # A tutor who followed the sign-up link landed on the availability editor, which never says that nobody can find
    # or book them until an admin approves: the dashboard's "waiting for approval" list is where they start.
    _sign_up(client, "tina@example.com", role="tutor")
    done = confirm_by_email(client, "tina@example.com")
    assert done.status_code == 302 and done.headers["Location"].endswith("/tutor/")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Welcome to Lessonbook, Zed" in page and "Your application is waiting for approval" in page


def test_a_tutors_rate_out_of_range_is_refused_in_the_tutors_words_not_the_apis(app, client):
    # The subjects page headed the error "Please correct the teach records.": the API's name for its rows.
    from tests import factories
    from tests.conftest import csrf_from, login
    tutor = factories.user("tutor")
    login(client, tutor.email, factories.PASSWORD)
    token = csrf_from(client.get("/tutor/teaches").get_data(as_text=True))
    page = client.post("/tutor/teaches", data={"csrf_token": token, "subject_id": factories.subject().id,
                                               "level_id": factories.level().id, "exam_board_id": 0,
                                               "hourly_rate": "0", "currency": "GBP", "online": "y"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "teach record" not in html
    assert "Please correct the subjects and prices." in html and "Hourly rate must be between" in html


def test_a_subject_taught_only_in_person_says_so_with_a_capital(app, client):
    # The "Where" cell read "in person" when it stood alone (and "Online, in person" beside online).
    from tests import factories
    from webapp.services import catalogue
    tutor, _ = factories.tutor()
    catalogue.replace_teaches(tutor, [{"subject_id": factories.subject().id, "level_id": factories.level().id,
                                       "hourly_rate_minor": 4000, "currency": "GBP", "online": False,
                                       "in_person": True, "max_travel_km": 5}])
    html = client.get(f"/tutors/{tutor.id}").get_data(as_text=True)
    assert '<td data-label="Where">In person (up to 5 km)</td>' in html
