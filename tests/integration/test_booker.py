"""The booker as the server renders it: a month marking free days, a day's times named with their day, options in
the URL, the 12/24-hour choice remembered, and words instead of errors for months it cannot show."""
import html
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests import factories
from tests.conftest import login
from webapp.services import availability, booker

HX = {"HX-Request": "true"}
LONDON = ZoneInfo("Europe/London")


def _next_month(today: date) -> date:
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1)


def _body(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_month_marks_only_days_with_free_times_and_the_chosen_day_lists_its_times_named_with_the_day(client):
    # Mondays only, 10:00-11:00 London: one 60-minute start on each Monday.
    tutor, teach = factories.tutor(weekly=[(0, "10:00", "11:00")], horizon_days=120)
    month = _next_month(datetime.now(LONDON).date())
    mondays = [month + timedelta(days=i) for i in range(31)
               if (month + timedelta(days=i)).month == month.month and (month + timedelta(days=i)).weekday() == 0]
    body = _body(client.get(f"/tutors/{tutor.id}?tz=Europe/London&month={month:%Y-%m}&day={mondays[1]}", headers=HX))

    assert body.lstrip().startswith('<div id="slot-picker"') and "<html" not in body
    assert re.findall(r'data-date="([\d-]+)"', body) == [d.isoformat() for d in mondays]
    name = f"Monday {mondays[1].day} {mondays[1]:%B}"
    assert f'aria-label="{name}, 1 free time"' in body and 'aria-current="true"' in body
    assert f">{name}</h3>" in body
    assert re.findall(r'<a class="slot"[^>]*aria-label="([^"]+)"', body) == [f"{name}, 10:00"]
    link = urlsplit(re.search(r'<a class="slot"[^>]*href="([^"]+)"', body).group(1))
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert link.path == f"/tutors/{tutor.id}/book"
    assert query["teach_id"] == str(teach.id) and query["duration"] == "60" and query["tz"] == "Europe/London"
    start = datetime.fromisoformat(query["start"].replace("Z", "+00:00"))
    assert start == datetime.combine(mondays[1], datetime.min.time().replace(hour=10), LONDON).astimezone(UTC)


def test_without_a_day_the_first_free_day_is_chosen_and_an_empty_month_moves_on_to_the_next(client):
    today = datetime.now(LONDON).date()
    following = _next_month(today)
    # Only hours on the 5th of next month (an override); nothing this month.
    tutor, _ = factories.tutor(weekly=[], horizon_days=120)
    availability.add_override(tutor, (following + timedelta(days=4)).isoformat(), False, "09:00", "10:00", today)
    body = _body(client.get(f"/tutors/{tutor.id}?tz=Europe/London", headers=HX))
    assert f">{following:%B %Y}</h3>" in body
    fifth = following + timedelta(days=4)
    assert f">{fifth:%A} {fifth.day} {fifth:%B}</h3>" in body and ">09:00</a>" in body

    # Asked for this month by name, it says so and offers the next.
    body = _body(client.get(f"/tutors/{tutor.id}?tz=Europe/London&month={today:%Y-%m}", headers=HX))
    assert f"No free times in {today:%B}." in body and f"Try {following:%B %Y}" in body


def test_the_twelve_hour_choice_shows_am_pm_and_is_remembered_for_the_next_visit(client):
    tutor, _ = factories.tutor(weekly=[(d, "13:00", "14:00") for d in range(7)], horizon_days=120)
    month = _next_month(datetime.now(LONDON).date())
    url = f"/tutors/{tutor.id}?tz=Europe/London&month={month:%Y-%m}"
    response = client.get(url + "&clock=12", headers=HX)
    assert ">1:00pm</a>" in _body(response) and "clock=12" in response.headers["Set-Cookie"]
    assert ">1:00pm</a>" in _body(client.get(url, headers=HX))  # no clock in the URL: the remembered one
    assert ">13:00</a>" in _body(client.get(url + "&clock=24", headers=HX))


def test_months_and_days_the_booker_cannot_show_are_answered_in_words(client):
    tutor, _ = factories.tutor(horizon_days=30)
    today = datetime.now(LONDON).date()
    for query, words in [("month=2027-13", "month must look like 2027-03"),
                         ("month=soon", "month must look like 2027-03"),
                         (f"month={today.year + 3}-01", "Choose a month within the next year"),
                         (f"month={(today + timedelta(days=120)):%Y-%m}", "takes bookings up to 30 days ahead"),
                         ("day=2027-02-30", "day must be a date"),
                         ("tz=Mars/Olympus", "Unknown time zone")]:
        response = client.get(f"/tutors/{tutor.id}?{query}", headers=HX)
        assert response.status_code == 422, query
        assert words in _body(response), query
        full = client.get(f"/tutors/{tutor.id}?{query}")
        assert full.status_code == 200 and words in _body(full), query
    # A month before this one shows this one.
    body = _body(client.get(f"/tutors/{tutor.id}?tz=Europe/London&month=2020-01", headers=HX))
    assert f">{today:%B %Y}</h3>" in body


def test_in_person_choices_and_the_address_travel_with_the_slot_links(client):
    tutor, _ = factories.tutor(online=True, in_person=True, horizon_days=120)
    month = _next_month(datetime.now(LONDON).date())
    body = _body(client.get(f"/tutors/{tutor.id}?tz=Europe/London&month={month:%Y-%m}&lesson_type=in_person"
                            "&line1=1 High Street&postcode=OX1 1AA&city=Oxford", headers=HX))
    assert 'value="1 High Street"' in body
    query = parse_qs(urlsplit(re.search(r'<a class="slot"[^>]*href="([^"]+)"', body).group(1)).query)
    assert query["lesson_type"] == ["in_person"] and query["line1"] == ["1 High Street"]
    assert query["postcode"] == ["OX1 1AA"] and query["city"] == ["Oxford"]


def test_an_anonymous_visitor_without_a_zone_sees_utc_and_the_page_asks_the_browser_for_its_zone(client):
    tutor, _ = factories.tutor()
    body = _body(client.get(f"/tutors/{tutor.id}"))
    assert re.search(r'<div id="slot-picker"[^>]*data-detect-zone', body)
    assert "<strong data-zone-label>UTC</strong>" in body
    body = _body(client.get(f"/tutors/{tutor.id}?tz=America/New_York"))
    assert not re.search(r'<div id="slot-picker"[^>]*data-detect-zone', body)
    assert "<strong data-zone-label>America/New_York</strong>" in body


def test_the_browser_is_asked_for_its_clock_only_for_an_anonymous_visitor_who_has_chosen_none(client):
    tutor, _ = factories.tutor()
    asks = re.compile(r'<div id="slot-picker"[^>]*data-detect-clock')
    assert asks.search(_body(client.get(f"/tutors/{tutor.id}?tz=Europe/London")))
    assert not asks.search(_body(client.get(f"/tutors/{tutor.id}?tz=Europe/London&clock=24")))  # chosen in the URL
    assert not asks.search(_body(client.get(f"/tutors/{tutor.id}?tz=Europe/London")))  # and now remembered
    student = factories.user("student")
    fresh = client.application.test_client()
    login(fresh, student.email, factories.PASSWORD)
    assert not asks.search(_body(fresh.get(f"/tutors/{tutor.id}")))  # signed in: the browser is not asked


def test_a_zone_typed_as_a_city_or_in_lower_case_is_understood(client):
    tutor, _ = factories.tutor()
    for typed in ("new york", "america/new_york", "New_York"):
        body = _body(client.get(f"/tutors/{tutor.id}?tz={typed}", headers=HX))
        assert "<strong data-zone-label>America/New_York</strong>" in body, typed
        assert "tz=America%2FNew_York" in body.replace("&amp;", "&"), typed
    assert client.get(f"/tutors/{tutor.id}?tz=Springfield", headers=HX).status_code == 422


def test_a_subject_taught_only_in_person_opens_in_person_unless_online_is_asked_for(client):
    tutor, teach = factories.tutor(online=False, in_person=True)
    body = _body(client.get(f"/tutors/{tutor.id}?tz=Europe/London", headers=HX))
    assert re.search(r'<a class="slot"[^>]*href="[^"]*lesson_type=in_person', body)
    response = client.get(f"/tutors/{tutor.id}?tz=Europe/London&lesson_type=online", headers=HX)
    assert response.status_code == 422 and "in person only" in _body(response)


def test_an_old_link_to_a_subject_no_longer_offered_opens_the_booker_on_one_that_is(client):
    tutor, teach = factories.tutor()
    _, elsewhere = factories.tutor()
    for teach_id in (elsewhere.id, 10**6):
        response = client.get(f"/tutors/{tutor.id}?teach_id={teach_id}&tz=Europe/London")
        assert response.status_code == 200
        assert re.search(rf'<a class="slot"[^>]*href="[^"]*teach_id={teach.id}&', _body(response))


def test_the_booker_service_names_each_time_of_the_chosen_day_and_links_it_from_one_base_url(app):
    # Mondays and Tuesdays 10:00-12:00 London: five hour-long starts a day (every quarter hour to 11:00), shown in
    # New York on a 12-hour clock.
    tutor, teach = factories.tutor(weekly=[(0, "10:00", "12:00"), (1, "10:00", "12:00")], horizon_days=120)
    now = datetime.now(UTC)
    month = _next_month(now.date())
    new_york = ZoneInfo("America/New_York")
    tuesday = next(month + timedelta(days=i) for i in range(7) if (month + timedelta(days=i)).weekday() == 1)
    ask = booker.BookerAsk(args={}, zone=new_york, zone_label="America/New_York", zone_in_links=True,
                           detect_zone=False, clock="12", teach_id=teach.id, day=tuesday, month=month, duration=60)
    view = booker.tutor_booker(tutor.id, ask, now, "/p", "/b")

    assert view.error is None and view.teach.id == teach.id and view.month == month
    cells = {c.date: c for week in view.weeks for c in week if c.in_month}
    assert {d for d, c in cells.items() if c.free} == {d for d in cells if d.weekday() in (0, 1)}
    assert view.free_day_count == len([d for d in cells if d.weekday() in (0, 1)])
    chosen = cells[tuesday]
    assert chosen.selected and chosen.label == f"Tuesday {tuesday.day} {tuesday:%B}, 5 free times"
    assert chosen.url == (f"/p?teach_id={teach.id}&duration=60&lesson_type=online&tz=America%2FNew_York&clock=12"
                          f"&month={month:%Y-%m}&day={tuesday}")
    london_ten = datetime.combine(tuesday, datetime.min.time().replace(hour=10), LONDON)
    starts = [london_ten + timedelta(minutes=15 * q) for q in range(5)]
    assert [t.label for t in view.times] == [f"{s.astimezone(new_york):%-I:%M}am" for s in starts]
    assert [t.name for t in view.times] == [f"Tuesday {tuesday.day} {tuesday:%B}, {t.label}" for t in view.times]
    assert [t.start for t in view.times] == [s.astimezone(new_york).isoformat() for s in starts]
    assert [t.href for t in view.times] == [
        f"/b?teach_id={teach.id}&duration=60&lesson_type=online&tz=America%2FNew_York&clock=12"
        f"&start={s.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" for s in starts]


def test_the_booker_service_shows_an_unreadable_ask_in_words_keeping_the_month_and_day(app):
    tutor, _ = factories.tutor()
    ask = booker.BookerAsk(args={"tz": "Mars/Olympus"}, zone=None, zone_label="Mars/Olympus", zone_in_links=True,
                           detect_zone=False, clock="24", error="Mars/Olympus is not a time zone we know.",
                           kept_month="2030-01", kept_day="2030-01-15")
    view = booker.tutor_booker(tutor.id, ask, datetime.now(UTC), "/p", "/b")
    assert view.error == view.picker_error == "Mars/Olympus is not a time zone we know."
    assert (view.kept_month, view.kept_day, view.month, view.times) == ("2030-01", "2030-01-15", None, [])
    assert [t.id for t in view.teaches] and view.tutor.id == tutor.id


def test_a_tutor_without_subjects_has_a_profile_that_says_so_and_a_student_is_no_tutor(client):
    tutor = factories.user("tutor")  # signed up, nothing offered yet
    for path in (f"/tutors/{tutor.id}", f"/tutors/{tutor.id}?tz=Europe/London"):
        response = client.get(path)
        assert response.status_code == 200 and "This tutor has not listed any subjects yet." in _body(response)
    assert client.get(f"/tutors/{tutor.id}", headers=HX).status_code == 422
    assert client.get(f"/tutors/{factories.user('student').id}").status_code == 404
    assert client.get("/tutors/999999").status_code == 404
