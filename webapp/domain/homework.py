"""The homework generator and per-topic mastery, as pure functions over plain values.

`build_set` picks items for one learner after one lesson: first the lesson's error topics, then spaced-repetition
reviews that are due, then the topics covered; it skips items seen within the window, prefers a template not yet in
the set (so one set does not hold three variants of the same pendulum question) and then the difficulty that suits
the learner's mastery of each topic. The same inputs and seed always give the same set."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import IntEnum


class Mastery(IntEnum):
    """How well a learner knows a topic; one right answer moves up a step at most, a miss moves down one."""

    NEW = 0
    ATTEMPTED = 1
    FAMILIAR = 2
    PROFICIENT = 3
    MASTERED = 4


MASTERY_WORDS = {Mastery.NEW: "not started", Mastery.ATTEMPTED: "attempted", Mastery.FAMILIAR: "familiar",
                 Mastery.PROFICIENT: "proficient", Mastery.MASTERED: "mastered"}
# Right answers in a row needed to reach each level from the one below.
STREAK_TO_RISE = {Mastery.FAMILIAR: 1, Mastery.PROFICIENT: 2, Mastery.MASTERED: 3}
SET_SIZE = 8
SEEN_WINDOW_DAYS = 14
# Shares of the set, in the order they are filled: errors, then due reviews, then covered topics.
ERROR_SHARE, REVIEW_SHARE = 0.5, 0.25


def next_mastery(level: int, streak: int, correct: bool) -> tuple[int, int]:
    """(level, streak) after one answer: any answer makes a new topic 'attempted'; enough right in a row rises one
    step; a miss drops one step (never below attempted) and resets the streak."""
    level = Mastery(level)
    if not correct:
        return max(Mastery.ATTEMPTED, level - 1), 0
    if level == Mastery.NEW:
        return Mastery.ATTEMPTED, 1
    streak += 1
    if level < Mastery.MASTERED and streak >= STREAK_TO_RISE[Mastery(level + 1)]:
        return level + 1, 0
    return level, streak


def target_difficulty(level: int) -> int:
    """Difficulty (1 easy … 3 hard) suited to a mastery level."""
    return {Mastery.NEW: 1, Mastery.ATTEMPTED: 1, Mastery.FAMILIAR: 2}.get(Mastery(level), 3)


@dataclass(frozen=True)
class Candidate:
    """An item the generator may pick: only items of the lesson's subject and level are handed in."""

    item_id: int
    topic_id: int
    difficulty: int
    template: str | None = None  # the parametrised template it is a variant of; None for a hand-written item

    @property
    def family(self) -> str | int:
        """Items of one family are variants of each other: a template's variants, or a hand-written item alone."""
        return self.template if self.template is not None else self.item_id


@dataclass(frozen=True)
class Pick:
    """One chosen item and why it is in the set ("error", "review" or "covered")."""

    item_id: int
    topic_id: int
    reason: str


def build_set(seed: int, candidates: list[Candidate], error_topics: list[int], covered_topics: list[int],
              due_topics: list[int], recently_seen: set[int], mastery: dict[int, int],
              size: int = SET_SIZE) -> list[Pick]:
    """The homework set for a seed: error topics take about half, due reviews a quarter, covered topics the rest.

    Deterministic for the same arguments; never an item in `recently_seen`; topics are taken round-robin within each
    group so one topic does not fill the set; within a topic, a second variant of a template already in the set only
    when the topic has no other unseen item; slots a group cannot fill go to the errors first, then reviews, then
    covered topics."""
    rng = random.Random(seed)
    fresh = sorted((c for c in candidates if c.item_id not in recently_seen), key=lambda c: c.item_id)
    by_topic: dict[int, list[Candidate]] = {}
    for c in fresh:
        by_topic.setdefault(c.topic_id, []).append(c)
    picked: list[Pick] = []
    used: set[int] = set()
    families: set[str | int] = set()
    errors = _unique(error_topics)
    reviews = [t for t in _unique(due_topics) if t not in errors]
    covered = [t for t in _unique(covered_topics) if t not in errors and t not in reviews]
    error_quota, review_quota = round(size * ERROR_SHARE), round(size * REVIEW_SHARE)
    groups = [("error", errors, error_quota), ("review", reviews, review_quota),
              ("covered", covered, size - error_quota - review_quota)]
    counts: dict[int, int] = {}
    for reason, topics, quota in groups:
        picked += _fill(rng, topics, by_topic, mastery, used, families, min(quota, size - len(picked)), reason, counts,
                        _cap(errors, counts, reason))
    # Slots a group could not fill go to the errors first, then reviews, then covered topics; a last pass without
    # the cap fills what is left when the error topics have run out of unseen items.
    for reason, topics, _ in groups:
        picked += _fill(rng, topics, by_topic, mastery, used, families, size - len(picked), reason, counts,
                        _cap(errors, counts, reason))
    for reason, topics, _ in groups[1:]:
        picked += _fill(rng, topics, by_topic, mastery, used, families, size - len(picked), reason, counts, None)
    return picked


def _fill(rng: random.Random, topics: list[int], by_topic: dict[int, list[Candidate]], mastery: dict[int, int],
          used: set[int], families: set[str | int], want: int, reason: str, counts: dict[int, int],
          cap: int | None) -> list[Pick]:
    """Up to `want` picks, one topic at a time in turn; no topic past `cap` questions (None: no cap); within a topic,
    families not yet in the set first, then the difficulty nearest the learner's mastery."""
    out: list[Pick] = []
    while len(out) < want:
        progressed = False
        for topic in topics:
            if len(out) == want:
                break
            if cap is not None and counts.get(topic, 0) >= cap:
                continue
            pool = [c for c in by_topic.get(topic, []) if c.item_id not in used]
            if not pool:
                continue
            # Another variant of a template already in the set is the same exercise with new numbers: only when the
            # topic has nothing else left.
            pool = [c for c in pool if c.family not in families] or pool
            target = target_difficulty(mastery.get(topic, Mastery.NEW))
            best = min(abs(c.difficulty - target) for c in pool)
            choice = rng.choice([c for c in pool if abs(c.difficulty - target) == best])
            used.add(choice.item_id)
            families.add(choice.family)
            counts[topic] = counts.get(topic, 0) + 1
            out.append(Pick(choice.item_id, topic, reason))
            progressed = True
        if not progressed:
            break
    return out


def _cap(errors: list[int], counts: dict[int, int], reason: str) -> int | None:
    """Other topics get no more questions than the least-practised error topic, so errors stay over-represented."""
    if reason == "error" or not errors:
        return None
    return min(counts.get(t, 0) for t in errors)


def _unique(values: list[int]) -> list[int]:
    return list(dict.fromkeys(values))


def weak_topics(mastery: dict[int, int], touched: set[int]) -> list[int]:
    """Topics for the next lesson's agenda: those worked on that are below proficient, weakest first."""
    return sorted((t for t in touched if mastery.get(t, Mastery.NEW) < Mastery.PROFICIENT),
                  key=lambda t: (mastery.get(t, Mastery.NEW), t))


DIGEST_WEEKDAY, DIGEST_TIME = 6, time(17, 0)  # Sunday 17:00, in each parent's own zone
DIGEST_CATCH_UP = timedelta(hours=24)          # a digest missed by the scheduler still goes within this long


def last_digest_time(now: datetime, zone: tzinfo) -> datetime:
    """The latest Sunday 17:00 in `zone` at or before `now` (aware, in that zone); DST never moves the wall time."""
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    due = datetime.combine(day, DIGEST_TIME, tzinfo=zone)
    return due if due <= local else datetime.combine(day - timedelta(days=7), DIGEST_TIME, tzinfo=zone)


def digest_due(now: datetime, zone: tzinfo) -> datetime | None:
    """The Sunday 17:00 (in `zone`) whose weekly digest is due at `now`: from that time for DIGEST_CATCH_UP, else
    None. The digest covers the 7 days before that time, so consecutive digests never count a set twice."""
    due = last_digest_time(now, zone)
    return due if now - due < DIGEST_CATCH_UP else None
