"""The admin's payouts page: each paid lesson's payout status, failed ones with Stripe's error and a Retry that goes
through the payout job's own path, audited."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_refunds_and_payouts import onboard, paid_booking
from webapp.extensions import db
from webapp.models import AuditEntry, PaymentReceipt, PayoutAccount
from webapp.services import payouts
from webapp.services.errors import Conflict, Forbidden


def test_a_failed_payout_shows_its_error_and_retry_pays_it_once(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    account = onboard(booking.lesson.tutor)
    real_id = account.stripe_account_id
    account.stripe_account_id = "acct_closedmeanwhile"  # the destination Stripe no longer knows
    later = datetime.now(UTC)
    # The lesson took place four days ago (settled), so the page's retry (which uses the real clock) finds it due.
    booking.lesson.start_at, booking.lesson.finish_at = later - timedelta(days=4), later - timedelta(days=4, hours=-1)
    db.session.commit()
    assert payouts.send_pending_payouts(later) == 0
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.transfer_id is None and receipt.transfer_error

    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/payouts?failed=1").get_data(as_text=True)
    assert f"#{booking.id}" in page and "Failed:" in page and "Retry" in page

    with pytest.raises(Forbidden):
        payouts.retry_payout(factories.user("support"), booking.id, later)
    db.session.get(PayoutAccount, booking.lesson.tutor_id).stripe_account_id = real_id  # fixed by the tutor
    db.session.commit()
    response = client.post(f"/admin/payouts/{booking.id}/retry", data={"csrf_token": csrf_from(page)},
                           follow_redirects=True)
    assert f"The payout of booking #{booking.id} is transferred." in response.get_data(as_text=True)
    db.session.expire_all()
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.transfer_id and receipt.transfer_error is None
    transfers = stripe_world.client.v1.transfers.list(params={"destination": real_id}).data
    assert len(transfers) == 1
    with pytest.raises(Conflict, match="already transferred"):
        payouts.retry_payout(admin, booking.id, later)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payout.retry"))
    assert entry.actor_id == admin.id and entry.before["transfer_error"] and entry.after["transfer_id"]
    assert "Paid" in client.get("/admin/payouts").get_data(as_text=True)


def test_a_payout_not_yet_due_cannot_be_retried(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    onboard(booking.lesson.tutor)
    admin = factories.user("admin")
    with pytest.raises(Conflict, match="not due yet"):
        payouts.retry_payout(admin, booking.id, booking.lesson.finish_at)
    rows = payouts.payout_overview(admin, booking.lesson.finish_at)
    assert [(r.booking.id, r.status) for r in rows] == [(booking.id, "waiting")]


def test_only_admins_see_payouts(app, client):
    support = factories.user("support")
    login(client, support.email, factories.PASSWORD)
    assert client.get("/admin/payouts").status_code == 403


def test_a_bookings_timeline_tells_its_story_from_the_rows_and_offers_the_open_actions(app, client, stripe_world):
    from webapp.services import cancellations
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 500, "Late start", datetime.now(UTC))
    support = factories.user("support")
    login(client, support.email, factories.PASSWORD)
    page = client.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    for fact in ("Booked by", "Payment authorized", "Refund £5.00 (succeeded): Late start",
                 f"{admin.name}: Refund of £5.00 on booking #{booking.id} sent to Stripe: Late start", "Partly refunded"):
        assert fact in page, fact
    assert "your limit £50.00" in page and "Cancel this lesson" not in page  # support: capped refunds, no cancel
    stranger = app.test_client()
    login(stranger, booking.booker.email, factories.PASSWORD)
    assert stranger.get(f"/admin/bookings/{booking.id}").status_code == 403


def _retry_page(client, admin, booking_id):
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/payouts").get_data(as_text=True)
    return client.post(f"/admin/payouts/{booking_id}/retry", data={"csrf_token": csrf_from(page)},
                       follow_redirects=True).get_data(as_text=True)


def test_retrying_a_failed_payout_refunded_in_full_says_nothing_is_owed_changes_nothing_and_is_audited(
        app, client, stripe_world):
    from tests.integration.test_admin_audit_walk import _failed_payout
    from webapp.services import cancellations
    booking = _failed_payout({"world": stripe_world, "client": client})
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, booking.price_minor, "Lesson never happened", datetime.now(UTC))
    error = db.session.scalar(select(PaymentReceipt.transfer_error).where(PaymentReceipt.booking_id == booking.id))
    assert error
    page = _retry_page(client, admin, booking.id)
    assert "Nothing is owed to the tutor" in page and "nothing was sent" in page and "failed again" not in page
    assert "is transferred" not in page
    db.session.expire_all()
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.transfer_id is None and receipt.transfer_error == error  # no change claimed, none made
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "payout.retry"))
    assert entry.actor_id == admin.id and "nothing sent" in entry.summary and entry.after["sent"] is False
    assert entry.before["transfer_error"] == entry.after["transfer_error"] == error
    listing = client.get("/admin/payouts").get_data(as_text=True)
    assert "Nothing to pay out" in listing and f'/admin/payouts/{booking.id}/retry' not in listing
    assert "Retry the failed payout" not in client.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)


def test_retrying_a_failed_payout_while_a_refund_waits_for_stripe_says_so_and_is_audited(app, client, stripe_world):
    from tests.integration.test_admin_audit_walk import _failed_payout
    from webapp.models import Refund
    booking = _failed_payout({"world": stripe_world, "client": client})
    db.session.add(Refund(booking_id=booking.id, status="pending", amount_minor=100, currency="GBP",
                          idempotency_key=f"walk-pending-{booking.id}"))
    db.session.commit()
    admin = factories.user("admin")
    page = _retry_page(client, admin, booking.id)
    assert "still waiting for its answer" in page and "nothing was sent" in page and "failed again" not in page
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "payout.retry"))
    assert "nothing sent" in entry.summary and entry.after["amount_minor"] == 0


def test_a_refund_made_on_the_staff_timeline_comes_back_to_the_timeline(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    support = factories.user("support")
    login(client, support.email, factories.PASSWORD)
    page = client.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    for amount in ("abc", "2.00"):  # refused or made, the staff stays on the timeline
        answer = client.post(f"/admin/bookings/{booking.id}/refund", data={
            "csrf_token": csrf_from(page), "amount": amount, "reason": "Late start", "request_key": key,
            "back": "timeline"})
        assert answer.status_code == 303 and answer.location.endswith(f"/admin/bookings/{booking.id}"), amount
    assert 'name="back" value="timeline"' in page


def test_staff_pages_link_a_booking_to_its_staff_timeline(app, client, stripe_world):
    """The payouts list and a ticket about a booking open the staff's timeline (with its actions), not the user's
    booking page."""
    from webapp.services import tickets
    booking = paid_booking(stripe_world, client)
    ticket = tickets.open_ticket(booking.booker, "Tutor was late", "Ten minutes late.", booking.id, [],
                                 datetime.now(UTC))
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    timeline = f'href="/admin/bookings/{booking.id}"'
    assert timeline in client.get("/admin/payouts").get_data(as_text=True)
    assert timeline in client.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
