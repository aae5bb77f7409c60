"""Found walking Lessonbook as a newcomer at 1280 and 390 px: the pay page's discount code sits right above the quote,
and on a phone the booker's subject shows its whole name, level and price (a closed select cut it off)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.models import Teach
from webapp.services import catalogue, curriculum

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [1280, 390])
def test_the_discount_code_field_sits_right_above_the_quote(app, browser_page, width):
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=5)
    lesson = factories.lesson_at(start - timedelta(minutes=start.minute % 15), booking_state="AWAITING_PAYMENT",
                                 booked_at=datetime.now(UTC) - timedelta(minutes=1))
    email, booking_id = lesson.booking.booker.email, lesson.booking.id
    db.session.remove()
    page = browser_page()
    log_in(page, email)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/bookings/{booking_id}")
    page.get_by_role("link", name="Pay now").click()
    code = page.get_by_label("Discount code (optional)")
    quote = page.locator("#quote table")
    expect(quote).to_contain_text("Total due")
    gap = quote.bounding_box()["y"] - (code.bounding_box()["y"] + code.bounding_box()["height"])
    assert gap <= 24, f"{gap:.0f}px of empty space between the code field and the quote"
    # Typing a code still shows the check in progress, beside the field's name, and then the answer.
    code.fill("NOSUCHCODE")
    expect(page.locator("#quote").get_by_role("alert")).to_be_visible()


def test_on_a_phone_the_subject_shows_its_whole_name_level_and_price_and_still_opens_as_a_select(app, browser_page):
    tutor, _ = factories.tutor(name="Ana Lopez")
    first = {"subject_id": factories.subject("Further Mathematics and Statistics").id,
             "level_id": factories.level("University").id, "hourly_rate_minor": 12000, "currency": "GBP",
             "online": True, "in_person": False}
    catalogue.replace_teaches(tutor, [first, {**first, "subject_id": factories.subject("Physics").id,
                                              "level_id": factories.level("GCSE").id, "hourly_rate_minor": 4000}])
    physics = db.session.scalar(select(Teach.id).where(Teach.tutor_id == tutor.id, Teach.hourly_rate_minor == 4000))
    tutor_id = tutor.id
    db.session.remove()
    page = browser_page("Europe/London")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/tutors/{tutor_id}")
    expect(page).to_have_url(re.compile(r"tz=.*clock="))
    whole = "Further Mathematics and Statistics · University · £120.00/h"
    subject = page.locator("#slot-picker").get_by_label("Subject and level")
    expect(subject.locator("option:checked")).to_have_text(whole)
    face = page.locator("#booker-teach-face")
    expect(face).to_be_visible()
    expect(face).to_have_text(whole)
    # It reads like the select it stands for (not in the label's bold).
    looks = "e => [getComputedStyle(e).fontWeight, getComputedStyle(e).fontSize]"
    assert face.evaluate(looks) == subject.evaluate(looks) == ["400", "16px"]
    fits = face.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight + 1")
    assert fits, "the subject's name is cut off at 390px"
    # The select itself lies over the face: a tap lands on it, and choosing another subject shows that one.
    box = face.bounding_box()
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [box["x"] + 20, box["y"] + box["height"] / 2])
    assert hit == "booker-teach"
    subject.select_option(str(physics))
    expect(page).to_have_url(re.compile(rf"teach_id={physics}"))
    expect(page.locator("#booker-teach-face")).to_have_text("Physics · GCSE · £40.00/h")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Keyboard users see where focus is: the outline is drawn on the face the select covers.
    page.locator("#booker-teach").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    outline = page.locator("#booker-teach-face").evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"


def test_on_a_desktop_the_subject_is_the_plain_select(app, browser_page):
    tutor, _ = factories.tutor(name="Ana Lopez")
    tutor_id = tutor.id
    db.session.remove()
    page = browser_page("Europe/London")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/tutors/{tutor_id}")
    # The booker is swapped in again once the browser's zone and clock are known: read the one that stays.
    expect(page).to_have_url(re.compile(r"tz=.*clock="))
    expect(page.locator("#slot-picker").get_by_label("Subject and level")).to_be_visible()
    expect(page.locator("#booker-teach-face")).to_be_hidden()
    page.wait_for_load_state("networkidle")
    looks = "e => [getComputedStyle(e).fontWeight, getComputedStyle(e).fontSize]"
    assert page.locator("#booker-teach").evaluate(looks) == ["400", "16px"]  # as any select, not the label's bold


def test_the_month_is_one_tab_stop_so_the_keyboard_reaches_the_times_without_visiting_every_day(app, browser_page):
    # Every free day was a tab stop: about 25 presses of Tab between the month and the first time.
    tutor, _ = factories.tutor(name="Ana Lopez", horizon_days=120)
    tutor_id = tutor.id
    db.session.remove()
    page = browser_page("Europe/London")
    page.goto(f"/tutors/{tutor_id}")
    expect(page).to_have_url(re.compile(r"tz=.*clock="))
    page.locator("#booker-next-month").focus()
    page.keyboard.press("Tab")
    chosen = page.evaluate("document.activeElement.getAttribute('aria-current')")
    assert chosen == "true", "Tab from the month's arrows lands on the chosen day"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('slot')"), "the next Tab reaches the times"
    # The arrow keys still walk the days, and the day they reach is the calendar's stop from then on.
    page.keyboard.press("Shift+Tab")
    start = page.evaluate("document.activeElement.dataset.date")
    page.keyboard.press("ArrowRight")
    moved = page.evaluate("document.activeElement.dataset.date")
    assert moved > start
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.date") == moved


@pytest.mark.parametrize("width", [1280, 860])
def test_a_mistakes_topic_shows_its_whole_name_on_the_notes_page(app, browser_page, width):
    # At 1280 px the topic had a third of the card and cut "Expanding brackets" short. (A phone may still cut the
    # longest topic in the closed select; its system list shows whole names.)
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    lesson = factories.finished_lesson()
    lesson_id, tutor_email = lesson.id, lesson.tutor.email
    db.session.remove()
    page = browser_page("Europe/London")
    log_in(page, tutor_email)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/lessons/{lesson_id}/notes")
    topic = page.get_by_label("Topic of mistake 1")
    longest = max(topic.locator("option").all_inner_texts(), key=len)
    topic.select_option(label=longest)
    assert _selected_text_fits(topic), f"“{longest}” is cut off at {width}px"
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _selected_text_fits(select) -> bool:
    """Whether a select is wide enough to show its chosen option's whole text (a select cuts off the rest)."""
    return select.evaluate("""e => {
        const style = getComputedStyle(e), ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.font;
        const text = ctx.measureText(e.options[e.selectedIndex].text).width;
        const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 24;  // the arrow
        return text <= room;
    }""")
