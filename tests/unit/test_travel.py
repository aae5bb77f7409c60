"""Travel estimates: haversine distance, speed, overhead, rounding up."""

from __future__ import annotations

import math

import pytest

from webapp.domain.travel import Coordinates, StraightLineEstimator, distance_km

LONDON = Coordinates(51.5074, -0.1278)
PARIS = Coordinates(48.8566, 2.3522)


def test_london_to_paris_is_about_344_km():
    assert distance_km(LONDON, PARIS) == pytest.approx(344, abs=1)


def test_distance_is_symmetric_and_zero_to_itself():
    assert distance_km(LONDON, PARIS) == pytest.approx(distance_km(PARIS, LONDON))
    assert distance_km(LONDON, LONDON) == 0


def test_antipodes_are_half_the_earths_circumference_apart():
    assert distance_km(Coordinates(0, 0), Coordinates(0, 180)) == pytest.approx(math.pi * 6371.0088)


def test_minutes_are_driving_time_plus_overhead():
    # 344 km at 25 km/h is 824.5 minutes of travel: 825 rounded up, plus 10 minutes overhead.
    assert StraightLineEstimator().minutes(LONDON, PARIS) == math.ceil(distance_km(LONDON, PARIS) / 25 * 60) + 10
    assert StraightLineEstimator().minutes(LONDON, PARIS) == 835


def test_minutes_round_up_a_fraction_of_a_minute():
    # One degree of latitude is ~111.2 km; at 6672 km/h that is ~1.0001 minutes, so 2.
    a, b = Coordinates(0, 0), Coordinates(1, 0)
    speed = distance_km(a, b) * 60 / 1.0001
    assert StraightLineEstimator(speed_kmh=speed, overhead_minutes=0).minutes(a, b) == 2


def test_an_exact_whole_minute_is_not_rounded_up_by_float_noise():
    a, b = Coordinates(0, 0), Coordinates(1, 0)
    speed = distance_km(a, b) * 60 / 12  # exactly 12 minutes, give or take the last bit
    assert StraightLineEstimator(speed_kmh=speed, overhead_minutes=0).minutes(a, b) == 12


def test_same_place_costs_only_the_overhead():
    assert StraightLineEstimator(overhead_minutes=7).minutes(LONDON, LONDON) == 7


def test_slower_speed_takes_longer():
    fast = StraightLineEstimator(speed_kmh=50).minutes(LONDON, PARIS)
    slow = StraightLineEstimator(speed_kmh=25).minutes(LONDON, PARIS)
    assert slow > fast


@pytest.mark.parametrize("kwargs", [{"speed_kmh": 0}, {"speed_kmh": -5}, {"overhead_minutes": -1}])
def test_estimator_refuses_nonsense_settings(kwargs):
    with pytest.raises(ValueError):
        StraightLineEstimator(**kwargs)


@pytest.mark.parametrize("lat, lon", [(90.5, 0), (-91, 0), (0, 181), (0, -180.5), (float("nan"), 0)])
def test_coordinates_outside_the_globe_are_refused(lat, lon):
    with pytest.raises(ValueError):
        Coordinates(lat, lon)


def test_coordinates_at_the_edges_are_fine():
    Coordinates(90, 180)
    Coordinates(-90, -180)


def test_a_capped_estimator_never_exceeds_its_cap():
    from webapp.domain.travel import Coordinates, StraightLineEstimator
    london, edinburgh = Coordinates(51.5074, -0.1278), Coordinates(55.9533, -3.1883)
    uncapped = StraightLineEstimator(speed_kmh=25, overhead_minutes=10)
    capped = StraightLineEstimator(speed_kmh=25, overhead_minutes=10, max_minutes=360)
    assert uncapped.minutes(london, edinburgh) > 360
    assert capped.minutes(london, edinburgh) == 360
    near = Coordinates(51.52, -0.10)
    assert capped.minutes(london, near) == uncapped.minutes(london, near)
