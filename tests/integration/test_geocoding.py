"""Addresses for in-person lessons: placed by a Nominatim-compatible geocoder when one is configured (called outside
any write transaction), kept without coordinates when none is (or it is down), and then an hour kept free around them.
"""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from tests import factories
from tests.conftest import csrf_for, login
from standins.geocoder import NominatimStandIn
from webapp.adapters.geocoder import GeocoderUnavailable, NominatimGeocoder, PostalAddress
from webapp.domain.travel import Coordinates
from webapp.extensions import db
from webapp.models import Booking, LessonAddress, TutorProfile
from webapp.services import availability, bookings
from webapp.services.bookings import Address, BookingRequest

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday
TEN = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}


@pytest.fixture
def stand_in():
    """The Nominatim stand-in on its own, for the adapter's tests (no app needed)."""
    server = NominatimStandIn()
    yield server
    server.close()


# --- the HTTP adapter against Nominatim's wire format ---------------------------------------------------------

def test_the_adapter_sends_a_structured_query_and_reads_the_first_places_lat_and_lon(stand_in):
    geocoder_ = NominatimGeocoder(stand_in.url, "Lessonbook-tests/1.0", timeout=5, country_codes="gb")
    found = geocoder_.locate(PostalAddress("221B Baker Street", "NW1 6XE", "London"))
    assert found == Coordinates(51.5237629, -0.1584743)
    sent = stand_in.requests[-1]
    assert sent["path"] == "/search"
    assert sent["params"] == {"format": "jsonv2", "limit": "1", "street": "221B Baker Street", "postalcode": "NW1 6XE",
                              "city": "London", "countrycodes": "gb"}
    assert sent["headers"]["User-Agent"] == "Lessonbook-tests/1.0"  # Nominatim's usage policy asks for one


def test_the_adapter_says_none_for_an_address_nobody_knows(stand_in):
    assert NominatimGeocoder(stand_in.url, "t").locate(PostalAddress("1 Nowhere Lane", "ZZ1 1ZZ", "Atlantis")) is None


@pytest.mark.parametrize("fault", ["http-503", "not-json", "not-a-list", "no-coordinates"])
def test_the_adapter_raises_unavailable_when_the_geocoder_fails_or_answers_nonsense(stand_in, fault):
    if fault == "http-503":
        stand_in.fail_with = 503
    else:
        stand_in.reply_body = {"not-json": "<html>busy</html>", "not-a-list": '{"lat": "1", "lon": "2"}',
                               "no-coordinates": '[{"display_name": "somewhere"}]'}[fault]
    with pytest.raises(GeocoderUnavailable):
        NominatimGeocoder(stand_in.url, "t").locate(PostalAddress("221B Baker Street", "NW1 6XE"))


def test_the_adapter_raises_unavailable_when_nothing_listens():
    server = NominatimStandIn()
    url = server.url
    server.close()
    with pytest.raises(GeocoderUnavailable):
        NominatimGeocoder(url, "t", timeout=2).locate(PostalAddress("221B Baker Street", "NW1 6XE"))


def test_the_adapter_asks_once_for_the_same_address_but_never_remembers_a_failure(stand_in):
    geocoder_ = NominatimGeocoder(stand_in.url, "t")
    stand_in.fail_with = 503
    with pytest.raises(GeocoderUnavailable):
        geocoder_.locate(PostalAddress("221B Baker Street", "NW1 6XE"))
    stand_in.fail_with = None
    first = geocoder_.locate(PostalAddress("221B Baker Street", "NW1 6XE"))
    again = geocoder_.locate(PostalAddress(" 221b baker street ", "nw1 6xe"))
    assert first == again == Coordinates(51.5237629, -0.1584743)
    assert len(stand_in.requests) == 2  # the failure, then one successful lookup


# --- booking with a geocoder ------------------------------------------------------------------------------------

def _no_write_transaction_probe(app):
    """A check, run while the geocoder answers, that no transaction holds a write on the app's database."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]

        def probe():
            conn = sqlite3.connect(path, timeout=0)
            try:
                conn.execute("BEGIN IMMEDIATE")  # fails at once ("database is locked") while a writer is open
                conn.rollback()
                return True
            except sqlite3.OperationalError:
                return False
            finally:
                conn.close()
        return probe
    engine = create_engine(url, poolclass=NullPool)

    def probe():
        with engine.connect() as conn:
            # A transaction that has written has a transaction id; an advisory lock is how bookings serialize.
            writers = conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"))
            # pg_locks is cluster-wide: count only this database's, or another test run's bookings would show.
            locks = conn.scalar(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
            return writers == 0 and locks == 0
    return probe


def _slot(tutor, teach, in_person=False, location=None, days_ahead=2) -> datetime:
    now = datetime.now(UTC)
    start = now + timedelta(days=days_ahead)
    return availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60,
                                                            in_person, location), now).slots[0]


def test_an_in_person_booking_typed_as_an_address_gets_the_geocoders_coordinates_outside_any_write(
        app, client, geocoder):
    tutor, teach = factories.tutor(online=False, in_person=True)
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    start = _slot(tutor, teach, in_person=True)
    geocoder.probe = _no_write_transaction_probe(app)
    response = client.post(f"/tutors/{tutor.id}/book", data={
        "csrf_token": csrf_for(client), "teach_id": teach.id, "start": start.isoformat(), "duration": 60,
        "lesson_type": "in_person", "line1": "221B Baker Street", "postcode": "NW1 6XE", "city": "London"})
    assert response.status_code == 303, response.get_data(as_text=True)
    stored = db.session.scalar(select(LessonAddress))
    assert (stored.line1, stored.postcode, stored.city) == ("221B Baker Street", "NW1 6XE", "London")
    assert (stored.latitude, stored.longitude) == (51.5237629, -0.1584743)
    assert geocoder.requests and geocoder.requests[-1]["params"]["street"] == "221B Baker Street"
    assert geocoder.probe_results and all(geocoder.probe_results), "the geocoder was called inside a write"


def test_the_geocoded_place_is_checked_against_how_far_the_tutor_travels(app, client, geocoder):
    tutor, teach = factories.tutor(online=False, in_person=True)
    availability.update_rules(tutor, {"base_line1": "10 Downing Street", "base_postcode": "SW1A 2AA",
                                      "base_city": "London"})
    teach.max_travel_km = 15
    db.session.commit()
    login(client, factories.user("student").email, factories.PASSWORD)
    start = _slot(tutor, teach, in_person=True)
    form = {"csrf_token": csrf_for(client), "teach_id": teach.id, "start": start.isoformat(), "duration": 60,
            "lesson_type": "in_person", "city": "Oxford"}
    refused = client.post(f"/tutors/{tutor.id}/book", data={**form, "line1": "Broad Street", "postcode": "OX1 3BD"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "travels up to 15 km" in page
    assert db.session.scalar(select(Booking)) is None
    booked = client.post(f"/tutors/{tutor.id}/book", data={**form, "line1": "1 Camden High Street",
                                                             "postcode": "NW1 7JE", "city": "London"})
    assert booked.status_code == 303


def test_a_geocoder_outage_still_books_and_keeps_the_address_without_coordinates(app, geocoder):
    tutor, teach = factories.tutor(online=False, in_person=True)
    geocoder.fail_with = 503
    booking = bookings.request_booking(factories.user("student"), BookingRequest(
        tutor.id, teach.id, TEN, 60, in_person=True, address=Address("221B Baker Street", "London", "NW1 6XE")), NOW)
    stored = db.session.scalar(select(LessonAddress).where(LessonAddress.lesson_id == booking.lesson_id))
    assert stored.line1 == "221B Baker Street" and stored.latitude is None and stored.longitude is None
    assert geocoder.requests  # it was asked, and its failure lost nothing


def test_a_tutors_base_address_is_placed_by_the_geocoder_and_a_new_unknown_one_drops_the_old_place(
        app, client, geocoder):
    tutor, _ = factories.tutor(in_person=True)
    login(client, tutor.email, factories.PASSWORD)
    geocoder.probe = _no_write_transaction_probe(app)
    rules = {"timezone": "Europe/London", "min_notice_hours": "0", "horizon_days": "60", "travel_buffer_minutes": "30"}
    saved = client.post("/tutor/availability/rules", headers={**HX, "X-CSRFToken": csrf_for(client)}, data={
        **rules, "base_line1": "10 Downing Street", "base_postcode": "SW1A 2AA", "base_city": "London"})
    assert saved.status_code == 200 and "Found on the map" in saved.get_data(as_text=True)
    profile = db.session.get(TutorProfile, tutor.id)
    db.session.refresh(profile)
    assert (profile.base_line1, profile.base_latitude, profile.base_longitude) == (
        "10 Downing Street", 51.5033635, -0.1276248)
    assert all(geocoder.probe_results)
    moved = client.post("/tutor/availability/rules", headers={**HX, "X-CSRFToken": csrf_for(client)}, data={
        **rules, "base_line1": "1 Nowhere Lane", "base_postcode": "ZZ1 1ZZ", "base_city": "Atlantis"})
    assert moved.status_code == 200 and "Not placed on the map" in moved.get_data(as_text=True)
    db.session.refresh(profile)
    assert profile.base_line1 == "1 Nowhere Lane" and profile.base_latitude is None and profile.base_longitude is None


# --- no geocoder: addresses without coordinates, and the conservative buffer -------------------------------------

def test_without_a_geocoder_the_address_is_stored_without_coordinates(app, client):
    tutor, teach = factories.tutor(online=False, in_person=True)
    login(client, factories.user("student").email, factories.PASSWORD)
    start = _slot(tutor, teach, in_person=True)
    response = client.post(f"/tutors/{tutor.id}/book", data={
        "csrf_token": csrf_for(client), "teach_id": teach.id, "start": start.isoformat(), "duration": 60,
        "lesson_type": "in_person", "line1": "221B Baker Street", "postcode": "NW1 6XE", "city": "London"})
    assert response.status_code == 303
    stored = db.session.scalar(select(LessonAddress))
    assert (stored.line1, stored.postcode, stored.city, stored.latitude) == (
        "221B Baker Street", "NW1 6XE", "London", None)


def _free(tutor, teach, **kw):
    start = TEN.replace(hour=0)
    return availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60,
                                                            **kw), NOW).slots


def test_an_in_person_lesson_without_coordinates_keeps_an_hour_free_either_side(app):
    # The tutor asks for no buffer at all; a lesson whose place nobody can locate still gets the stated hour.
    tutor, teach = factories.tutor(online=True, in_person=True, buffer_minutes=0)
    assert app.config["TRAVEL_UNKNOWN_PLACE_MINUTES"] == 60
    bookings.request_booking(factories.user("student"), BookingRequest(
        tutor.id, teach.id, TEN, 60, in_person=True, address=Address("221B Baker Street", "London", "NW1 6XE")), NOW)
    hour = timedelta(hours=1)
    known_place = Coordinates(51.5, -0.12)
    for request in ({"in_person": True, "location": known_place}, {"in_person": True}, {"in_person": False}):
        free = _free(tutor, teach, **request)
        assert TEN - hour - hour in free, request  # 08:00–09:00 ends an hour before: free
        assert TEN - hour - timedelta(minutes=45) not in free, request  # 08:15–09:15: 45 minutes is too little
        assert TEN + hour not in free and TEN + hour + timedelta(minutes=45) not in free, request
        assert TEN + hour + hour in free, request  # an hour after it ends


def test_a_new_in_person_lesson_of_unknown_place_keeps_an_hour_from_an_online_one(app):
    tutor, teach = factories.tutor(online=True, in_person=True, buffer_minutes=0)
    bookings.request_booking(factories.user("student"), BookingRequest(tutor.id, teach.id, TEN, 60), NOW)
    online_next = _free(tutor, teach)
    assert TEN + timedelta(hours=1) in online_next  # online after online: back to back, as the tutor asked
    unknown_place = _free(tutor, teach, in_person=True)
    assert TEN + timedelta(hours=1) not in unknown_place and TEN + timedelta(hours=2) in unknown_place
    located = _free(tutor, teach, in_person=True, location=Coordinates(51.5, -0.12))
    assert TEN + timedelta(hours=1) in located  # a known place next to an online lesson: the tutor's own buffer (0)


def test_a_known_place_uses_the_travel_estimate_not_the_hour(app):
    tutor, teach = factories.tutor(online=False, in_person=True, buffer_minutes=0)
    here = Address("221B Baker Street", "London", "NW1 6XE", 51.5237629, -0.1584743)
    bookings.request_booking(factories.user("student"), BookingRequest(
        tutor.id, teach.id, TEN, 60, in_person=True, address=here), NOW)
    next_door = _free(tutor, teach, in_person=True, location=Coordinates(51.5240, -0.1580))
    assert TEN + timedelta(minutes=75) in next_door  # 10 minutes' overhead, rounded up to the next quarter hour
