"""The admin overview's bookings table has a heading naming it (and the table is labelled by it)."""
from __future__ import annotations


def test_the_admin_overview_heads_its_bookings_table(app, client):
    from tests import factories
    from tests.conftest import login
    login(client, factories.user("admin").email, factories.PASSWORD)
    page = client.get("/admin/").get_data(as_text=True)
    assert '<h2 id="recent-bookings-heading">Recent bookings</h2>' in page
    assert 'aria-labelledby="recent-bookings-heading"' in page
