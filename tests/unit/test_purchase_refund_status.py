"""A package purchase's status in words, from what its refund rows sum to."""
import pytest

from webapp.domain.labels import purchase_words, refund_failure_words
from webapp.domain.packages import RefundStatus, refund_status


@pytest.mark.parametrize(("refunded", "status"), [(0, RefundStatus.NONE), (1, RefundStatus.PARTIAL),
                                                  (3099, RefundStatus.PARTIAL), (3100, RefundStatus.FULL)])
def test_refund_status_follows_what_was_refunded_of_the_price(refunded, status):
    assert refund_status(3100, refunded) == status


def test_a_paid_purchase_reads_paid_partly_refunded_or_refunded_with_a_pending_refund_said_beside_it():
    assert purchase_words("paid", 3100, 0, 0, "GBP") == "Paid"
    assert purchase_words("paid", 3100, 1000, 0, "GBP") == "Partly refunded: £10.00 of £31.00"
    assert purchase_words("paid", 3100, 3100, 0, "GBP") == "Refunded: £31.00"
    assert purchase_words("paid", 3100, 0, 500, "GBP") == "Paid (£5.00 refund on its way)"


def test_closed_purchases_say_nothing_was_charged():
    assert purchase_words("open", 3100, 0, 0, "GBP") == "Waiting for payment"
    assert purchase_words("expired", 3100, 0, 0, "GBP") == "Expired (not charged)"
    assert purchase_words("cancelled", 3100, 0, 0, "GBP") == "Cancelled (not charged)"


def test_stripes_failure_reasons_are_worded_and_unknown_ones_shown_as_given():
    assert refund_failure_words("expired_or_canceled_card") == "the card has expired or was cancelled"
    assert refund_failure_words(None) == "no reason given"
    assert refund_failure_words("something_new") == "something_new"
