"""The admin overview's bookings table has a heading naming it (and the table is labelled by it)."""
from __future__ import annotations


def test_the_admin_overview_heads_its_bookings_table(app, client):
    from tests import factories
    from tests.conftest import login
    login(client, factories.user("admin").email, factories.PASSWORD)
    page = client.get("/admin/").get_data(as_text=True)
    assert '<h2 id="recent-bookings-heading">Recent bookings</h2>' in page
    assert 'aria-labelledby="recent-bookings-heading"' in page


def test_every_admin_page_in_the_admin_nav_shows_the_nav(app, client):
    """From any admin page the others are one click away (commissions, offers, jobs and rating criteria had none)."""
    import re

    from tests import factories
    from tests.conftest import login
    boss = factories.user("admin")
    login(client, boss.email, factories.PASSWORD)
    nav = re.search(r'<p class="admin-nav">(.*?)</p>', client.get("/admin/").get_data(as_text=True), re.S).group(1)
    pages = [href for href in re.findall(r'href="([^"]+)"', nav) if href.startswith("/admin")]
    assert len(pages) >= 12
    for href in pages:
        assert 'class="admin-nav"' in client.get(href).get_data(as_text=True), href
