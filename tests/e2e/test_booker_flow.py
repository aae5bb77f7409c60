"""The booker on a tutor's profile, as people use it: a month calendar, a day's times, options on the same page,
by mouse on a desktop and a phone, by keyboard alone, and as a visitor who signs up half-way through."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests import factories
from tests.e2e.conftest import log_in, open_latest_mail
from webapp.extensions import db
from webapp.models import Booking, Lesson

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MORNINGS = [(d, "09:00", "12:00") for d in range(7)]  # every day, 09:00-12:00 in the tutor's zone (London)


def _next_month_day(zone: ZoneInfo, day: int = 10) -> date:
    today = datetime.now(zone).date()
    first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.replace(day=day)


def _name(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _starts(day: date, zone: ZoneInfo, minutes: int = 60) -> list[datetime]:
    """The starts a 09:00-12:00 London morning offers on `day`, shown in `zone`."""
    first = datetime.combine(day, datetime.min.time().replace(hour=9), LONDON)
    count = (180 - minutes) // 15 + 1
    return [(first + timedelta(minutes=15 * i)).astimezone(zone) for i in range(count)]


def _no_sideways_scroll(page: Page) -> None:
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"the page scrolls sideways: {width}px wide in a {viewport}px viewport"


def _no_scroll_box_inside_the_booker(page: Page) -> None:
    """The page is the only thing that scrolls: nothing in the booker scrolls on its own."""
    boxes = page.locator("#slot-picker *").evaluate_all("""els => els.filter(e => {
        const s = getComputedStyle(e);
        return /(auto|scroll)/.test(s.overflowY + s.overflowX) && (e.scrollHeight > e.clientHeight || e.scrollWidth > e.clientWidth);
    }).map(e => e.tagName + '.' + e.className)""")
    assert boxes == [], f"scroll boxes inside the booker: {boxes}"


def _focused(page: Page, attribute: str = "id") -> str | None:
    return page.evaluate(f"document.activeElement && document.activeElement.getAttribute('{attribute}')")


def _expect_focus(page: Page, element_id: str) -> None:
    """Focus lands on `element_id` (htmx moves it after the swap settles), not on the page's body."""
    expect(page.locator(f"#{element_id}")).to_be_focused()


def _bookings() -> list[Booking]:
    db.session.rollback()
    return list(db.session.scalars(select(Booking)))


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_a_student_chooses_month_day_options_and_a_time_in_the_booker(browser_page, viewport):
    tutor, _ = factories.tutor(name="Ana Lopez", weekly=MORNINGS, horizon_days=120)
    student = factories.user("student", timezone="Europe/London")
    email, tutor_id = student.email, tutor.id
    db.session.remove()
    day = _next_month_day(LONDON)

    page = browser_page("Europe/London")
    log_in(page, email)
    page.set_viewport_size(viewport)
    if viewport["width"] < 640:  # phones fold the navigation behind a Menu button
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation").get_by_role("link", name="Find a tutor").click()
    page.get_by_role("link", name="Ana Lopez").click()
    booker = page.locator("#slot-picker")
    expect(booker.locator("[data-zone-label]")).to_have_text("Europe/London")
    expect(booker.get_by_role("heading", name=datetime.now(LONDON).strftime("%B %Y"))).to_be_visible()
    _no_sideways_scroll(page)

    # Next month: the calendar turns, the URL says so, and focus is still on the month button.
    booker.get_by_role("link", name=re.compile("^Next month")).click()
    expect(booker.get_by_role("heading", name=day.strftime("%B %Y"))).to_be_visible()
    expect(page).to_have_url(re.compile(rf"month={day:%Y-%m}"))
    _expect_focus(page, "booker-next-month")
    _no_sideways_scroll(page)

    # A day: its times appear, focus moves to them, and every time is named with its day.
    booker.get_by_role("link", name=f"{_name(day)}, 9 free times").click()
    expect(booker.get_by_role("heading", name=_name(day))).to_be_visible()
    expect(page).to_have_url(re.compile(rf"day={day.isoformat()}"))
    _expect_focus(page, "booker-times-heading")
    starts = _starts(day, LONDON)
    expect(booker.locator("a.slot")).to_have_text([s.strftime("%H:%M") for s in starts])
    for start in (starts[0], starts[-1]):
        expect(booker.get_by_role("link", name=f"{_name(day)}, {start:%H:%M}", exact=True)).to_be_visible()
    _no_sideways_scroll(page)
    _no_scroll_box_inside_the_booker(page)

    # 30 minutes: more starts fit the same morning; the day stays chosen.
    booker.get_by_label("30 min").check()
    expect(booker.locator("a.slot")).to_have_count(len(_starts(day, LONDON, 30)))
    expect(page).to_have_url(re.compile(r"duration=30"))
    _expect_focus(page, "booker-duration-30")

    # The 12-hour clock, and it is remembered on the next visit.
    booker.get_by_label("12h").check()
    expect(booker.get_by_role("link", name=f"{_name(day)}, 9:00am", exact=True)).to_be_visible()
    _expect_focus(page, "booker-clock-12")

    # Another zone, typed into the searchable list: the times move with it and the zone is named.
    zone = booker.get_by_label("Time zone")
    zone.fill("America/New_York")
    zone.press("Enter")
    expect(booker.locator("[data-zone-label]")).to_have_text("America/New_York")
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
    first = _starts(day, NEW_YORK, 30)[0]
    expect(booker.locator("a.slot").first).to_have_text(f"{first.hour % 12 or 12}:{first:%M}am")
    _no_sideways_scroll(page)

    # The link works without the page's state: reloading shows the same choices.
    page.reload()
    expect(booker.get_by_role("heading", name=_name(day))).to_be_visible()
    expect(booker.get_by_label("30 min")).to_be_checked()
    expect(booker.get_by_label("12h")).to_be_checked()
    page.goto(f"/tutors/{tutor_id}")
    expect(page.locator("#slot-picker").get_by_label("12h")).to_be_checked()

    # A time: the booking form for exactly that slot.
    page.goto(f"/tutors/{tutor_id}?month={day:%Y-%m}&day={day.isoformat()}")
    page.locator("#slot-picker").get_by_role("link", name=f"{_name(day)}, 10:00am", exact=True).click()
    expect(page.get_by_role("heading", name="Book a lesson with Ana Lopez")).to_be_visible()
    expect(page.locator(".summary")).to_contain_text(f"{day:%a %d %b %Y}, 10:00 (Europe/London), 60 minutes")
    _no_sideways_scroll(page)


def test_a_whole_booking_by_keyboard_alone(browser_page):
    tutor, _ = factories.tutor(name="Kim Keys", weekly=MORNINGS, horizon_days=120)
    student = factories.user("student", timezone="Europe/London")
    email, tutor_id = student.email, tutor.id
    db.session.remove()
    day = _next_month_day(LONDON)

    page = browser_page("Europe/London")
    page.goto("/login")

    def tab_to(check: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const e = document.activeElement; return !!e && ({check}); }})()"):
                return
        raise AssertionError(f"Tab never reached: {check}")

    tab_to("e.name === 'email'")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(factories.PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto(f"/tutors/{tutor_id}")
    # The first Tab reaches the skip link; Enter jumps past the navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    _expect_focus(page, "main")

    tab_to("e.id === 'booker-next-month'")
    page.keyboard.press("Enter")
    expect(page.locator("#slot-picker").get_by_role("heading", name=day.strftime("%B %Y"))).to_be_visible()
    _expect_focus(page, "booker-next-month")

    # Into the calendar; arrow keys walk the free days; Enter chooses one.
    tab_to("e.classList.contains('cal-day')")
    first_day = page.evaluate("document.activeElement.dataset.date")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.date") == (
        date.fromisoformat(first_day) + timedelta(days=7)).isoformat()
    while page.evaluate("document.activeElement.dataset.date") != day.isoformat():
        page.keyboard.press("ArrowRight" if page.evaluate("document.activeElement.dataset.date") < day.isoformat()
                            else "ArrowLeft")
    page.keyboard.press("Enter")
    expect(page.locator("#slot-picker").get_by_role("heading", name=_name(day))).to_be_visible()
    _expect_focus(page, "booker-times-heading")

    page.keyboard.press("Tab")
    assert _focused(page, "aria-label") == f"{_name(day)}, 09:00"
    page.keyboard.press("Tab")
    assert _focused(page, "aria-label") == f"{_name(day)}, 09:15"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Book a lesson with Kim Keys")).to_be_visible()

    tab_to("e.textContent.trim() === 'Book and hold this slot'")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page.locator("#booking-status")).to_contain_text("Awaiting payment")
    [booking] = _bookings()
    assert db.session.get(Lesson, booking.lesson_id).start_at == _starts(day, LONDON)[1]


def test_a_new_york_visitor_picks_a_time_signs_up_and_books_exactly_that_slot(browser_page, dev_mail):
    tutor, _ = factories.tutor(name="Ana Lopez", weekly=MORNINGS, horizon_days=120)
    tutor_id = tutor.id
    db.session.remove()
    day = _next_month_day(NEW_YORK)
    start = _starts(day, NEW_YORK)[2]  # 09:30 London, 04:30 (or 05:30) in New York

    page = browser_page("America/New_York")
    page.goto("/tutors")
    page.get_by_role("link", name="Ana Lopez").click()
    booker = page.locator("#slot-picker")
    # Not UTC: the browser's zone, named on the page and put in the URL.
    expect(booker.locator("[data-zone-label]")).to_have_text("America/New_York")
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
    booker.get_by_role("link", name=re.compile("^Next month")).click()
    booker.get_by_role("link", name=re.compile(rf"^{_name(day)}, ")).click()
    expect(booker.locator("a.slot").first).to_have_text(_starts(day, NEW_YORK)[0].strftime("%H:%M"))
    booker.get_by_role("link", name=f"{_name(day)}, {start:%H:%M}", exact=True).click()

    # The login page says why it appeared; "Create an account" keeps the way back.
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text(
        f"Log in or create an account to book {start:%H:%M} on {start:%a} {start.day} {start:%b} with Ana Lopez"
    )).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_text(re.compile(rf"Create an account to book {start:%H:%M} on"))).to_be_visible()
    page.get_by_label("Your name").fill("Nora New")
    page.get_by_label("Email").fill("nora.new@example.com")
    page.get_by_label("Password").fill("a-long-password")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # The emailed link finishes the sign-up and still knows the slot.
    open_latest_mail(page, "nora.new@example.com", "Finish signing up")
    page.get_by_role("link", name="Create my account").click()
    page.get_by_role("button", name="Create my account").click()

    # Straight back to the booking form for that slot, in New York time.
    expect(page.get_by_role("heading", name="Book a lesson with Ana Lopez")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/tutors/{tutor_id}/book\?"))
    expect(page.locator(".summary")).to_contain_text(f"{start:%a %d %b %Y, %H:%M} (America/New_York), 60 minutes")
    page.get_by_role("button", name="Book and hold this slot").click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page.locator("main")).to_contain_text(start.strftime("%a %d %b %Y, %H:%M"))
    [booking] = _bookings()
    assert db.session.get(Lesson, booking.lesson_id).start_at == start


def test_double_clicking_book_lands_on_the_one_booking_it_made(browser_page):
    tutor, _ = factories.tutor(name="Dee Double", weekly=MORNINGS, horizon_days=120)
    student = factories.user("student", timezone="Europe/London")
    email, tutor_id = student.email, tutor.id
    db.session.remove()
    day = _next_month_day(LONDON)

    page = browser_page("Europe/London")
    log_in(page, email)
    page.goto(f"/tutors/{tutor_id}?month={day:%Y-%m}&day={day.isoformat()}")
    page.locator("#slot-picker").get_by_role("link", name=f"{_name(day)}, 10:00", exact=True).click()
    page.get_by_role("button", name="Book and hold this slot").dblclick()

    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page.get_by_role("status").filter(has_text="Your slot is held")).to_be_visible()
    expect(page.get_by_text("That slot was just taken")).to_have_count(0)
    assert len(_bookings()) == 1



def test_buttons_are_disabled_while_their_request_runs(browser_page):
    tutor, _ = factories.tutor(name="Bea Busy", weekly=MORNINGS, horizon_days=120)
    student = factories.user("student", timezone="Europe/London")
    email, tutor_id, tutor_email = student.email, tutor.id, tutor.email
    db.session.remove()
    day = _next_month_day(LONDON)

    # A plain form: the page notes (in sessionStorage, which outlives the navigation) if Book became disabled.
    page = browser_page("Europe/London")
    log_in(page, email)
    page.goto(f"/tutors/{tutor_id}?month={day:%Y-%m}&day={day.isoformat()}")
    page.locator("#slot-picker").get_by_role("link", name=f"{_name(day)}, 10:00", exact=True).click()
    expect(page.get_by_role("heading", name="Book a lesson with Bea Busy")).to_be_visible()
    page.evaluate("""() => {
        sessionStorage.removeItem('bookWasDisabled');
        const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Book and hold this slot');
        new MutationObserver(() => { if (button.disabled) sessionStorage.setItem('bookWasDisabled', 'yes'); })
            .observe(button, {attributes: true});
    }""")
    page.get_by_role("button", name="Book and hold this slot").click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    assert page.evaluate("sessionStorage.getItem('bookWasDisabled')") == "yes"
    assert len(_bookings()) == 1

    # An htmx form: its button is disabled while the request is held, and usable again after the answer.
    tutor_page = browser_page("Europe/London")
    log_in(tutor_page, tutor_email)
    tutor_page.goto("/tutor/availability")
    held: list = []
    tutor_page.route(re.compile(r"/tutor/availability/windows"), lambda route: held.append(route))
    weekly = tutor_page.locator("#weekly-hours")
    weekly.get_by_role("combobox", name=re.compile("^Day")).select_option(label="Monday")
    weekly.get_by_label("From").fill("13:00")
    weekly.get_by_label("To").fill("14:00")
    add = weekly.get_by_role("button", name="Add hours")
    add.click()
    expect(add).to_be_disabled()
    for _ in range(100):  # the held request reaches the route handler while Playwright is dispatching
        if held:
            break
        tutor_page.wait_for_timeout(50)
    held[0].continue_()
    expect(tutor_page.locator("#weekly-hours").get_by_role("button", name="Add hours")).to_be_enabled()


def _selected_text_fits(select) -> bool:
    """Whether a select is wide enough to show its chosen option's whole text (a select cuts off the rest)."""
    return select.evaluate("""e => {
        const style = getComputedStyle(e), ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.font;
        const text = ctx.measureText(e.options[e.selectedIndex].text).width;
        const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 24;  // the arrow
        return text <= room;
    }""")


@pytest.mark.parametrize("width", [1280, 860])
def test_the_subject_shows_its_whole_name_level_and_price_on_desktops_and_tablets(browser_page, width):
    # (A phone's closed select may cut a long name; tapping it opens the system's list with whole names.)
    tutor, _ = factories.tutor(name="Ana Lopez", subject_name="Further Mathematics", level_name="A-level")
    tutor_id = tutor.id
    db.session.remove()
    page = browser_page("Europe/London")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/tutors/{tutor_id}")
    expect(page).to_have_url(re.compile(r"tz=.*clock="))  # the booker has reloaded in the browser's zone and clock
    subject = page.locator("#slot-picker").get_by_label("Subject and level")
    expect(subject.locator("option:checked")).to_have_text("Further Mathematics · A-level · £40.00/h")
    assert _selected_text_fits(subject), f"the subject's name is cut off at {width}px"
    _no_sideways_scroll(page)


@pytest.mark.parametrize(("locale", "clock", "first_time"), [("en-US", "12h", "9:00am"), ("en-GB", "24h", "09:00")])
def test_an_anonymous_visitor_sees_times_on_their_browsers_clock_until_they_choose_one(browser_page, locale, clock,
                                                                                      first_time):
    tutor, _ = factories.tutor(name="Ana Lopez", weekly=MORNINGS, horizon_days=120)
    tutor_id = tutor.id
    db.session.remove()
    day = _next_month_day(LONDON)
    page = browser_page("Europe/London", locale=locale)
    page.goto(f"/tutors/{tutor_id}?month={day:%Y-%m}&day={day.isoformat()}")
    booker = page.locator("#slot-picker")
    expect(booker.get_by_label(clock)).to_be_checked()
    expect(booker.locator("a.slot").first).to_have_text(first_time)
    expect(page).to_have_url(re.compile(rf"clock={clock[:2]}"))  # in the URL, so links and log-in keep it

    # Their own choice wins over the browser's, now and on the next visit.
    other = "24h" if clock == "12h" else "12h"
    booker.get_by_label(other).check()
    expect(page).to_have_url(re.compile(rf"clock={other[:2]}"))
    page.goto(f"/tutors/{tutor_id}?month={day:%Y-%m}&day={day.isoformat()}")
    expect(page.locator("#slot-picker").get_by_label(other)).to_be_checked()
    page.wait_for_load_state("networkidle")
    expect(page).not_to_have_url(re.compile(r"clock="))  # nothing to ask the browser: the choice is remembered
