"""Special offers: who an offer is for, and which of the offers a student may have is the best one.

Stdlib only. The discount itself is a coupon's (``coupons.discount_for``): an offer is a coupon with an audience.

Decisions
    * A new student is one who has never had a booking paid (authorized) for them as its booker.
    * A tutor's students are bookers who have had a paid booking with that tutor; the offer then applies to lessons
      with that tutor only (a loyalty offer for one tutor's students should not discount another tutor's lessons).
    * The best offer is the one with the largest discount on this booking; a tie goes to the one ending soonest (it is
      the one the student would otherwise lose), then to the oldest.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Audience(StrEnum):
    """Who a special offer is for."""

    EVERYONE = "EVERYONE"
    NEW_STUDENTS = "NEW_STUDENTS"
    TUTOR_STUDENTS = "TUTOR_STUDENTS"
    CHOSEN_USERS = "CHOSEN_USERS"

    @property
    def label(self) -> str:
        return {"EVERYONE": "Everyone", "NEW_STUDENTS": "New students", "TUTOR_STUDENTS": "A tutor's students",
                "CHOSEN_USERS": "Chosen users"}[self.value]


@dataclass(frozen=True)
class Standing:
    """What is known about one student for targeting: paid before at all, tutors paid before, chosen for offers."""

    has_paid_booking: bool
    paid_tutor_ids: frozenset[int]
    chosen_for: frozenset[int]  # ids of the offers this user was chosen for


def audience_problem(audience: Audience | str | None, *, offer_id: int, audience_tutor_id: int | None,
                     standing: Standing, lesson_tutor_id: int) -> str | None:
    """None if this student, booking a lesson with ``lesson_tutor_id``, is in the offer's audience, else the sentence."""
    if audience is None:
        return None  # a plain code: anyone may use it
    audience = Audience(audience)
    if audience is Audience.EVERYONE:
        return None
    if audience is Audience.NEW_STUDENTS:
        return "This offer is for new students only." if standing.has_paid_booking else None
    if audience is Audience.TUTOR_STUDENTS:
        if audience_tutor_id not in standing.paid_tutor_ids:
            return "This offer is for this tutor's existing students only."
        return None if lesson_tutor_id == audience_tutor_id else "This offer is for lessons with another tutor."
    return None if offer_id in standing.chosen_for else "This offer is not available to your account."


@dataclass(frozen=True)
class Candidate:
    """An offer the student may use on this booking, with the discount it gives."""

    offer_id: int
    discount_minor: int
    valid_until: datetime | None


def best_offer(candidates: list[Candidate]) -> Candidate | None:
    """The largest discount; ties to the offer ending soonest (no end counts as last), then the oldest."""
    useful = [c for c in candidates if c.discount_minor > 0]
    if not useful:
        return None
    return min(useful, key=lambda c: (-c.discount_minor, c.valid_until is None,
                                      c.valid_until.timestamp() if c.valid_until else 0, c.offer_id))
