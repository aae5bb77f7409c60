"""Found walking Lessonbook as a newcomer on a phone: what a thumb or a keyboard could not reach."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.services import accounts, availability

pytestmark = pytest.mark.e2e


def test_every_remove_control_on_a_phone_is_at_least_24_px_each_way(app, browser_page):
    # The "×" that removes a weekly hour window was 12×22 px at 390 px wide: too small to tap surely.
    tutor, _ = factories.tutor(weekly=[(0, "09:00", "17:00")])
    parent = factories.user("parent")
    accounts.add_child(parent, name="Robin", year_level="Year 9", timezone=None)
    tutor_email, parent_email = tutor.email, parent.email
    db.session.remove()
    for email, path in ((tutor_email, "/tutor/availability"), (tutor_email, "/tutor/teaches"),
                        (parent_email, "/children")):
        page = browser_page()
        log_in(page, email)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(path)
        removes = page.locator("details.confirm > summary")
        expect(removes.first).to_be_visible()
        for box in (removes.nth(i).bounding_box() for i in range(removes.count())):
            assert box["width"] >= 24 and box["height"] >= 24, f"{path}: a remove control is {box}"
