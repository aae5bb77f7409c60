"""Special offers' audiences and the choice of the best offer (domain/offers.py)."""
from datetime import UTC, datetime

import pytest

from webapp.domain.offers import Audience, Candidate, Standing, audience_problem, best_offer

NEWCOMER = Standing(has_paid_booking=False, paid_tutor_ids=frozenset(), chosen_for=frozenset())
REGULAR = Standing(has_paid_booking=True, paid_tutor_ids=frozenset({7}), chosen_for=frozenset({3}))


@pytest.mark.parametrize(("audience", "standing", "lesson_tutor", "problem"), [
    (None, REGULAR, 9, None),
    (Audience.EVERYONE, NEWCOMER, 9, None),
    (Audience.NEW_STUDENTS, NEWCOMER, 9, None),
    (Audience.NEW_STUDENTS, REGULAR, 9, "This offer is for new students only."),
    (Audience.TUTOR_STUDENTS, REGULAR, 7, None),
    (Audience.TUTOR_STUDENTS, REGULAR, 9, "This offer is for lessons with another tutor."),
    (Audience.TUTOR_STUDENTS, NEWCOMER, 7, "This offer is for this tutor's existing students only."),
    (Audience.CHOSEN_USERS, REGULAR, 9, None),
    (Audience.CHOSEN_USERS, NEWCOMER, 9, "This offer is not available to your account."),
])
def test_who_an_offer_is_for(audience, standing, lesson_tutor, problem):
    assert audience_problem(audience, offer_id=3, audience_tutor_id=7, standing=standing,
                            lesson_tutor_id=lesson_tutor) == problem


def test_the_largest_discount_wins_then_the_one_ending_first_then_the_oldest():
    soon, later = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    assert best_offer([Candidate(1, 400, None), Candidate(2, 600, later), Candidate(3, 500, soon)]).offer_id == 2
    assert best_offer([Candidate(1, 600, None), Candidate(2, 600, later), Candidate(3, 600, soon)]).offer_id == 3
    assert best_offer([Candidate(5, 600, None), Candidate(4, 600, None)]).offer_id == 4
    assert best_offer([Candidate(1, 0, None)]) is None and best_offer([]) is None
