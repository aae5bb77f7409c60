"""Every question the bank is seeded with marks its own answer right and a perturbed answer wrong, physics covers the
GCSE and A-Level topic trees, A-Level maths has real templates, and each template's variants are fixed by their seed."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from webapp.adapters import sympy_equivalence
from webapp.domain import question_templates
from webapp.domain.marking import algebra_pair, mark_choice, mark_numeric

CURRICULUM = json.loads((Path(__file__).resolve().parents[2] / "webapp" / "data" / "curriculum.json").read_text())
BANK = [(t, s, question_templates.generate(t, s)) for t in question_templates.TEMPLATES
        for s in question_templates.bank_seeds(t)]


def _slugs(subject: str, level: str) -> set[str]:
    return {slug for strand in CURRICULUM[subject][level].values() for slug, _, _ in strand}


def _marks(v: dict, typed: str) -> bool:
    """Marked as the homework page marks it (algebra by the same sympy check, run here in-process)."""
    if v["kind"] == "numeric":
        return mark_numeric(typed, v["answer"], v["tolerance"], v["unit"]).correct
    if v["kind"] == "choice":
        return mark_choice(typed, v["answer"], v["choices"]).correct
    given, expected, names = algebra_pair(typed, v["answer"])
    return sympy_equivalence.equal(given, expected, list(names))


def _perturbed(v: dict) -> str:
    if v["kind"] == "numeric":
        value = float(v["answer"])
        return repr(value * 1.1 + 1 if value >= 0 else value * 1.1 - 1)  # far outside any 1% tolerance
    if v["kind"] == "choice":
        return str((int(v["answer"]) + 1) % len(v["choices"]))
    return f"({v['answer']}) + 1"


@pytest.mark.parametrize("template, seed, v", BANK, ids=[f"{t}:{s}" for t, s, _ in BANK])
def test_every_seeded_item_marks_its_own_answer_right_and_a_perturbed_one_wrong(template, seed, v):
    assert v["solution"].strip() and v["prompt"].strip()
    assert _marks(v, v["answer"]), f"{template}:{seed} marks its own answer wrong"
    assert not _marks(v, _perturbed(v)), f"{template}:{seed} accepts {_perturbed(v)!r}"
    if v["kind"] == "numeric" and v["unit"]:
        assert _marks(v, f"{v['answer']} {v['unit']}"), f"{template}:{seed}: its own unit is refused"
    if v["kind"] == "choice":
        assert len(set(v["choices"])) == len(v["choices"]) >= 2


def test_generated_variants_are_deterministic_per_seed_and_differ_between_seeds():
    for template in question_templates.TEMPLATES:
        seeds = question_templates.bank_seeds(template)
        assert seeds == question_templates.bank_seeds(template)
        assert [question_templates.generate(template, s) for s in seeds] == \
            [question_templates.generate(template, s) for s in seeds]
        assert len({question_templates.generate(template, s)["prompt"] for s in seeds}) == len(seeds)


def test_physics_has_at_least_80_items_over_12_topics_of_its_gcse_and_a_level_trees():
    physics = [v for _, _, v in BANK if v["subject"] == "Physics"]
    assert len(physics) >= 80
    assert len({(v["level"], v["topic"]) for v in physics}) >= 12
    assert all(v["topic"] in _slugs("Physics", v["level"]) for v in physics)
    assert {v["level"] for v in physics} == {"GCSE", "A-Level"}
    assert {v["kind"] for v in physics} == {"numeric", "choice"}
    numeric = [v for v in physics if v["kind"] == "numeric"]
    assert all(v["unit"] and v["tolerance"] > 0 for v in numeric)
    a_level_topics = {v["topic"] for v in physics if v["level"] == "A-Level"}
    assert {"apl-kinematics", "apl-circular-motion", "apl-shm", "apl-gravitational-fields", "apl-electric-fields",
            "apl-nuclear"} <= a_level_topics


def test_a_level_maths_has_at_least_13_templates_on_its_own_topics():
    a_level = {t: v for t, _, v in BANK if v["subject"] == "Mathematics" and v["level"] == "A-Level"}
    assert len(a_level) >= 13
    assert all(v["topic"] in _slugs("Mathematics", "A-Level") for v in a_level.values())
    assert len({v["topic"] for v in a_level.values()}) >= 12


def _after(prompt: str, before: str, after: str) -> float:
    """The number written between `before` and `after` in a prompt."""
    return float((prompt.split(before, 1)[1] if before else prompt).split(after, 1)[0])


# Answers worked again here from the numbers in each prompt, so a template that is consistently wrong cannot pass by
# agreeing with itself.
HAND_WORKED = {
    "phy_shm_pendulum": lambda p: 2 * math.pi * math.sqrt(_after(p, "length ", " m") / 9.81),
    "phy_shm_spring": lambda p: 2 * math.pi * math.sqrt(_after(p, "mass of ", " kg") / _after(p, "stiffness ", " N/m")),
    "phy_wave_period": lambda p: 1000 / _after(p, "frequency of ", " Hz"),
    "phy_kinetic_energy": lambda p: 0.5 * _after(p, "of a ", " kg") * _after(p, "at ", " m/s") ** 2,
    "phy_density_units": lambda p: _after(p, "mass of ", " kg") / (_after(p, "volume of ", " cm³") * 1e-6),
    "phy_collision_stick": lambda p: _after(p, "A ", " kg") * _after(p, "moving at ", " m/s") / (
        _after(p, "A ", " kg") + _after(p, "stationary ", " kg")),
    "phy_centripetal_force": lambda p: _after(p, "mass ", " kg") * _after(p, "steady ", " m/s") ** 2 / _after(
        p, "radius ", " m"),
    "phy_photon_energy": lambda p: 6.63e-34 * 3.00e8 / (_after(p, "wavelength ", " nm") * 1e-9) / 1.60e-19,
    "phy_drop_speed": lambda p: math.sqrt(2 * 9.81 * _after(p, "height of ", " m")),
    "phy_transformer": lambda p: 230 * _after(p, "and ", " turns on its secondary") / _after(p, "has ", " turns"),
    "phy_half_life_activity": lambda p: _after(p, "activity of ", " Bq") / 2 ** (
        _after(p, "after ", " hours") / _after(p, "half-life is ", " hours")),
    "phy_ideal_gas": lambda p: _after(p, "", " mol") * 8.31 * _after(p, "at ", " K") / (
        _after(p, "fills a ", " litre") / 1000) / 1000,
    "phy_projectile_horizontal": lambda p: _after(p, "horizontally at ", " m/s") * math.sqrt(
        2 * _after(p, "cliff ", " m high") / 9.81),
}


@pytest.mark.parametrize("template", sorted(HAND_WORKED))
def test_physics_answers_agree_with_the_same_sums_worked_again(template):
    for seed in question_templates.bank_seeds(template):
        v = question_templates.generate(template, seed)
        assert float(v["answer"]) == pytest.approx(HAND_WORKED[template](v["prompt"]), rel=0.006), (seed, v["prompt"])
