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


def test_lesson_emails_to_the_tutor_name_the_learner_and_a_childs_lesson_names_the_child(app, client):
    # The tutor's "Confirmed: ..." and "Your link to join ..." emails said "Mathematics with <the tutor's own name>";
    # and for a lesson a parent booked for a child, the tutor's room page said "with no student yet".
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from tests import factories
    from tests.conftest import login
    from webapp import jobs
    from webapp.extensions import db
    from webapp.models import Lesson, OutboxMessage
    from webapp.services import lesson_messages

    parent = factories.user("parent", name="Pat Parent")
    kid = factories.child(parent, name="Robin")
    tutor, teach = factories.tutor(name="Ana Lopez")
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    lesson = factories.lesson_at(start - timedelta(minutes=start.minute % 15), teacher=tutor, teach=teach,
                                 booker=parent, for_child=kid)
    lesson_id, tutor_email, parent_email = lesson.id, tutor.email, parent.email
    lesson_messages.tell_booked(db.session.get(Lesson, lesson_id))
    db.session.commit()
    jobs.sync_meeting(lesson_id)
    db.session.rollback()
    subjects = {}
    for message in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.template.in_(["lesson_booked", "meeting_link"]), OutboxMessage.channel == "email")):
        subjects[(message.to_address, message.template)] = outbox.render_email(message.template, message.context)[0]
    assert subjects[(tutor_email, "lesson_booked")].startswith("Confirmed: Mathematics with Robin on ")
    assert subjects[(tutor_email, "meeting_link")].startswith("Your link to join Mathematics with Robin on ")
    assert subjects[(parent_email, "lesson_booked")].startswith("Confirmed: Mathematics with Ana Lopez on ")
    assert subjects[(parent_email, "meeting_link")].startswith("Your link to join Mathematics with Ana Lopez on ")

    login(client, tutor_email, factories.PASSWORD)
    room = client.get(f"/lessons/{lesson_id}/room").get_data(as_text=True)
    assert "Mathematics with Robin</h1>" in room


def test_adding_the_same_child_again_is_refused_in_words_and_adds_no_second_one(app, client):
    # Walking it: Back and "Add child" again (or a refresh of the POST) listed "Kiran 😀" twice.
    from tests import factories
    from tests.conftest import csrf_from, login
    from webapp.extensions import db
    from webapp.models import Child
    parent = factories.user("parent")
    login(client, parent.email, factories.PASSWORD)
    token = csrf_from(client.get("/children").get_data(as_text=True))
    form = {"csrf_token": token, "name": "Kiran 😀", "year_level": "Year 9", "timezone": "Asia/Kolkata"}
    assert client.post("/children", data=form).status_code == 200
    again = client.post("/children", data={**form, "name": " kiran 😀 "})
    assert again.status_code == 422 and "You already added kiran 😀: it is on the list." in again.get_data(as_text=True)
    db.session.rollback()
    assert [c.name for c in db.session.query(Child).filter_by(parent_id=parent.id)] == ["Kiran 😀"]


def test_a_wrong_time_zone_is_named_in_the_same_answer_as_the_forms_other_mistakes(app, client):
    # Sign-up said only "Use at least 10 characters."; put right, it then said the zone was unknown. Settings too.
    from tests import factories
    from tests.conftest import csrf_from, login
    token = csrf_from(client.get("/register").get_data(as_text=True))
    page = client.post("/register", data={"csrf_token": token, "name": "Zed", "email": "zed@example.com",
                                          "password": "short", "role": "student", "timezone": "Mars/Olympus"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "There are 2 problems" in html
    assert "Use at least 10 characters." in html and "Unknown time zone: Mars/Olympus." in html

    user = factories.user("student")
    login(client, user.email, factories.PASSWORD)
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    page = client.post("/settings", data={"csrf_token": token, "name": " ", "timezone": "Europe/Londn"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "Name is missing" in html and "Unknown time zone: Europe/Londn." in html


def test_a_text_too_long_is_refused_with_the_limit_and_what_was_typed(app, client):
    # The profile said "Field cannot be longer than 5000 characters." (WTForms' words, naming no field or count).
    from tests import factories
    from tests.conftest import csrf_from, login
    tutor = factories.user("tutor")
    login(client, tutor.email, factories.PASSWORD)
    token = csrf_from(client.get("/tutor/profile").get_data(as_text=True))
    page = client.post("/tutor/profile", data={"csrf_token": token, "headline": "Maths", "bio": "b" * 5003})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "Field cannot be longer" not in html
    assert "About you: Up to 5,000 characters: this has 5,003." in html


def test_the_notes_page_names_the_learner_once_for_the_tutor(app, client):
    # The tutor read "Mathematics · GCSE with Sam, for Sam — ...".
    import re

    from tests import factories
    from tests.conftest import login
    lesson = factories.finished_lesson()
    tutor, student = lesson.tutor, lesson.students[0]
    login(client, tutor.email, factories.PASSWORD)
    html = " ".join(client.get(f"/lessons/{lesson.id}/notes").get_data(as_text=True).split())
    assert re.search(rf"with {re.escape(student.name)} — ", html) and f"for {student.name}" not in html
    login(client, student.email, factories.PASSWORD)
    html = " ".join(client.get(f"/lessons/{lesson.id}/notes").get_data(as_text=True).split())
    assert f"with {tutor.name}, for {student.name} — " in html


def test_the_booking_page_seen_by_its_tutor_names_the_student_and_leads_back_to_their_lessons(app, client):
    # The tutor read "Mathematics with <their own name>", their own time twice ("Tutor's time"), and "All my
    # bookings", a list tutors do not have.
    from datetime import UTC, datetime, timedelta

    from tests import factories
    from tests.conftest import login
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=4)
    lesson = factories.lesson_at(start - timedelta(minutes=start.minute % 15))
    tutor, student, booking_id = lesson.tutor, lesson.students[0], lesson.booking.id
    login(client, tutor.email, factories.PASSWORD)
    html = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert f"<h1>Mathematics with {student.name}</h1>" in html
    assert "Tutor's time" not in html
    assert '<a href="/tutor/">All my lessons</a>' in html and "All my bookings" not in html
    login(client, student.email, factories.PASSWORD)
    html = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert f"<h1>Mathematics with {tutor.name}</h1>" in html and "Tutor's time" in html
    assert '<a href="/bookings">All my bookings</a>' in html


def test_a_time_that_was_never_free_is_not_said_to_be_just_taken(app, client):
    # A booking link kept from elsewhere (09:07, off the 15-minute grid) answered "That slot was just taken.":
    # nobody took it; it is not one of the tutor's free times.
    from datetime import timedelta

    from tests import factories
    from tests.conftest import csrf_for, login
    from tests.integration.test_pages import _slot
    tutor, teach = factories.tutor()
    slot = _slot(tutor, teach) + timedelta(minutes=7)
    login(client, factories.user("student").email, factories.PASSWORD)
    response = client.post(f"/tutors/{tutor.id}/book", data={
        "teach_id": teach.id, "start": slot.isoformat(), "duration": 60, "lesson_type": "online",
        "csrf_token": csrf_for(client)})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "That time is not one of the tutor&#39;s free times." in page and "just taken" not in page


def test_a_bad_max_rate_in_the_directory_is_named_where_the_answer_shows(app, client):
    # The directory said only "Enter an amount like 42.50", under the filters, naming no field.
    page = client.get("/tutors?max_rate=40,5x")
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert '<p class="error-message" id="directory-error" role="alert">Max hourly rate: ' in html
    assert 'aria-describedby="directory-error"' in html


def test_the_tutors_lesson_list_shows_the_start_of_a_long_booking_note(app, client):
    # A 2,000-character note filled a phone's screen many times over in the list; the booking page has it whole.
    from datetime import UTC, datetime, timedelta

    from tests import factories
    from tests.conftest import login
    from webapp.extensions import db
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=4)
    lesson = factories.lesson_at(start - timedelta(minutes=start.minute % 15))
    lesson.booking.note = "Please cover " + "x" * 1990
    db.session.commit()
    login(client, lesson.tutor.email, factories.PASSWORD)
    listing = client.get("/tutor/").get_data(as_text=True)
    assert "Note: Please cover " + "x" * 184 + "..." in listing and "x" * 190 not in listing
    assert "x" * 1990 in client.get(f"/bookings/{lesson.booking.id}").get_data(as_text=True)
