"""Limits and choices that the HTML forms, the services and the JSON API's schemas all state: one source each.

Plain values only (the domain imports nothing from the app); the forms build WTForms validators from them, the API's
pydantic models build JSON Schema bounds from them, and the services check them in words.
"""
from __future__ import annotations

from .availability import MAX_DURATION, MIN_DURATION, SLOT_GRID_MINUTES  # noqa: F401  (re-exported: one home)

# Ids and counts live in 32-bit columns: a larger number names no row.
MAX_ID = 2**31 - 1


def parse_id(text: object) -> int | None:
    """A row id sent as text (a form field, a query parameter, words typed in a search): ASCII digits from 1 to
    MAX_ID, else None. Not str.isdigit alone: it is true for '²' and '٣', which int() refuses or reads."""
    value = str(text if text is not None else "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None

# A tutor's booking rules.
MIN_NOTICE_HOURS = (0, 24 * 14)       # 0–336 hours between booking and the lesson
HORIZON_DAYS = (1, 365)               # how far ahead students may book
TRAVEL_BUFFER_MINUTES = (0, 240)      # kept free around in-person lessons
MAX_WEEKLY_WINDOWS = 100
MAX_DATE_OVERRIDES = 400

# What a tutor teaches.
MAX_TRAVEL_KM = (1, 500)
HOURLY_RATE_MINOR = (100, 100_000_00)  # 1.00 to 100,000.00 in minor units
CURRENCIES = ("GBP", "EUR", "USD")
MAX_TEACHES = 40

# Lessons and bookings.
LESSON_TYPES = ("online", "in_person")
MAX_RANGE_DAYS = 62                   # one free-slot query covers at most this many days after its first
BOOKING_NOTE_MAX = 2000
CANCEL_NOTE_MAX = 1000
ADDRESS_LINE1_MAX, POSTCODE_MAX, CITY_MAX = 200, 20, 100
SUMMARY_NOTE_MAX = 10_000
NOTE_ERRORS_MAX = 10                  # mistakes recorded per lesson note
NOTE_ERROR_WHAT_MAX = 500             # what went wrong, in the tutor's words
NOTE_ERROR_WRONG_MAX = 200            # the student's wrong answer, as they gave it
NOTE_TOPICS_MAX = 200                 # topics covered (a subject and level has far fewer)
HOMEWORK_ANSWER_MAX = 200             # characters a pupil may type for one answer (marking.MAX_ANSWER)

# Accounts.
NAME_MAX = 120
EMAIL_MAX = 254
PASSWORD_LENGTH = (10, 200)
DEVICE_NAME_MAX = 80
YEAR_LEVEL_MAX = 60

# Payments.
COUPON_CODE_MAX = 40
COUPON_CODE_PATTERN = r"^\s*[A-Za-z0-9_-]*\s*$"  # codes are compared in upper case; blank means none
REFUND_REASON_MAX = 200
# Stripe ids a client may pay with: PaymentMethods, and the older cards and tokens.
PAYMENT_METHOD_PREFIXES = ("pm_", "card_", "tok_")
PAYMENT_METHOD_PATTERN = r"^(pm|card|tok)_[A-Za-z0-9_]{1,250}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
