"""Properties of the homework generator and the mastery ladder (pure domain, no app)."""
from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain.homework import Candidate, Mastery, build_set, next_mastery, target_difficulty, weak_topics

TOPICS = list(range(1, 13))
# A bank of the lesson's subject and level: 10 items per topic over three difficulties.
BANK = [Candidate(topic * 100 + n, topic, 1 + n % 3) for topic in TOPICS for n in range(10)]
OTHER_SUBJECT = {Candidate(9000 + n, 99, 1) for n in range(10)}


lessons = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "errors": st.lists(st.sampled_from(TOPICS), min_size=1, max_size=3, unique=True),
    "covered": st.lists(st.sampled_from(TOPICS), min_size=0, max_size=5, unique=True),
    "due": st.lists(st.sampled_from(TOPICS), max_size=3, unique=True),
    "seen": st.sets(st.sampled_from([c.item_id for c in BANK]), max_size=60),
    "mastery": st.dictionaries(st.sampled_from(TOPICS), st.sampled_from(list(Mastery)), max_size=12),
})


def _build(lesson):
    return build_set(lesson["seed"], BANK, lesson["errors"], lesson["covered"], lesson["due"], lesson["seen"],
                     lesson["mastery"])


@settings(max_examples=150, deadline=None)
@given(lessons)
def test_the_same_seed_and_inputs_give_the_same_set(lesson):
    assert _build(lesson) == _build(lesson)
    shuffled = dict(lesson, seen=set(sorted(lesson["seen"], reverse=True)))
    assert _build(shuffled) == _build(lesson)


@settings(max_examples=150, deadline=None)
@given(lessons)
def test_no_item_seen_in_the_window_and_none_twice(lesson):
    picks = _build(lesson)
    ids = [p.item_id for p in picks]
    assert not set(ids) & lesson["seen"]
    assert len(ids) == len(set(ids))


@settings(max_examples=150, deadline=None)
@given(lessons)
def test_every_item_belongs_to_the_subject_and_level_and_to_a_lesson_topic(lesson):
    picks = build_set(lesson["seed"], BANK + sorted(OTHER_SUBJECT, key=lambda c: c.item_id), lesson["errors"],
                      lesson["covered"], lesson["due"], lesson["seen"], lesson["mastery"])
    bank_ids = {c.item_id: c.topic_id for c in BANK}
    wanted = set(lesson["errors"]) | set(lesson["covered"]) | set(lesson["due"])
    assert all(p.item_id in bank_ids and bank_ids[p.item_id] == p.topic_id in wanted for p in picks)


@settings(max_examples=150, deadline=None)
@given(lessons)
def test_error_topics_are_over_represented(lesson):
    picks = _build(lesson)
    per_topic = Counter(p.topic_id for p in picks)
    errors = set(lesson["errors"])
    error_share = sum(per_topic[t] for t in errors) / len(picks)
    assert error_share >= 0.5
    # Each error topic gets at least as many questions as any topic that is not an error.
    others = [n for t, n in per_topic.items() if t not in errors]
    fresh = {t: sum(1 for c in BANK if c.topic_id == t and c.item_id not in lesson["seen"]) for t in errors}
    for topic in errors:
        if fresh[topic] >= 8:  # a topic whose unseen items ran out cannot be given more
            assert per_topic[topic] >= max(others, default=0)


# A bank like the seeded one: per topic, three parametrised templates (each of one difficulty, as the real templates
# are) with four variants each, and two hand-written items.
TEMPLATED_BANK = [Candidate(topic * 100 + t * 10 + n, topic, 1 + t, f"t{topic}-{t}")
                  for topic in TOPICS for t in range(3) for n in range(4)]
TEMPLATED_BANK += [Candidate(topic * 100 + 90 + n, topic, 1, None) for topic in TOPICS for n in range(2)]
templated_lessons = st.builds(lambda lesson, seen: dict(lesson, seen=seen), lessons,
                              st.sets(st.sampled_from([c.item_id for c in TEMPLATED_BANK]), max_size=80))


@settings(max_examples=200, deadline=None)
@given(templated_lessons)
def test_no_two_items_from_one_template_while_another_item_of_the_topic_is_available(lesson):
    picks = build_set(lesson["seed"], TEMPLATED_BANK, lesson["errors"], lesson["covered"], lesson["due"],
                      lesson["seen"], lesson["mastery"])
    by_id = {c.item_id: c for c in TEMPLATED_BANK}
    in_set = [by_id[p.item_id] for p in picks]
    families = {c.family for c in in_set}
    repeated = [t for t, n in Counter(c.template for c in in_set if c.template).items() if n > 1]
    for template in repeated:
        topic = next(c.topic_id for c in in_set if c.template == template)
        # A second variant was allowed only if, even now, every unseen item of that topic is of a family in the set.
        others = [c for c in TEMPLATED_BANK if c.topic_id == topic and c.item_id not in lesson["seen"]
                  and c.family not in families]
        assert not others, f"two variants of {template} while {others[0]} was free"
    # The other properties still hold on this bank.
    assert picks == build_set(lesson["seed"], TEMPLATED_BANK, lesson["errors"], lesson["covered"], lesson["due"],
                              set(lesson["seen"]), lesson["mastery"])
    assert len({p.item_id for p in picks}) == len(picks) and not {p.item_id for p in picks} & lesson["seen"]


def test_a_single_error_topic_gets_different_templates_before_repeats():
    picks = build_set(11, TEMPLATED_BANK, [4], [], [], set(), {}, size=5)
    by_id = {c.item_id: c for c in TEMPLATED_BANK}
    # Topic 4 has five families (three templates, two hand-written items): five questions, five families.
    assert [p.topic_id for p in picks] == [4] * 5
    assert len({by_id[p.item_id].family for p in picks}) == 5
    # A sixth question has to repeat a template: it is still given rather than leaving the set short.
    assert len(build_set(11, TEMPLATED_BANK, [4], [], [], set(), {}, size=6)) == 6


def test_a_set_is_full_when_the_bank_allows():
    picks = build_set(7, BANK, [1], [2, 3], [], set(), {})
    assert len(picks) == 8 and {p.reason for p in picks} <= {"error", "covered"}


def test_difficulty_follows_mastery():
    picks = build_set(3, BANK, [1], [], [], set(), {1: Mastery.MASTERED}, size=3)
    assert {BANK[[c.item_id for c in BANK].index(p.item_id)].difficulty for p in picks} == {3}
    assert target_difficulty(Mastery.NEW) == 1 and target_difficulty(Mastery.FAMILIAR) == 2


def test_mastery_climbs_attempted_familiar_proficient_mastered_and_drops_on_a_miss():
    level, streak = Mastery.NEW, 0
    seen = []
    for _ in range(7):
        level, streak = next_mastery(level, streak, True)
        seen.append(Mastery(level))
    assert seen == [Mastery.ATTEMPTED, Mastery.FAMILIAR, Mastery.FAMILIAR, Mastery.PROFICIENT, Mastery.PROFICIENT,
                    Mastery.PROFICIENT, Mastery.MASTERED]
    assert next_mastery(Mastery.MASTERED, 0, False) == (Mastery.PROFICIENT, 0)
    assert next_mastery(Mastery.NEW, 0, False) == (Mastery.ATTEMPTED, 0)


def test_weak_topics_are_those_below_proficient_weakest_first():
    assert weak_topics({1: Mastery.PROFICIENT, 2: Mastery.ATTEMPTED, 3: Mastery.FAMILIAR}, {1, 2, 3, 4}) == [4, 2, 3]


# --- the weekly parent digest's clock -------------------------------------------------------------------------------

def test_the_digest_is_due_from_sunday_17_00_in_the_parents_own_zone():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from webapp.domain.homework import digest_due
    sydney, london = ZoneInfo("Australia/Sydney"), ZoneInfo("Europe/London")
    # Sunday 6 December 2026, 17:00 in Sydney (AEDT, UTC+11) is 06:00 UTC that Sunday.
    assert digest_due(datetime(2026, 12, 6, 5, 59, tzinfo=UTC), sydney) is None
    due = digest_due(datetime(2026, 12, 6, 6, 0, tzinfo=UTC), sydney)
    assert due == datetime(2026, 12, 6, 17, 0, tzinfo=sydney) and due.utcoffset().total_seconds() == 11 * 3600
    # ...while in London it is still Sunday morning: not due yet; it is due at 17:00 UTC.
    assert digest_due(datetime(2026, 12, 6, 6, 0, tzinfo=UTC), london) is None
    assert digest_due(datetime(2026, 12, 6, 17, 0, tzinfo=UTC), london) == datetime(2026, 12, 6, 17, tzinfo=london)
    # A run missed by the scheduler is caught up within a day, not a week later.
    assert digest_due(datetime(2026, 12, 7, 5, 59, tzinfo=UTC), sydney) == due
    assert digest_due(datetime(2026, 12, 7, 6, 0, tzinfo=UTC), sydney) is None


def test_the_digest_keeps_17_00_wall_time_across_a_dst_change():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from webapp.domain.homework import digest_due
    london = ZoneInfo("Europe/London")
    # 29 March 2026: clocks went forward that morning, so 17:00 BST is 16:00 UTC.
    assert digest_due(datetime(2026, 3, 29, 15, 59, tzinfo=UTC), london) is None
    assert digest_due(datetime(2026, 3, 29, 16, 0, tzinfo=UTC), london) == datetime(2026, 3, 29, 17, tzinfo=london)
