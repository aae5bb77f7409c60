"""The admin analytics dashboard: numbers from the event and receipt rows, filters, CSV export, bad dates in words."""
from datetime import UTC, datetime, timedelta

from tests import factories
from tests.conftest import login
from tests.integration.test_payments import authorize, book
from webapp.services import approvals, cancellations, dashboard


def now() -> datetime:
    return datetime.now(UTC)


def test_the_dashboard_counts_bookings_money_funnel_and_cancellations_from_the_rows(app, client, stripe_world):
    paid = book(rate_minor=4500)
    authorize(stripe_world, client, paid)
    approvals.approve(paid.lesson.tutor, paid.id, now())
    other = book()
    cancellations.cancel_booking(other.booker, other.id, "", now())
    boss = factories.user("admin")
    today = now().date()
    board = dashboard.dashboard(boss, today, today)
    [day] = board.days
    assert (day.bookings, day.revenue, day.platform_take) == (2, {"GBP": 4500}, {"GBP": 0})
    assert dict(board.funnel) == {"Viewed": 0, "Booked": 2, "Paid": 1, "Approved": 1}
    assert board.cancellations == [("Student or parent", 1)]
    assert 'data-value="2"' in board.charts["bookings"] and "£45.00" in board.charts["revenue-GBP"]
    only_paid_tutor = dashboard.dashboard(boss, today, today, tutor_id=paid.lesson.tutor_id)
    assert only_paid_tutor.days[0].bookings == 1 and only_paid_tutor.cancellations == []
    week = dashboard.dashboard(boss, today, today + timedelta(days=7), tutor_id=paid.lesson.tutor_id)
    [(name, booked, offered)] = week.utilisation
    assert name == paid.lesson.tutor.name and booked == 60 and offered > 0
    assert f"{60 * 100 // offered}%" in week.charts["utilisation"]

    login(client, boss.email, factories.PASSWORD)
    page = client.get("/admin/analytics")
    assert page.status_code == 200 and '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in page.get_data(as_text=True)
    exported = client.get(f"/admin/analytics.csv?start={today}&end={today}")
    assert exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True).splitlines() == [
        "date,bookings,currency,revenue_minor,platform_take_minor", f"{today},2,GBP,4500,0"]


def test_bad_dates_are_refused_in_words_and_only_admins_see_it(app, client):
    boss = factories.user("admin")
    login(client, boss.email, factories.PASSWORD)
    backwards = client.get("/admin/analytics?start=2027-03-10&end=2027-03-01")
    assert backwards.status_code == 422 and "The range must start before it ends." in backwards.get_data(as_text=True)
    assert client.get("/admin/analytics?start=yesterday").status_code == 422
    assert client.get(f"/admin/analytics.csv?start={now().date() - timedelta(days=400)}").status_code == 422
    client.post("/logout")
    student = factories.user("student")
    other = app.test_client()
    login(other, student.email, factories.PASSWORD)
    assert other.get("/admin/analytics").status_code in (403, 404)


def test_money_charts_are_one_per_currency_and_never_add_currencies_up(app, client, stripe_world):
    from tests.integration.test_admin_audit_walk import paid
    world = {"world": stripe_world, "client": client}
    paid(world, rate_minor=4500)
    paid(world, tutor_teach=factories.tutor(currency="EUR", rate_minor=3000))
    boss = factories.user("admin")
    today = now().date()
    board = dashboard.dashboard(boss, today, today)
    assert board.currencies == ["EUR", "GBP"]
    assert board.days[0].revenue == {"GBP": 4500, "EUR": 3000}
    assert 'data-value="4500"' in board.charts["revenue-GBP"] and "£45.00" in board.charts["revenue-GBP"]
    assert 'data-value="3000"' in board.charts["revenue-EUR"] and "€30.00" in board.charts["revenue-EUR"]
    assert "7500" not in "".join(board.charts.values())  # no sum across currencies anywhere
    assert [title for title, _ in board.sections][1:5] == ["Revenue (EUR)", "Revenue (GBP)", "Platform take (EUR)",
                                                           "Platform take (GBP)"]
    login(client, boss.email, factories.PASSWORD)
    page = client.get("/admin/analytics").get_data(as_text=True)
    assert 'id="chart-revenue-eur"' in page and 'id="chart-revenue-gbp"' in page
    assert 'id="chart-take-eur"' in page and 'id="chart-take-gbp"' in page


def test_a_range_without_payments_still_draws_one_empty_money_chart(app):
    board = dashboard.dashboard(factories.user("admin"), now().date(), now().date())
    assert board.currencies == ["GBP"] and 'data-value="0"' in board.charts["revenue-GBP"]


def test_a_range_without_bookings_says_so_instead_of_drawing_empty_charts(app, client):
    boss = factories.user("admin")
    login(client, boss.email, factories.PASSWORD)
    start = now().date() - timedelta(days=30)
    page = client.get(f"/admin/analytics?start={start}&end={start + timedelta(days=6)}").get_data(as_text=True)
    assert 'id="analytics-no-bookings"' in page and "No bookings between" in page
    assert 'class="chart"' not in page and 'id="analytics-days"' not in page and 'id="csv-export"' not in page


def test_the_admin_overview_without_bookings_says_so(app, client):
    boss = factories.user("support")
    login(client, boss.email, factories.PASSWORD)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="no-bookings"' in page and "No bookings yet." in page


def test_dates_at_the_ends_of_the_calendar_and_odd_ids_are_refused_in_words_not_500(app, client):
    boss = factories.user("admin")
    login(client, boss.email, factories.PASSWORD)
    for query in ("end=9999-12-31", "end=0001-01-01", "start=0001-01-01&end=0001-01-05"):
        for path in ("/admin/analytics", "/admin/analytics.csv"):
            answer = client.get(f"{path}?{query}")
            assert answer.status_code == 422 and "Choose dates between" in answer.get_data(as_text=True), query
    for query in ("tutor=99999999999999999999", "tutor=%C2%B2"):
        assert client.get(f"/admin/analytics?{query}").status_code == 200


def test_the_dashboard_says_its_days_are_utc_days(app, client):
    boss = factories.user("admin", timezone="America/Chicago")
    login(client, boss.email, factories.PASSWORD)
    page = client.get("/admin/analytics").get_data(as_text=True)
    assert "Each day runs from midnight to midnight UTC, not America/Chicago" in page
