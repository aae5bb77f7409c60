"""The template question bank: enough real items over enough topics, exact regeneration, and offline suggestions."""
from __future__ import annotations

import json
from pathlib import Path

from webapp.domain import gift, question_templates
from webapp.domain.topic_suggest import TopicText, suggest

CURRICULUM = json.loads((Path(__file__).resolve().parents[2] / "webapp" / "data" / "curriculum.json").read_text())


def _bank(subject: str) -> list[dict]:
    return [v for v in (question_templates.generate(t, s) for t in question_templates.TEMPLATES
                        for s in question_templates.bank_seeds(t)) if v["subject"] == subject]


def test_the_bank_holds_at_least_200_distinct_items_over_20_maths_topics_each_with_a_solution():
    items = _bank("Mathematics")
    assert len(items) >= 200 and len({v["prompt"] for v in items}) == len(items)
    assert len({v["topic"] for v in items}) >= 20
    assert all(v["solution"] and v["kind"] in ("numeric", "choice", "algebra") for v in items)
    slugs = {level: {slug for strand in CURRICULUM["Mathematics"][level].values() for slug, _, _ in strand}
             for level in ("GCSE", "A-Level")}
    assert all(v["topic"] in slugs[v["level"]] for v in items)


def test_a_template_and_seed_regenerate_the_same_item():
    for template in question_templates.TEMPLATES:
        assert question_templates.generate(template, 5) == question_templates.generate(template, 5)


def test_the_curriculum_covers_gcse_and_a_level_maths_and_physics():
    for subject in ("Mathematics", "Physics"):
        for level in ("GCSE", "A-Level"):
            assert sum(len(topics) for topics in CURRICULUM[subject][level].values()) >= 10


def test_suggestions_rank_the_topics_the_text_is_about():
    topics = [TopicText(i, name, keywords) for i, (slug, name, keywords) in enumerate(
        t for strand in CURRICULUM["Mathematics"]["GCSE"].values() for t in strand)]
    names = {t.topic_id: t.name for t in topics}
    found = [names[i] for i, _ in suggest(topics, "Worked on the hypotenuse of right-angled triangles, then "
                                                  "sharing money in a ratio")]
    assert found[:2] == ["Pythagoras' theorem", "Ratio"] or set(found[:2]) == {"Pythagoras' theorem", "Ratio"}
    assert suggest(topics, "") == [] and suggest(topics, "hello there") == []


def test_gift_round_trips_numeric_choice_and_algebra_items():
    items = []
    for template in ("circle_area", "factorise_quadratic", "expand_double"):
        v = question_templates.generate(template, 2)
        items.append(gift.GiftItem(title=template, prompt=v["prompt"], kind=v["kind"], answer=v["answer"],
                                   solution=v["solution"], tolerance=v["tolerance"], unit=v["unit"],
                                   choices=v["choices"], topic=v["topic"], difficulty=v["difficulty"]))
    assert gift.parse(gift.export(items)) == items
    assert gift.parse("What is 2+2? {#4:0}")[0].answer == "4"
