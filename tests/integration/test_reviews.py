"""Reviews: the learner's side rates a tutor on every criterion after a lesson; the profile summary is cached until the
end of the day and refreshed by a new review; experience ratings; criteria managed by admins."""
from __future__ import annotations

import html
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_for, csrf_from, login
from webapp.adapters.queue import get_redis
from webapp.extensions import db
from webapp.models import Lesson, TutorRatingCriteria, TutorReview, TutorReviewRating
from webapp.services import bookings, reviews
from webapp.services.errors import Conflict, ValidationError

HX = {"HX-Request": "true"}


def words(response) -> str:
    """The response body as a person reads it (HTML entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def criteria(app):
    """Two active criteria, added by an admin, and one retired one."""
    admin = factories.user("admin")
    knowledge = reviews.add_criterion(admin, "Knowledge", 1)
    clarity = reviews.add_criterion(admin, "Clarity", 2)
    retired = reviews.add_criterion(admin, "Punctuality", 3)
    reviews.update_criterion(admin, retired.id, "Punctuality", 3, active=False)
    return knowledge, clarity


def post_review(client, lesson_id: int, ratings: dict, comment: str = "", follow_redirects: bool = False):
    data = {f"rating-{cid}": value for cid, value in ratings.items()}
    data.update(comment=comment, csrf_token=csrf_for(client))
    return client.post(f"/lessons/{lesson_id}/review", data=data, follow_redirects=follow_redirects)


def _reviews() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(TutorReview))


# --- leaving a review ----------------------------------------------------------------------------------------------

def test_the_student_reviews_after_the_lesson_and_the_profile_summary_changes(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    tutor, student = lesson.tutor, lesson.students[0]
    login(client, student.email, factories.PASSWORD)
    before = words(client.get(f"/tutors/{tutor.id}"))
    assert "No reviews yet." in before

    detail = words(client.get(f"/bookings/{lesson.booking.id}"))
    assert "Leave a review" in detail and f"/lessons/{lesson.id}/review" in detail
    form = words(client.get(f"/lessons/{lesson.id}/review"))
    assert "Knowledge" in form and "Clarity" in form and "Punctuality" not in form
    response = post_review(client, lesson.id, {knowledge.id: 5, clarity.id: 4}, "Clear and patient.")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/lessons/{lesson.id}/review")
    done = words(client.get(f"/lessons/{lesson.id}/review"))
    assert "Your review" in done and "Clear and patient." in done and 'id="review-form"' not in done
    assert "Leave a review" not in words(client.get(f"/bookings/{lesson.booking.id}"))

    profile = words(client.get(f"/tutors/{tutor.id}"))
    assert "4.5 out of 5 · 1 review" in profile
    assert "Knowledge</th><td>5.0 / 5" in profile and "Clarity</th><td>4.0 / 5" in profile

    # A second lesson, reviewed by someone else: the averages move at once.
    second = factories.finished_lesson(tutor, ended_ago=timedelta(days=3))
    other = app.test_client()
    login(other, second.students[0].email, factories.PASSWORD)
    assert post_review(other, second.id, {knowledge.id: 3, clarity.id: 2}).status_code == 303
    profile = words(client.get(f"/tutors/{tutor.id}"))
    assert "3.5 out of 5 · 2 reviews" in profile
    assert "Knowledge</th><td>4.0 / 5" in profile and "Clarity</th><td>3.0 / 5" in profile


def test_the_review_comment_is_shown_on_the_profile_and_to_the_tutor(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    tutor, student = lesson.tutor, lesson.students[0]
    login(client, student.email, factories.PASSWORD)
    assert post_review(client, lesson.id, {knowledge.id: 5, clarity.id: 4}, "Clear & patient.").status_code == 303
    profile = client.get(f"/tutors/{tutor.id}").get_data(as_text=True)
    assert "Clear &amp; patient." in profile  # escaped, and shown
    assert f"— {student.name.split(' ')[0]}, {datetime.now(UTC).date().isoformat()} · 4.5 / 5" in words(
        client.get(f"/tutors/{tutor.id}"))
    tutor_view = app.test_client()
    login(tutor_view, tutor.email, factories.PASSWORD)
    detail = words(tutor_view.get(f"/bookings/{lesson.booking.id}"))
    assert "Reviews of this lesson" in detail and "Clear & patient." in detail


def test_the_parent_reviews_their_childs_lesson(app, client, criteria):
    knowledge, clarity = criteria
    parent = factories.user("parent")
    lesson = factories.finished_lesson(for_child=factories.child(parent, "Robin"))
    login(client, parent.email, factories.PASSWORD)
    assert post_review(client, lesson.id, {knowledge.id: 4, clarity.id: 4}).status_code == 303
    review = db.session.scalar(select(TutorReview))
    assert (review.reviewer_id, review.tutor_id, review.lesson_id) == (parent.id, lesson.tutor_id, lesson.id)
    assert sorted(r.rating for r in review.ratings) == [4, 4]


def test_only_the_learners_side_may_review(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    ratings = {knowledge.id: 5, clarity.id: 5}
    login(client, lesson.tutor.email, factories.PASSWORD)
    assert client.get(f"/lessons/{lesson.id}/review").status_code == 403
    response = post_review(client, lesson.id, ratings)
    assert response.status_code == 403 and "Only the student, or the parent" in words(response)
    login(client, factories.user("admin").email, factories.PASSWORD)
    assert post_review(client, lesson.id, ratings).status_code == 403
    login(client, factories.user("student").email, factories.PASSWORD)
    assert post_review(client, lesson.id, ratings).status_code == 404
    assert _reviews() == 0


def test_no_review_before_the_lesson_has_taken_place(app, client, criteria):
    knowledge, clarity = criteria
    tutor, teach = factories.tutor()
    student = factories.user("student")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    upcoming = bookings.request_booking(student, bookings.BookingRequest(tutor.id, teach.id, start, 60)).lesson_id
    unpaid = factories.finished_lesson(tutor, teach, booker=student, paid=False)
    login(client, student.email, factories.PASSWORD)
    page = words(client.get(f"/lessons/{upcoming}/review"))
    assert "This lesson has not finished yet." in page and 'id="review-form"' not in page
    response = post_review(client, upcoming, {knowledge.id: 5, clarity.id: 5})
    assert response.status_code == 422 and "once it has taken place" in words(response)
    assert post_review(client, unpaid.id, {knowledge.id: 5, clarity.id: 5}).status_code == 422
    assert _reviews() == 0


def test_one_review_per_reviewer_per_lesson_and_a_double_submit_is_harmless(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    first = post_review(client, lesson.id, {knowledge.id: 5, clarity.id: 5})
    again = post_review(client, lesson.id, {knowledge.id: 1, clarity.id: 1}, follow_redirects=True)
    assert first.status_code == 303 and again.status_code == 200
    assert "You have already reviewed this lesson" in words(again)
    assert _reviews() == 1
    assert sorted(db.session.scalars(select(TutorReviewRating.rating))) == [5, 5]
    with pytest.raises(Conflict):
        reviews.submit_review(lesson.students[0], lesson.id, {knowledge.id: 2, clarity.id: 2}, "", datetime.now(UTC))


def test_simultaneous_submits_store_one_review(app, live_server, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    email, lesson_id = lesson.students[0].email, lesson.id
    form = {f"rating-{knowledge.id}": "4", f"rating-{clarity.id}": "3", "comment": "Twice?"}
    db.session.remove()
    racers = []
    for _ in range(5):
        s = requests.Session()
        page = s.get(f"{live_server.url}/login").text
        s.post(f"{live_server.url}/login", data={"email": email, "password": factories.PASSWORD,
                                                 "csrf_token": csrf_from(page)}, timeout=30)
        racers.append((s, csrf_from(s.get(f"{live_server.url}/lessons/{lesson_id}/review").text)))
    barrier = threading.Barrier(len(racers))
    statuses: list[int] = []

    def submit(session, token):
        barrier.wait()
        r = session.post(f"{live_server.url}/lessons/{lesson_id}/review", data={**form, "csrf_token": token},
                         allow_redirects=False, timeout=60)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=submit, args=racer) for racer in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert statuses == [303] * len(racers)  # no server error for the losers: they are told it already counted
    assert _reviews() == 1
    assert db.session.scalar(select(func.count()).select_from(TutorReviewRating)) == 2


@pytest.mark.parametrize("change, field, message", [
    ({"knowledge": None}, "rating-{knowledge}", "Rate Knowledge from 1 to 5."),
    ({"knowledge": 0}, "rating-{knowledge}", "Knowledge: choose a whole number from 1 to 5."),
    ({"clarity": 6}, "rating-{clarity}", "Clarity: choose a whole number from 1 to 5."),
    ({"clarity": "great"}, "rating-{clarity}", "Clarity: choose a whole number from 1 to 5."),
    ({"clarity": "4.5"}, "rating-{clarity}", "Clarity: choose a whole number from 1 to 5."),
])
def test_every_active_criterion_needs_a_whole_rating_from_1_to_5(app, client, criteria, change, field, message):
    knowledge, clarity = criteria
    ids = {"knowledge": knowledge.id, "clarity": clarity.id}
    lesson = factories.finished_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    ratings = {knowledge.id: 4, clarity.id: 4}
    for name, value in change.items():
        ratings.pop(ids[name]) if value is None else ratings.update({ids[name]: value})
    response = post_review(client, lesson.id, ratings)
    assert response.status_code == 422 and message in words(response)
    assert "Please rate every criterion from 1 to 5." in words(response)
    with pytest.raises(ValidationError) as raised:
        reviews.submit_review(lesson.students[0], lesson.id, ratings, "", datetime.now(UTC))
    assert raised.value.fields[field.format(**ids)] == message
    assert _reviews() == 0


def test_a_comment_over_300_characters_is_refused_in_words(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    response = post_review(client, lesson.id, {knowledge.id: 5, clarity.id: 5}, "a" * 301)
    assert response.status_code == 422
    assert "The comment is 301 characters long; keep it to 300 or fewer." in words(response)
    assert 'maxlength="300"' in words(response)
    assert _reviews() == 0
    assert post_review(client, lesson.id, {knowledge.id: 5, clarity.id: 5}, "b" * 300).status_code == 303
    assert db.session.scalar(select(TutorReview.comment)) == "b" * 300


def test_reviews_wait_for_criteria(app, client):
    lesson = factories.finished_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    page = words(client.get(f"/lessons/{lesson.id}/review"))
    assert "no rating criteria have been set up" in page
    assert post_review(client, lesson.id, {}).status_code == 422


# --- the cached summary ---------------------------------------------------------------------------------------------

def test_the_profile_summary_is_cached_until_the_end_of_the_day_and_a_new_review_refreshes_it(app, client, criteria):
    knowledge, clarity = criteria
    first = factories.finished_lesson()
    tutor = first.tutor
    reviews.submit_review(first.students[0], first.id, {knowledge.id: 5, clarity.id: 5}, "", datetime.now(UTC))
    before_load = datetime.now(UTC)  # the cache entry is written after this instant, so it expires no later
    assert "5.0 out of 5 · 1 review" in words(client.get(f"/tutors/{tutor.id}"))

    redis = get_redis()
    key = reviews.summary_cache_key(tutor.id)
    ttl = redis.ttl(key)
    assert 0 < ttl <= reviews.seconds_until_end_of_day(before_load)
    assert '"count": 1' in redis.get(key).decode()

    # A review written behind the service's back is not seen: the second load is served from the cache.
    second = factories.finished_lesson(tutor, ended_ago=timedelta(days=3))
    hidden = TutorReview(lesson_id=second.id, tutor_id=tutor.id, reviewer_id=second.students[0].id, comment="")
    hidden.ratings = [TutorReviewRating(criteria_id=knowledge.id, rating=1), TutorReviewRating(criteria_id=clarity.id,
                                                                                              rating=1)]
    db.session.add(hidden)
    db.session.commit()
    assert "5.0 out of 5 · 1 review" in words(client.get(f"/tutors/{tutor.id}"))

    # A review through the service invalidates the tutor's summary at once.
    third = factories.finished_lesson(tutor, ended_ago=timedelta(days=4))
    reviews.submit_review(third.students[0], third.id, {knowledge.id: 3, clarity.id: 3}, "", datetime.now(UTC))
    assert reviews.summary_cache_key(tutor.id) != key
    assert "3.0 out of 5 · 3 reviews" in words(client.get(f"/tutors/{tutor.id}"))


def test_another_tutors_review_leaves_this_summary_cached(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    client.get(f"/tutors/{lesson.tutor_id}")
    key = reviews.summary_cache_key(lesson.tutor_id)
    other = factories.finished_lesson(ended_ago=timedelta(days=3))
    reviews.submit_review(other.students[0], other.id, {knowledge.id: 2, clarity.id: 2}, "", datetime.now(UTC))
    assert reviews.summary_cache_key(lesson.tutor_id) == key and get_redis().exists(key)


def test_retiring_a_criterion_refreshes_every_summary(app, client, criteria):
    knowledge, clarity = criteria
    lesson = factories.finished_lesson()
    reviews.submit_review(lesson.students[0], lesson.id, {knowledge.id: 5, clarity.id: 3}, "", datetime.now(UTC))
    assert "Clarity</th>" in words(client.get(f"/tutors/{lesson.tutor_id}"))
    reviews.update_criterion(factories.user("admin"), clarity.id, "Clarity", 2, active=False)
    profile = words(client.get(f"/tutors/{lesson.tutor_id}"))
    assert "Clarity</th>" not in profile and "5.0 out of 5 · 1 review" in profile


def test_the_end_of_the_day_is_midnight_utc():
    assert reviews.seconds_until_end_of_day(datetime(2030, 3, 1, 23, 59, 30, tzinfo=UTC)) == 30
    assert reviews.seconds_until_end_of_day(datetime(2030, 3, 1, 0, 0, tzinfo=UTC)) == 86400
    late_in_new_york = datetime(2030, 3, 1, 20, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo(
        "America/New_York"))
    assert reviews.seconds_until_end_of_day(late_in_new_york) == 4 * 3600


# --- experience rating ------------------------------------------------------------------------------------------------

def test_the_student_rates_the_experience_from_1_to_5(app, client):
    lesson = factories.finished_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    detail = words(client.get(f"/bookings/{lesson.booking.id}"))
    assert 'id="experience-rating"' in detail and "How was the lesson overall?" in detail
    response = client.post(f"/lessons/{lesson.id}/experience", data={"experience_rating": "4",
                                                                      "csrf_token": csrf_for(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/bookings/{lesson.booking.id}")
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).experience_rating == 4
    swapped = client.post(f"/lessons/{lesson.id}/experience", data={"experience_rating": "5"},
                          headers={**HX, "X-CSRFToken": csrf_for(client)})
    body = words(swapped)
    assert swapped.status_code == 200 and body.lstrip().startswith('<div id="experience-rating">')
    assert "Saved: 5 out of 5." in body and "<html" not in body
    for bad in ("0", "6", "4.5", "great", ""):
        refused = client.post(f"/lessons/{lesson.id}/experience", data={"experience_rating": bad},
                              headers={**HX, "X-CSRFToken": csrf_for(client)})
        assert refused.status_code == 422 and "Rate the lesson from 1 to 5." in words(refused)
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).experience_rating == 5


def test_only_the_learners_side_rates_the_experience_and_only_after_the_lesson(app, client):
    parent = factories.user("parent")
    lesson = factories.finished_lesson(for_child=factories.child(parent))
    login(client, lesson.tutor.email, factories.PASSWORD)
    refused = client.post(f"/lessons/{lesson.id}/experience", data={"experience_rating": "5",
                                                                     "csrf_token": csrf_for(client)})
    assert refused.status_code == 403 and "rates its experience" in words(refused)
    assert 'id="experience-rating"' not in words(client.get(f"/bookings/{lesson.booking.id}"))
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.post(f"/lessons/{lesson.id}/experience", data={"experience_rating": "5",
                                                                 "csrf_token": csrf_for(client)}).status_code == 404
    login(client, parent.email, factories.PASSWORD)
    assert client.post(f"/lessons/{lesson.id}/experience", data={"experience_rating": "3",
                                                                 "csrf_token": csrf_for(client)}).status_code == 303
    tutor, teach = factories.tutor()
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    upcoming = bookings.request_booking(parent, bookings.BookingRequest(tutor.id, teach.id, start, 60,
                                                                        child_id=lesson.children[0].id))
    early = client.post(f"/lessons/{upcoming.lesson_id}/experience", data={"experience_rating": "5",
                                                                           "csrf_token": csrf_for(client)},
                        follow_redirects=True)
    assert "You can rate a lesson once it has taken place." in words(early)
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).experience_rating == 3
    assert db.session.get(Lesson, upcoming.lesson_id).experience_rating is None


# --- criteria (admins) ------------------------------------------------------------------------------------------------

def test_admins_manage_the_rating_criteria(app, client):
    login(client, factories.user("admin").email, factories.PASSWORD)
    assert "No criteria yet" in words(client.get("/admin/rating-criteria"))
    added = client.post("/admin/rating-criteria", data={"action": "add", "name": "  Subject   knowledge ",
                                                         "position": "1", "csrf_token": csrf_for(client)})
    assert added.status_code == 303
    criterion = db.session.scalar(select(TutorRatingCriteria))
    assert (criterion.name, criterion.position, criterion.active) == ("Subject knowledge", 1, True)
    duplicate = client.post("/admin/rating-criteria", data={"action": "add", "name": "subject KNOWLEDGE",
                                                            "csrf_token": csrf_for(client)})
    assert duplicate.status_code == 422 and "There is already a criterion called" in words(duplicate)
    blank = client.post("/admin/rating-criteria", data={"action": "add", "name": " ", "csrf_token": csrf_for(client)})
    assert blank.status_code == 422 and "Give the criterion a name." in words(blank)
    off = client.post("/admin/rating-criteria", data={"action": "update", "criteria_id": str(criterion.id),
                                                      "name": "Knowledge", "position": "2", "active": "0",
                                                      "csrf_token": csrf_for(client)})
    assert off.status_code == 303
    db.session.rollback()
    criterion = db.session.get(TutorRatingCriteria, criterion.id)
    assert (criterion.name, criterion.position, criterion.active) == ("Knowledge", 2, False)
    assert reviews.active_criteria() == []


def test_only_admins_manage_criteria(app, client):
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.get("/admin/rating-criteria").status_code == 403
    assert client.post("/admin/rating-criteria", data={"action": "add", "name": "Sneaky",
                                                       "csrf_token": csrf_for(client)}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(TutorRatingCriteria)) == 0
