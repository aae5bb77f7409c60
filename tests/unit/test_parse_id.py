"""Ids sent as text: ASCII digits within the 32-bit columns, else None (never an exception for odd input)."""
from webapp.domain.limits import MAX_ID, parse_id


def test_plain_ids_are_read():
    assert parse_id("42") == 42 and parse_id(" 7 ") == 7 and parse_id(MAX_ID) == MAX_ID


def test_anything_else_names_no_row():
    for text in ("", None, "0", "-3", "4.5", "abc", "²", "٣", "1²", str(MAX_ID + 1), "9" * 40, "#12"):
        assert parse_id(text) is None, text
