"""Every time a person reads names its zone: GMT in winter, BST in summer, the IANA name where there is no letters."""
from datetime import UTC, datetime

from webapp.filters import zoned


def test_london_is_gmt_in_winter_and_bst_in_summer():
    assert zoned(datetime(2026, 12, 2, 14, 0, tzinfo=UTC), "Europe/London") == "Wed 02 Dec 2026, 14:00 GMT"
    assert zoned(datetime(2026, 7, 1, 14, 0, tzinfo=UTC), "Europe/London", "%H:%M") == "15:00 BST"


def test_a_zone_without_an_abbreviation_is_named():
    assert zoned(datetime(2026, 12, 2, 14, 0, tzinfo=UTC), "Asia/Dubai", "%H:%M") == "18:00 Asia/Dubai"


def test_nothing_shows_nothing():
    assert zoned(None, "Europe/London") == ""
