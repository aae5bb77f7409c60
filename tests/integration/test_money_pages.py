"""The money pages as a browser (or htmx) uses them: pay with a live quote, approve, cancel, admin pages."""
import re

from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_for, login
from tests.integration.test_payments import authorize, book, now
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import Booking, Commission, Coupon
from webapp.services import approvals

HX = {"HX-Request": "true"}


def test_pay_page_quotes_live_and_sends_the_student_to_stripe_checkout(app, client, stripe_world):
    db.session.add(Coupon(code="SPRING", usage="TWO_TIME_USE", discount_type="DISCOUNT_TYPE_AMOUNT", amount_minor=500,
                          currency="GBP", active=True))
    db.session.commit()
    booking = book()
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}/pay").get_data(as_text=True)
    assert "Total due" in page and "Total paid" not in page  # nothing is paid yet
    assert re.search(r'id="pay-button">Pay <span id="pay-amount">£40.00</span>', page)
    quote = client.get(f"/bookings/{booking.id}/quote?coupon=spring", headers=HX)
    body = quote.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="quote"') and "£35.00" in body and "Code SPRING applied" in body
    assert '<span id="pay-amount" hx-swap-oob="true">£35.00</span>' in body  # the button's amount follows
    wrong = client.get(f"/bookings/{booking.id}/quote?coupon=WINTER", headers=HX).get_data(as_text=True)
    assert "We do not know that code" in wrong and "£40.00" in wrong
    response = client.post(f"/bookings/{booking.id}/pay", data={"coupon": "SPRING", "csrf_token": csrf_for(client)})
    assert response.status_code == 303 and response.headers["Location"].startswith(stripe_world.server.url)


def test_paying_with_a_code_we_do_not_know_says_so_once_beside_the_code_and_sends_nobody_to_stripe(app, client,
                                                                                            stripe_world):
    booking = book()
    login(client, booking.booker.email, factories.PASSWORD)
    response = client.post(f"/bookings/{booking.id}/pay", data={"coupon": "WINTER", "csrf_token": csrf_for(client)})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and page.count("We do not know that code") == 1
    assert 'value="WINTER"' in page and "£40.00" in page  # the code stays as typed; the price has no discount
    assert db.session.get(Booking, booking.id).checkout_session_id is None


def test_someone_elses_booking_cannot_be_paid(app, client, stripe_world):
    booking = book()
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.get(f"/bookings/{booking.id}/pay").status_code == 404
    assert client.post(f"/bookings/{booking.id}/pay", data={"csrf_token": csrf_for(client)}).status_code == 404


def test_return_page_polls_until_the_webhook_has_moved_the_booking(app, client, stripe_world):
    booking = book()
    login(client, booking.booker.email, factories.PASSWORD)
    waiting = client.get(f"/bookings/{booking.id}/payment-status?paid=1", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in waiting and "Confirming your payment" in waiting
    authorize(stripe_world, client, booking)
    done = client.get(f"/bookings/{booking.id}/payment-status?paid=1", headers=HX).get_data(as_text=True)
    assert "every 2s" not in done and "waiting for the tutor to approve" in done


def test_tutor_approves_from_the_dashboard(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    login(client, booking.lesson.tutor.email, factories.PASSWORD)
    lessons = client.get("/tutor/").get_data(as_text=True)
    assert "approve by" in lessons and "Approve" in lessons and "connect a Stripe account" in lessons
    response = client.post(f"/tutor/bookings/{booking.id}/approve", data={"csrf_token": csrf_for(client)})
    assert response.status_code == 303
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.PAID
    again = client.post(f"/tutor/bookings/{booking.id}/approve", data={"csrf_token": csrf_for(client)},
                        follow_redirects=True)
    assert again.status_code == 200  # a double click changes nothing and errors nowhere


def test_another_tutor_cannot_approve_or_decline(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    login(client, factories.user("tutor").email, factories.PASSWORD)
    page = client.post(f"/tutor/bookings/{booking.id}/decline", data={"csrf_token": csrf_for(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert "We could not find that booking" in page
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE


def test_cancel_page_shows_the_refund_before_confirming(app, client, stripe_world):
    booking = authorize(stripe_world, client, book(days_ahead=5))
    approvals.approve(booking.lesson.tutor, booking.id, now())
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}/cancel").get_data(as_text=True)
    assert "full refund of £40.00" in page
    response = client.post(f"/bookings/{booking.id}/cancel", data={"csrf_token": csrf_for(client), "note": "Sorry"})
    assert response.status_code == 303
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Cancelled and refunded in full" in detail and "Sorry" in detail


def test_admin_adds_a_commission_which_disables_the_previous_one(app, client):
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    token = csrf_for(client)
    form = {"csrf_token": token, "commission_fee_bp": "15", "service_fee_bp": "5", "payout_fee_bp": "1",
            "payout_amount_fee_minor": "0.25", "account_management_amount_fee_minor": "2.00"}
    assert client.post("/admin/commissions", data=form).status_code == 303
    assert client.post("/admin/commissions", data={**form, "commission_fee_bp": "12.5"}).status_code == 303
    rows = list(db.session.scalars(select(Commission).order_by(Commission.id)))
    assert [(c.commission_fee_bp, c.active) for c in rows] == [(1500, False), (1250, True)]
    bad = client.post("/admin/commissions", data={**form, "commission_fee_bp": "lots"})
    assert bad.status_code == 422 and "Percentages look like 12.5" in bad.get_data(as_text=True)


def test_admin_creates_coupons_and_bad_terms_are_explained(app, client):
    login(client, factories.user("admin").email, factories.PASSWORD)
    token = csrf_for(client)
    ok = client.post("/admin/coupons", data={"csrf_token": token, "code": "summer-25", "usage": "ONE_TIME_USE",
                                            "discount_type": "DISCOUNT_TYPE_PERCENT", "percent": "25",
                                            "max_discount": "10.00", "currency": "GBP", "max_total_uses": "100"})
    assert ok.status_code == 303
    coupon = db.session.scalar(select(Coupon))
    assert (coupon.code, coupon.percent_bp, coupon.max_discount_amount_minor) == ("SUMMER-25", 2500, 1000)
    dup = client.post("/admin/coupons", data={"csrf_token": token, "code": "SUMMER-25", "usage": "ONE_TIME_USE",
                                             "discount_type": "DISCOUNT_TYPE_PERCENT", "percent": "10"})
    assert dup.status_code == 422 and "already exists" in dup.get_data(as_text=True)
    bad = client.post("/admin/coupons", data={"csrf_token": token, "code": "x y", "usage": "ONE_TIME_USE",
                                             "discount_type": "DISCOUNT_TYPE_AMOUNT", "amount": "5", "currency": "GBP"})
    assert bad.status_code == 422 and "letters, digits" in bad.get_data(as_text=True)


def test_only_admins_reach_admin_pages(app, client):
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/coupons").status_code == 403


def test_tutor_connects_stripe_and_payouts_become_enabled(app, client, stripe_world):
    import requests
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    assert "Payouts are blocked" in client.get("/tutor/payouts").get_data(as_text=True)
    response = client.post("/tutor/payouts/onboard", data={"csrf_token": csrf_for(client)})
    assert response.status_code == 303
    onboarding = requests.post(response.headers["Location"], allow_redirects=False, timeout=10)
    assert onboarding.status_code == 303 and "/tutor/payouts/return" in onboarding.headers["Location"]
    back = client.get("/tutor/payouts/return", follow_redirects=True).get_data(as_text=True)
    assert "Your Stripe account is connected." in back
    # Said once, by the page, with the configured settlement days (the flash said it too, as "two days").
    assert back.count("Payouts are enabled") == 1
    assert f"transferred to your Stripe account {app.config['SETTLEMENT_DAYS']} days after it ends" in back


def test_admin_refunds_part_of_a_booking_from_its_page(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    login(client, factories.user("admin").email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert "Refund amount (up to £40.00)" in page
    too_much = client.post(f"/admin/bookings/{booking.id}/refund", data={"csrf_token": csrf_for(client),
                                                                        "amount": "40.01"}, follow_redirects=True)
    assert "Refund between £0.01 and £40.00" in too_much.get_data(as_text=True)
    done = client.post(f"/admin/bookings/{booking.id}/refund", data={"csrf_token": csrf_for(client), "amount": "12.50",
                                                                     "reason": "Late start"}, follow_redirects=True)
    assert "Refund of £12.50 sent. The lesson still stands" in done.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.PARTIAL_REFUNDED
    login(client, booking.booker.email, factories.PASSWORD)
    assert client.post(f"/admin/bookings/{booking.id}/refund", data={"csrf_token": csrf_for(client),
                                                                    "amount": "1"}).status_code == 403
