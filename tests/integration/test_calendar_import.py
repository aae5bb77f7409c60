"""Tutors' calendars imported from secret iCal addresses served by a real local HTTP server: the slots offered
after a sync match a hand-computed expectation across the 2027 clock changes; each sync replaces the source's busy
time; a source not synced within the hour hides the tutor (fail closed); addresses on private networks are refused."""
from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from tests import factories
from tests.calendar_feed_server import feed_server  # noqa: F401 (fixture)
from tests.conftest import csrf_from, login
from tests.ics_samples import AUTUMN_2027, SPRING_2027, single_event
from webapp import jobs
from webapp.adapters.queue import JSONJob, get_queue, get_redis
from webapp.extensions import db
from webapp.models import CalendarEvent, CalendarSource, User
from webapp.services import availability, bookings, calendar_sync
from webapp.services.errors import SlotTaken, ValidationError

pytestmark = pytest.mark.integration

SPRING_NOW = datetime(2027, 3, 1, 8, tzinfo=UTC)
AUTUMN_NOW = datetime(2027, 10, 20, 8, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_starts(tutor, teach, first: datetime, last: datetime, now: datetime) -> dict[str, list[str]]:
    """The free starts of an hour's lesson, as {local date: [local HH:MM]} in the tutor's zone."""
    zone = ZoneInfo(tutor.timezone)
    result = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, first, last, 60), now)
    days: dict[str, list[str]] = {}
    for slot in result.slots:
        local = slot.astimezone(zone)
        days.setdefault(local.date().isoformat(), []).append(local.strftime("%H:%M"))
    return days


def quarter_hours(first: str, last: str) -> list[str]:
    h, m = map(int, first.split(":"))
    out = []
    while f"{h:02d}:{m:02d}" <= last:
        out.append(f"{h:02d}:{m:02d}")
        h, m = (h + 1, 0) if m == 45 else (h, m + 15)
    return out


def connect(tutor, url: str, now: datetime) -> CalendarSource:
    return calendar_sync.add_ics_source(tutor, url, "Personal", now)


def test_a_synced_spring_2027_feed_leaves_exactly_the_hand_computed_tuesday_slots(app, feed_server):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=120)  # Tuesdays, London
    source = connect(tutor, feed_server.serve("/spring.ics", SPRING_2027), SPRING_NOW)
    assert jobs.sync_calendar_source(source.id, now=SPRING_NOW.isoformat()) == "synced"

    assert local_starts(tutor, teach, utc(2027, 3, 1), utc(2027, 4, 8), SPRING_NOW) == {
        # New York 06:00–07:00 is 11:00–12:00 in London while New York is on winter time.
        "2027-03-02": quarter_hours("09:00", "10:00") + ["12:00"],
        "2027-03-09": quarter_hours("09:00", "10:00") + ["12:00"],  # the cancelled workshop blocks nothing
        # New York on summer time (from 14 March), London not yet: 10:00–11:00; the gym 09:00–09:30; the
        # transparent reminder at 12:00 blocks nothing.
        "2027-03-16": quarter_hours("11:00", "12:00"),
        "2027-03-23": quarter_hours("09:30", "12:00"),  # New York's call excluded that week (EXDATE)
        # Both on summer time; the call moved to 07:00 New York, 12:00–13:00 in London; the gym stays 09:00 local.
        "2027-03-30": quarter_hours("09:30", "11:00"),
        # 6 April: a day off (all-day event), nothing.
    }


def test_a_synced_autumn_2027_feed_for_a_new_york_tutor(app, feed_server):
    tutor, teach = factories.tutor(timezone="America/New_York", weekly=[(0, "08:00", "12:00")], horizon_days=60)
    source = connect(tutor, feed_server.serve("/autumn.ics", AUTUMN_2027), AUTUMN_NOW)
    assert calendar_sync.sync_source(source.id, AUTUMN_NOW) == "synced"

    assert local_starts(tutor, teach, utc(2027, 10, 24), utc(2027, 11, 16), AUTUMN_NOW) == {
        "2027-10-25": ["08:00"] + quarter_hours("10:00", "11:00"),  # London 14:00 BST = 09:00 EDT
        "2027-11-01": quarter_hours("08:00", "09:00") + ["11:00"],  # London on GMT, New York not yet: 10:00
        "2027-11-08": ["08:00"] + quarter_hours("10:00", "11:00"),  # both on winter time: 09:00 again
        "2027-11-15": quarter_hours("08:00", "11:00"),
    }


def test_a_new_calendar_hides_the_tutor_until_its_first_sync(app, feed_server):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=120)
    first, last = utc(2027, 3, 2), utc(2027, 3, 3)
    assert local_starts(tutor, teach, first, last, SPRING_NOW)
    source = connect(tutor, feed_server.serve("/spring.ics", SPRING_2027), SPRING_NOW)
    # Its busy time is unknown until it is read: no time is offered, and the directory leaves the tutor out.
    assert local_starts(tutor, teach, first, last, SPRING_NOW) == {}
    profile = tutor.tutor_profile
    assert availability.tutors_free_at([(tutor, profile)], tutor_zone(tutor), frozenset(), frozenset(),
                                       SPRING_NOW) == set()
    assert calendar_sync.hiding_sources(tutor, SPRING_NOW)[0].pending

    calendar_sync.sync_source(source.id, SPRING_NOW)
    assert local_starts(tutor, teach, first, last, SPRING_NOW)["2027-03-02"][0] == "09:00"
    assert availability.tutors_free_at([(tutor, profile)], tutor_zone(tutor), frozenset(), frozenset(),
                                       SPRING_NOW) == {tutor.id}


def tutor_zone(tutor):
    return ZoneInfo(tutor.timezone)


def test_a_source_not_synced_within_the_hour_hides_the_tutor_and_the_tutor_is_told_why(app, client, feed_server):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=120)
    url = feed_server.serve("/spring.ics", SPRING_2027)
    source = connect(tutor, url, SPRING_NOW)
    calendar_sync.sync_source(source.id, SPRING_NOW)
    first, last = utc(2027, 3, 2), utc(2027, 3, 3)
    assert local_starts(tutor, teach, first, last, SPRING_NOW + timedelta(minutes=60))

    # The calendar server breaks: the failed sync keeps the old busy time but does not make it fresh.
    feed_server.serve("/spring.ics", "gone", status=404)
    later = SPRING_NOW + timedelta(minutes=45)
    assert calendar_sync.sync_source(source.id, later) == "failed"
    assert local_starts(tutor, teach, first, last, SPRING_NOW + timedelta(minutes=60))
    assert local_starts(tutor, teach, first, last, SPRING_NOW + timedelta(minutes=61)) == {}

    # The tutor reads why, with the error of the failed sync (the pages use the real clock: age the sync).
    db.session.get(CalendarSource, source.id).last_synced_at = datetime.now(UTC) - timedelta(hours=2)
    db.session.commit()
    login(client, tutor.email, factories.PASSWORD)
    for path in ("/tutor/", "/tutor/calendars", "/tutor/availability"):
        page = client.get(path).get_data(as_text=True)
        assert "Students cannot book you right now" in page, path
        assert "HTTP 404" in page, path
    assert "Last error: The calendar server answered HTTP 404" in client.get("/tutor/").get_data(as_text=True)

    # A good sync brings the times back.
    feed_server.serve("/spring.ics", SPRING_2027)
    calendar_sync.sync_source(source.id, datetime.now(UTC))
    assert "Students cannot book you right now" not in client.get("/tutor/").get_data(as_text=True)


def test_each_sync_replaces_the_sources_busy_time_and_leaves_other_sources_alone(app, feed_server):
    tutor, _ = factories.tutor(horizon_days=120)
    first_url = feed_server.serve("/a.ics", SPRING_2027)
    other_url = feed_server.serve("/b.ics", single_event("other", "20270310T100000Z", "20270310T110000Z"))
    source, other = connect(tutor, first_url, SPRING_NOW), connect(tutor, other_url, SPRING_NOW)
    calendar_sync.sync_source(source.id, SPRING_NOW)
    calendar_sync.sync_source(other.id, SPRING_NOW)
    assert rows(source.id) and len(rows(source.id)) == db.session.get(CalendarSource, source.id).event_count

    # The calendar now holds a single event: the old rows go, none is merged in.
    feed_server.serve("/a.ics", single_event("only", "20270305T140000Z", "20270305T150000Z"))
    calendar_sync.sync_source(source.id, SPRING_NOW + timedelta(minutes=15))
    assert rows(source.id) == [(utc(2027, 3, 5, 14), utc(2027, 3, 5, 15))]
    assert rows(other.id) == [(utc(2027, 3, 10, 10), utc(2027, 3, 10, 11))]

    # An empty calendar leaves no busy time (and is a good sync).
    feed_server.serve("/a.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n")
    assert calendar_sync.sync_source(source.id, SPRING_NOW + timedelta(minutes=30)) == "synced"
    assert rows(source.id) == []

    # Removing a source removes its busy time.
    other_id = other.id
    calendar_sync.remove_source(tutor, other_id)
    assert rows(other_id) == [] and db.session.get(CalendarSource, other_id) is None


def rows(source_id: int) -> list[tuple[datetime, datetime]]:
    db.session.commit()
    return [(e.start_at, e.finish_at) for e in db.session.scalars(
        select(CalendarEvent).where(CalendarEvent.source_id == source_id).order_by(CalendarEvent.start_at))]


def test_a_fetch_older_than_the_last_good_sync_never_overwrites_it(app, feed_server):
    tutor, _ = factories.tutor(horizon_days=120)
    source = connect(tutor, feed_server.serve("/a.ics", single_event("new", "20270305T140000Z",
                                                                     "20270305T150000Z")), SPRING_NOW)
    calendar_sync.sync_source(source.id, SPRING_NOW + timedelta(minutes=10))
    assert not calendar_sync.replace_busy_time(source.id, tutor.id, [], SPRING_NOW)
    assert rows(source.id) == [(utc(2027, 3, 5, 14), utc(2027, 3, 5, 15))]


def test_the_booking_transaction_rechecks_calendar_busy_time(app, feed_server):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=120)
    student = factories.user("student")
    source = connect(tutor, feed_server.serve("/a.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
                                                        "END:VCALENDAR\r\n"), SPRING_NOW)
    calendar_sync.sync_source(source.id, SPRING_NOW)
    start = utc(2027, 3, 2, 10)
    assert "10:00" in local_starts(tutor, teach, start, start + timedelta(hours=1), SPRING_NOW)["2027-03-02"]
    # The tutor's calendar fills that hour after the student saw it free.
    feed_server.serve("/a.ics", single_event("dentist", "20270302T103000Z", "20270302T110000Z"))
    calendar_sync.sync_source(source.id, SPRING_NOW + timedelta(minutes=1))
    with pytest.raises(SlotTaken):
        bookings.request_booking(student, bookings.BookingRequest(tutor.id, teach.id, start, 60),
                                 now=SPRING_NOW + timedelta(minutes=2))


def test_a_stale_calendar_also_refuses_the_booking_itself(app, feed_server):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=120)
    source = connect(tutor, feed_server.serve("/a.ics", single_event("x", "20270305T140000Z", "20270305T150000Z")),
                     SPRING_NOW)
    calendar_sync.sync_source(source.id, SPRING_NOW)
    with pytest.raises(SlotTaken):
        bookings.request_booking(factories.user("student"), bookings.BookingRequest(
            tutor.id, teach.id, utc(2027, 3, 2, 10), 60), now=SPRING_NOW + timedelta(hours=2))


# --- addresses the server refuses to fetch -------------------------------------------------------

@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:9/cal.ics", "private or local network"),
    ("http://localhost:9/cal.ics", "private or local network"),
    ("http://169.254.169.254/latest/meta-data/", "private or local network"),
    ("http://10.0.0.5/cal.ics", "private or local network"),
    ("http://[::1]:9/cal.ics", "private or local network"),
    ("ftp://example.com/cal.ics", "https://"),
    ("file:///etc/passwd", "https://"),
])
def test_production_refuses_addresses_on_private_networks(app, monkeypatch, url, words):
    monkeypatch.setitem(app.config, "CALENDAR_FETCH_ALLOWED_NETWORKS", "")
    tutor, _ = factories.tutor()
    with pytest.raises(ValidationError, match=words):
        calendar_sync.add_ics_source(tutor, url, "", SPRING_NOW)
    assert db.session.scalars(select(CalendarSource)).all() == []


def test_a_redirect_to_a_private_address_is_refused_at_fetch_time(app, feed_server):
    tutor, _ = factories.tutor(horizon_days=120)
    url = feed_server.serve("/moved.ics", "", status=302,
                            headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    source = connect(tutor, url, SPRING_NOW)
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "failed"
    assert "private or local network" in db.session.get(CalendarSource, source.id).last_error
    # A redirect within allowed hosts is followed.
    feed_server.serve("/moved.ics", "", status=301, headers={"Location": "/spring.ics"})
    feed_server.serve("/spring.ics", SPRING_2027)
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "synced"


def test_the_host_is_resolved_and_checked_again_at_fetch_time(app, monkeypatch):
    """DNS rebinding: a name that was public when the calendar was added points into our network later."""
    monkeypatch.setitem(app.config, "CALENDAR_FETCH_ALLOWED_NETWORKS", "")
    answers = {"ip": "93.184.216.34"}
    real = socket.getaddrinfo

    def fake_dns(host, port, *args, **kwargs):
        if host == "calendar.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["ip"], port))]
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    tutor, _ = factories.tutor()
    source = connect(tutor, "https://calendar.example.com/private-abc/basic.ics", SPRING_NOW)
    answers["ip"] = "10.0.0.7"
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "failed"
    assert "10.0.0.7" in db.session.get(CalendarSource, source.id).last_error


def test_a_calendar_over_the_size_cap_is_not_read(app, feed_server, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_FETCH_MAX_BYTES", 2000)
    tutor, _ = factories.tutor(horizon_days=120)
    source = connect(tutor, feed_server.serve("/big.ics", SPRING_2027 * 3), SPRING_NOW)
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "failed"
    assert "larger than" in db.session.get(CalendarSource, source.id).last_error


def test_a_calendar_server_that_does_not_answer_in_time_fails_the_sync(app, feed_server, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_FETCH_TIMEOUT_SECONDS", 0.5)
    tutor, _ = factories.tutor(horizon_days=120)
    source = connect(tutor, feed_server.serve("/slow.ics", SPRING_2027, stall_seconds=2), SPRING_NOW)
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "failed"
    assert "too long" in db.session.get(CalendarSource, source.id).last_error


def test_a_page_that_is_not_a_calendar_fails_the_sync_in_words(app, feed_server):
    tutor, _ = factories.tutor(horizon_days=120)
    source = connect(tutor, feed_server.serve("/login", "<html>Sign in</html>",
                                              headers={"Content-Type": "text/html"}), SPRING_NOW)
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "failed"
    assert "not a calendar" in db.session.get(CalendarSource, source.id).last_error


# --- the periodic job and the tutor's page -------------------------------------------------------

def test_the_periodic_job_syncs_sources_not_read_in_the_last_14_minutes(app, feed_server):
    tutor, _ = factories.tutor(horizon_days=120)
    fresh = connect(tutor, feed_server.serve("/a.ics", SPRING_2027), SPRING_NOW)
    due = connect(tutor, feed_server.serve("/b.ics", SPRING_2027), SPRING_NOW)
    calendar_sync.sync_source(fresh.id, SPRING_NOW + timedelta(minutes=10))
    calendar_sync.sync_source(due.id, SPRING_NOW)
    get_queue().empty()  # the jobs enqueued when they were connected
    assert jobs.sync_calendars(now=(SPRING_NOW + timedelta(minutes=15)).isoformat()) == 1
    run_queued_jobs(app)
    assert feed_server.hits == {"/a.ics": 1, "/b.ics": 2}


def test_without_redis_the_periodic_job_reads_the_calendars_itself(app, feed_server, redis_outage):
    tutor, _ = factories.tutor(horizon_days=120)
    source = connect(tutor, feed_server.serve("/a.ics", SPRING_2027), SPRING_NOW)
    redis_outage.kill()
    assert jobs.sync_calendars(now=SPRING_NOW.isoformat()) == 1
    assert feed_server.hits == {"/a.ics": 1}
    assert db.session.get(CalendarSource, source.id).last_synced_at == SPRING_NOW


def run_queued_jobs(app) -> None:
    """What `worker.py worker` does: a real RQ worker over the queue until it is empty (in this process)."""
    queue = get_queue()
    SimpleWorker([queue], connection=get_redis(), serializer=queue.serializer, job_class=JSONJob).work(
        burst=True, logging_level="WARNING")
    db.session.remove()


def test_a_tutor_connects_a_calendar_on_the_calendars_page(app, client, feed_server):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    page = client.get("/tutor/calendars").get_data(as_text=True)
    token = csrf_from(page)
    bad = client.post("/tutor/calendars", data={"url": "ftp://example.com/x.ics", "csrf_token": token})
    assert bad.status_code == 422 and "must start with https://" in bad.get_data(as_text=True)
    url = feed_server.serve("/private-secret123/basic.ics", SPRING_2027)
    done = client.post("/tutor/calendars", data={"url": url, "label": "Personal", "csrf_token": token})
    assert done.status_code == 303
    page = client.get("/tutor/calendars").get_data(as_text=True)
    assert "Waiting for the first sync" in page and "private-secret123" not in page  # the secret is never shown
    again = client.post("/tutor/calendars", data={"url": url, "csrf_token": token})
    assert again.status_code == 422 and "already connected" in again.get_data(as_text=True)
    [source] = db.session.scalars(select(CalendarSource)).all()
    calendar_sync.sync_source(source.id, datetime.now(UTC))
    listing = client.get("/tutor/calendars/list", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Synced" in listing and "hx-trigger" not in listing


def test_a_tutor_cannot_touch_another_tutors_calendar(app, client, feed_server):
    owner, _ = factories.tutor()
    source = connect(owner, feed_server.serve("/a.ics", SPRING_2027), SPRING_NOW)
    intruder, _ = factories.tutor()
    login(client, intruder.email, factories.PASSWORD)
    token = csrf_from(client.get("/tutor/calendars").get_data(as_text=True))
    client.post(f"/tutor/calendars/{source.id}/remove", data={"csrf_token": token})
    sync = client.post(f"/tutor/calendars/{source.id}/sync", data={"csrf_token": token}, follow_redirects=True)
    assert "not connected" in sync.get_data(as_text=True)
    db.session.commit()
    assert db.session.get(CalendarSource, source.id) is not None


def test_students_have_no_calendars_page(app, client):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    assert client.get("/tutor/calendars").status_code == 403


def test_an_apple_webcal_link_is_read_as_the_same_address_over_https(app):
    tutor, _ = factories.tutor()
    source = calendar_sync.add_ics_source(tutor, "webcal://127.0.0.1:9/published/cal.ics", "", SPRING_NOW)
    assert source.url == "https://127.0.0.1:9/published/cal.ics"


def test_a_calendar_server_that_is_not_there_fails_the_sync_in_words(app):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    tutor, _ = factories.tutor(horizon_days=120)
    source = connect(tutor, f"http://127.0.0.1:{port}/cal.ics", SPRING_NOW)
    assert calendar_sync.sync_source(source.id, SPRING_NOW) == "failed"
    assert "nothing answered there" in db.session.get(CalendarSource, source.id).last_error


def test_the_same_address_sent_twice_at_once_connects_one_calendar(app, feed_server):
    tutor, _ = factories.tutor()
    tutor_id, url = tutor.id, feed_server.serve("/a.ics", SPRING_2027)
    db.session.remove()
    barrier, outcomes = threading.Barrier(2), []

    def add():
        with app.app_context():
            barrier.wait()
            try:
                calendar_sync.add_ics_source(db.session.get(User, tutor_id), url, "", SPRING_NOW)
                outcomes.append("added")
            except ValidationError as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()
    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["This calendar is already connected.", "added"]
    assert len(db.session.scalars(select(CalendarSource)).all()) == 1


def test_sync_now_is_rate_limited_per_tutor(app, client, feed_server):
    tutor, _ = factories.tutor()
    source = connect(tutor, feed_server.serve("/a.ics", SPRING_2027), SPRING_NOW)
    login(client, tutor.email, factories.PASSWORD)
    token = csrf_from(client.get("/tutor/calendars").get_data(as_text=True))
    statuses = [client.post(f"/tutor/calendars/{source.id}/sync", data={"csrf_token": token}).status_code
                for _ in range(21)]
    assert statuses[:20] == [303] * 20 and statuses[20] == 429
