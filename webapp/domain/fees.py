"""The fee breakdown of one paid lesson, and how a refund splits between tutor and platform.

Stdlib only. Amounts are ints in minor units with the currency code beside them; every computed
amount is rounded once by ``money.round_half_up`` (nearest minor unit, halves away from zero).
Rates are basis points (1 bp = 0.01 %), so 12.5 % is exactly 1250 and no float is ever involved.

The rules, in the order they are applied
    discount        funded by the platform (a special offer or coupon); 0 <= discount <= lesson
                    price. It is kept exactly as given: a coupon bigger than the platform's fees
                    makes ``platform_take`` negative, i.e. that lesson costs the platform money.
    service_fee     round(lesson_price x service_fee_bp / 10000), charged to the student on top.
    student_pays    lesson_price - discount + service_fee.
    commission_fee  round(lesson_price x commission_fee_bp / 10000), on the LIST price, so a
                    coupon never cuts the tutor's pay.
    payout_fee      round((lesson_price - commission_fee) x payout_fee_bp / 10000).
    payout_amount_fee, then account_management_fee (the latter only on the tutor's first paid
                    lesson of the calendar month): fixed amounts, each capped at what is left of
                    the tutor's share, so the tutor's payout is never negative.
    tutor_payout    lesson_price - commission_fee - payout_fee - payout_amount_fee
                    - account_management_fee  (>= 0).
    platform_take   student_pays - tutor_payout
                    == service_fee + commission_fee + payout_fee + payout_amount_fee
                       + account_management_fee - discount   (exactly; checked on construction).

Refunds (``refund_split``)
    A refund comes out of what the student paid. Refunding a fraction f = refunded / student_pays
    of the payment reduces the tutor's payout by the same fraction f (rounded once by the rule);
    the platform take absorbs the rest. The split is computed on the running totals,
    ``tutor_refunded(R) = round(tutor_payout x R / student_pays)``, and each refund's tutor part
    is the difference of two such totals. So a series of partial refunds ends exactly where one
    refund of the same total would, rounding never drifts, and a full refund always leaves
    tutor 0 / platform 0. When ``platform_take >= 0`` this is the split "in proportion to the
    tutor's and the platform's shares of what the student paid". When a big coupon made
    ``platform_take`` negative (the platform topped up the tutor), the same rule still cuts the
    tutor's payout in proportion, and the platform's part of the refund is negative: its
    subsidy shrinks by the same fraction, back to 0 on a full refund. Either way the tutor's
    payout after a refund stays between 0 and the original payout. A lesson the student paid
    nothing for (a 100 % coupon, no service fee) has nothing to refund; whether its tutor is
    still paid after a cancellation is the caller's decision, not this module's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from fractions import Fraction

from .money import Money, round_half_up

BP_DENOMINATOR = 10_000


def _require_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number of minor units or basis points, got {value!r}")
    return value


def _bp(amount_minor: int, bp: int) -> int:
    """amount x bp / 10000, rounded once by the one rule."""
    return round_half_up(Fraction(amount_minor * bp, BP_DENOMINATOR))


def _minor_units_dict(record) -> dict:
    """A dataclass of amounts as JSON: ``currency`` plus every other field as ``<name>_minor``."""
    out: dict = {"currency": record.currency}
    out.update({f"{f.name}_minor": getattr(record, f.name) for f in fields(record) if f.name != "currency"})
    return out


@dataclass(frozen=True)
class CommissionRates:
    """The platform's active commission: percentages in basis points, fixed fees in minor units."""

    commission_fee_bp: int
    service_fee_bp: int
    payout_fee_bp: int
    payout_amount_fee_minor: int
    account_management_amount_fee_minor: int

    def __post_init__(self) -> None:
        for name in ("commission_fee_bp", "service_fee_bp", "payout_fee_bp"):
            value = _require_int(name, getattr(self, name))
            if not 0 <= value <= BP_DENOMINATOR:
                raise ValueError(f"{name} must be between 0 and 10000 basis points (0-100 %), got {value}")
        for name in ("payout_amount_fee_minor", "account_management_amount_fee_minor"):
            value = _require_int(name, getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} cannot be negative, got {value}")

    def as_dict(self) -> dict:
        """JSON form, e.g. to freeze the rates used on a receipt."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CommissionRates:
        """Inverse of ``as_dict``; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(f"Commission rates need exactly the keys {sorted(names)}, got {sorted(data)}")
        return cls(**data)


@dataclass(frozen=True)
class FeeBreakdown:
    """Every line of one lesson's money, in minor units of ``currency``; balanced by construction."""

    currency: str
    lesson_price: int
    discount: int
    service_fee: int
    student_pays: int
    commission_fee: int
    payout_fee: int
    payout_amount_fee: int
    account_management_fee: int
    tutor_payout: int
    platform_take: int

    def __post_init__(self) -> None:
        Money(0, self.currency)  # rejects an unsupported currency
        for f in fields(self):
            if f.name != "currency":
                _require_int(f.name, getattr(self, f.name))
        if self.student_pays != self.lesson_price - self.discount + self.service_fee:
            raise ValueError("student_pays must equal lesson_price - discount + service_fee")
        deductions = self.commission_fee + self.payout_fee + self.payout_amount_fee + self.account_management_fee
        if self.tutor_payout != self.lesson_price - deductions:
            raise ValueError("tutor_payout must equal lesson_price minus the tutor-side fees")
        if self.student_pays != self.tutor_payout + self.platform_take:
            raise ValueError("What the student pays must equal the tutor's payout plus the platform's take")
        if self.platform_take != self.service_fee + deductions - self.discount:
            raise ValueError("platform_take must equal the platform's fees minus the discount")
        if min(self.lesson_price, self.discount, self.service_fee, self.commission_fee, self.payout_fee,
               self.payout_amount_fee, self.account_management_fee, self.tutor_payout) < 0:
            raise ValueError("Only platform_take may be negative in a fee breakdown")
        if self.discount > self.lesson_price:
            raise ValueError("A discount cannot exceed the lesson price")

    def as_dict(self) -> dict:
        """JSON form: ``currency`` plus each line as ``<line>_minor``."""
        return _minor_units_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeeBreakdown:
        """Inverse of ``as_dict`` (a stored receipt); the balance checks run again."""
        kwargs = {"currency": data["currency"]}
        for f in fields(cls):
            if f.name != "currency":
                kwargs[f.name] = data[f"{f.name}_minor"]
        return cls(**kwargs)

    def _m(self, amount: int) -> Money:
        return Money(amount, self.currency)

    def student_lines(self, total_label: str = "Total paid") -> list[tuple[str, Money]]:
        """The student's receipt: price, discount (if any, negative), service fee, total; sums to the total.

        ``total_label`` names the total for where the money stands ("Total due" before paying)."""
        rows = [("Lesson price", self._m(self.lesson_price))]
        if self.discount:
            rows.append(("Discount", self._m(-self.discount)))
        rows += [("Service fee", self._m(self.service_fee)), (total_label, self._m(self.student_pays))]
        return rows

    def tutor_lines(self) -> list[tuple[str, Money]]:
        """The tutor's statement: price, each deduction (negative), payout; sums to the payout."""
        rows = [("Lesson price", self._m(self.lesson_price)),
                ("Commission", self._m(-self.commission_fee)),
                ("Payout fee", self._m(-self.payout_fee)),
                ("Fixed payout fee", self._m(-self.payout_amount_fee))]
        if self.account_management_fee:
            rows.append(("Account management fee", self._m(-self.account_management_fee)))
        rows.append(("Tutor payout", self._m(self.tutor_payout)))
        return rows

    def lines(self) -> list[tuple[str, Money]]:
        """The full ledger for admins: the student's receipt, the tutor's deductions, the platform take."""
        return self.student_lines() + self.tutor_lines()[1:] + [("Platform take", self._m(self.platform_take))]


def fee_breakdown(lesson_price_minor: int, currency: str, rates: CommissionRates, discount_minor: int = 0,
                  first_paid_lesson_of_month: bool = False) -> FeeBreakdown:
    """Apply the rules in the module docstring to one lesson price."""
    price = _require_int("lesson_price_minor", lesson_price_minor)
    discount = _require_int("discount_minor", discount_minor)
    Money(price, currency)  # rejects an unsupported currency
    if price < 0:
        raise ValueError("A lesson price cannot be negative")
    if not 0 <= discount <= price:
        raise ValueError(f"A discount must be between 0 and the lesson price ({price}), got {discount}")

    service_fee = _bp(price, rates.service_fee_bp)
    commission_fee = _bp(price, rates.commission_fee_bp)
    left = price - commission_fee  # bp <= 10000, so 0 <= left
    payout_fee = _bp(left, rates.payout_fee_bp)
    left -= payout_fee  # and still 0 <= left
    payout_amount_fee = min(rates.payout_amount_fee_minor, left)
    left -= payout_amount_fee
    management_fee = min(rates.account_management_amount_fee_minor, left) if first_paid_lesson_of_month else 0
    left -= management_fee

    student_pays = price - discount + service_fee
    return FeeBreakdown(
        currency=currency, lesson_price=price, discount=discount, service_fee=service_fee,
        student_pays=student_pays, commission_fee=commission_fee, payout_fee=payout_fee,
        payout_amount_fee=payout_amount_fee, account_management_fee=management_fee,
        tutor_payout=left, platform_take=student_pays - left)


@dataclass(frozen=True)
class RefundSplit:
    """One refund and who gives it back; ``*_after`` are what the tutor and platform keep afterwards."""

    currency: str
    refund: int
    from_tutor: int
    from_platform: int  # negative only when the platform had subsidised the lesson (see module docstring)
    total_refunded: int  # including this refund
    remaining_refundable: int
    tutor_payout_after: int
    platform_take_after: int

    @property
    def fully_refunded(self) -> bool:
        """True when nothing of the payment is left (booking → REFUNDED, else PARTIAL_REFUNDED)."""
        return self.remaining_refundable == 0

    def as_dict(self) -> dict:
        """JSON form: ``currency`` plus each amount as ``<name>_minor``."""
        return _minor_units_dict(self)


def _tutor_refunded(b: FeeBreakdown, total_refunded: int) -> int:
    """How much of the tutor's payout has gone back once ``total_refunded`` of the payment has."""
    if b.student_pays == 0:
        return 0
    return round_half_up(Fraction(b.tutor_payout * total_refunded, b.student_pays))


def refund_split(b: FeeBreakdown, refund_minor: int, already_refunded_minor: int = 0) -> RefundSplit:
    """Split a refund of what the student paid between the tutor's payout and the platform take.

    ``already_refunded_minor`` is the total of earlier refunds on the same payment, each split by
    this function; the split works on running totals so the parts always add up (module docstring).
    """
    refund = _require_int("refund_minor", refund_minor)
    already = _require_int("already_refunded_minor", already_refunded_minor)
    paid = b.student_pays
    fmt = lambda amount: Money(amount, b.currency).format()
    if refund < 0:
        raise ValueError("A refund cannot be negative")
    if not 0 <= already <= paid:
        raise ValueError(f"Earlier refunds of {fmt(already)} do not fit a payment of {fmt(paid)}")
    remaining = paid - already
    if refund > remaining:
        if remaining == 0:
            raise ValueError(f"The payment of {fmt(paid)} has already been refunded in full.")
        raise ValueError(f"Only {fmt(remaining)} of the {fmt(paid)} paid is left to refund, "
                         f"so {fmt(refund)} cannot be refunded.")
    total = already + refund
    before, after = _tutor_refunded(b, already), _tutor_refunded(b, total)
    from_tutor = after - before
    tutor_after = b.tutor_payout - after
    return RefundSplit(
        currency=b.currency, refund=refund, from_tutor=from_tutor, from_platform=refund - from_tutor,
        total_refunded=total, remaining_refundable=paid - total, tutor_payout_after=tutor_after,
        platform_take_after=(paid - total) - tutor_after)


def transfer_reversal_due(transferred_minor: int, tutor_payout_now_minor: int, reversed_minor: int) -> int:
    """How much of a tutor's transfer to take back after refunds made once it was sent: what was transferred,
    less what the tutor is owed now, less what was already taken back (never negative)."""
    for name, value in (("transferred_minor", transferred_minor), ("tutor_payout_now_minor", tutor_payout_now_minor),
                        ("reversed_minor", reversed_minor)):
        if _require_int(name, value) < 0:
            raise ValueError(f"{name} cannot be negative")
    return max(0, transferred_minor - tutor_payout_now_minor - reversed_minor)
