"""The mobile payment path: PaymentIntents with manual capture, 3-D Secure answers, status, and cancellation."""
import time

import pytest

from tests import factories
from tests.integration.test_payments import book, now
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import Booking
from webapp.services import accounts, approvals


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {accounts.issue_api_token(user)[0]}"}


def card_method(world, number: str) -> str:
    return world.client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}).id


def deliver_when(world, client, event_type: str) -> None:
    deadline = time.monotonic() + 5
    while event_type not in world.receiver.types() and time.monotonic() < deadline:
        time.sleep(0.05)
    world.deliver(client)


def test_paying_through_the_api_authorizes_and_the_status_follows(app, client, stripe_world):
    booking = book()
    auth = bearer(booking.booker)
    response = client.post("/api/payments/pay", json={"booking_id": booking.id, "payment_method": "pm_card_visa"},
                           headers=auth)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "requires_capture" and body["amount_minor"] == 4000
    deliver_when(stripe_world, client, "payment_intent.amount_capturable_updated")
    status = client.get(f"/api/payments/{booking.id}/status", headers=auth).get_json()
    assert status == {"booking_id": booking.id, "booking_state": "REQUIRES_CAPTURE",
                      "payment_intent_status": "requires_capture"}


def test_a_three_d_secure_card_answers_requires_action_with_what_the_client_needs(app, client, stripe_world):
    booking = book()
    auth = bearer(booking.booker)
    method = card_method(stripe_world, "4000002500003155")
    body = client.post("/api/payments/pay", json={"booking_id": booking.id, "payment_method": method},
                       headers=auth).get_json()
    assert body["status"] == "requires_action" and body["client_secret"] and body["next_action"]
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.AWAITING_PAYMENT


def test_a_declined_card_is_a_clear_422_and_the_hold_stays(app, client, stripe_world):
    booking = book()
    method = card_method(stripe_world, "4000000000000341")
    response = client.post("/api/payments/pay", json={"booking_id": booking.id, "payment_method": method},
                           headers=bearer(booking.booker))
    assert response.status_code == 422 and "declined" in response.get_json()["error"]["message"].lower()
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.AWAITING_PAYMENT


def test_paying_someone_elses_booking_is_not_found(app, client, stripe_world):
    booking = book()
    response = client.post("/api/payments/pay", json={"booking_id": booking.id, "payment_method": "pm_card_visa"},
                           headers=bearer(factories.user("student")))
    assert response.status_code == 404
    assert client.get(f"/api/payments/{booking.id}/status", headers=bearer(factories.user("student"))).status_code == 404


def test_bad_payment_input_is_refused_in_words(app, client, stripe_world):
    booking = book()
    auth = bearer(booking.booker)
    for body in [{"booking_id": booking.id}, {"booking_id": booking.id, "payment_method": 42},
                 {"booking_id": "x", "payment_method": "pm_card_visa"},
                 {"booking_id": booking.id, "payment_method": "pm_card_visa", "coupon": "NO PE!"}]:
        response = client.post("/api/payments/pay", json=body, headers=auth)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["message"]
    # A well-formed code nobody issued names no coupon: not found, as an unknown booking is.
    unknown = client.post("/api/payments/pay", headers=auth,
                          json={"booking_id": booking.id, "payment_method": "pm_card_visa", "coupon": "NOPE"})
    assert unknown.status_code == 404 and "coupon" in unknown.get_json()["error"]["fields"]


def test_cancelling_through_the_api_previews_then_refunds(app, client, stripe_world):
    booking = book()
    auth = bearer(booking.booker)
    client.post("/api/payments/pay", json={"booking_id": booking.id, "payment_method": "pm_card_visa"}, headers=auth)
    deliver_when(stripe_world, client, "payment_intent.amount_capturable_updated")
    db.session.rollback()
    approvals.approve(db.session.get(Booking, booking.id).lesson.tutor, booking.id, now())
    preview = client.get(f"/api/bookings/{booking.id}/cancellation", headers=auth).get_json()
    assert preview["kind"] == "refund" and preview["refund_minor"] == 4000
    response = client.put(f"/api/bookings/{booking.id}/cancel", json={"note": "Clash"}, headers=auth)
    assert response.status_code == 200 and response.get_json()["state"] == "REFUNDED"
    assert client.put(f"/api/bookings/{booking.id}/cancel", headers=auth).status_code == 200  # replay: no change
    stranger = bearer(factories.user("student"))
    assert client.put(f"/api/bookings/{booking.id}/cancel", headers=stranger).status_code == 404


@pytest.mark.parametrize("method", ["pm_0", "tok_HBZ", "card_Z"])
def test_paying_with_a_payment_method_stripe_does_not_have_answers_404_and_charges_nothing(app, client, stripe_world,
                                                                                          method):
    booking = book()
    response = client.post("/api/payments/pay", json={"booking_id": booking.id, "payment_method": method},
                           headers=bearer(booking.booker))
    assert response.status_code == 404, response.get_json()
    assert "payment_method" in response.get_json()["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).state == BookingState.AWAITING_PAYMENT
