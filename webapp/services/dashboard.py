"""The admin analytics dashboard: bookings per day, revenue and platform take, the funnel view → book → pay →
approve, and cancellations by reason, for a date range and optionally one tutor. Counts come from the event rows,
money from the receipts (integer minor units, per currency)."""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from ..domain import availability as engine
from ..domain.analytics import EventName
from ..domain.charts import Bar, bar_chart
from ..domain.money import Money
from ..domain.roles import Role
from ..extensions import db
from ..domain.states import BLOCKING_LESSON_STATES, BookingState
from ..models import AnalyticsEvent, Booking, DateOverride, Lesson, PaymentReceipt, User, WeeklyWindow
from .errors import Forbidden, ValidationError

MAX_DAYS = 366
EARLIEST, LATEST = date(1900, 1, 1), date(9999, 12, 1)  # the dates the pages accept (views/params.py)
FUNNEL = (EventName.TUTOR_VIEWED, EventName.BOOKING_CREATED, EventName.BOOKING_PAID, EventName.BOOKING_APPROVED)
FUNNEL_LABELS = ("Viewed", "Booked", "Paid", "Approved")


@dataclass(frozen=True)
class DayRow:
    """One day of the range: bookings made, and per currency what was paid (less refunds) and the platform's take."""

    day: date
    bookings: int
    revenue: dict[str, int]
    platform_take: dict[str, int]


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows, with its charts as SVG text."""

    start: date
    end: date
    tutor_id: int | None
    days: list[DayRow]
    funnel: list[tuple[str, int]]
    cancellations: list[tuple[str, int]]
    utilisation: list[tuple[str, int, int]]  # tutor name, booked minutes, offered minutes
    charts: dict[str, str]
    sections: list[tuple[str, str]]  # (heading, chart key) in page order: money charts one per currency
    currencies: list[str]

    @property
    def has_bookings(self) -> bool:
        """Whether the range saw a booking made or a payment taken (else the page says so instead of drawing
        empty charts)."""
        return any(row.bookings or row.revenue or row.platform_take for row in self.days) or bool(self.cancellations)

    @property
    def shown_sections(self) -> list[tuple[str, str]]:
        """The chart sections worth drawing: all of them once there are bookings; without any, only the funnel
        (when tutors were viewed) and utilisation (when lessons booked earlier fall in the range)."""
        if self.has_bookings:
            return self.sections
        keep = {"funnel": any(n for _, n in self.funnel), "utilisation": any(b for _, b, _ in self.utilisation)}
        return [(title, key) for title, key in self.sections if keep.get(key)]


def parse_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The dates typed in the filter (default: the last 14 days), or a ValidationError in words."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else None
    except ValueError:
        raise ValidationError("Dates look like 2027-03-28.", {"start": "Dates look like 2027-03-28."}) from None
    for day in (first, last):  # before any arithmetic: a day next to year 1 or 9999 overflows
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ValidationError(f"Choose dates between {EARLIEST} and {LATEST}.",
                                  {"start": f"Between {EARLIEST} and {LATEST}."})
    first = first or last - timedelta(days=13)
    if first > last:
        raise ValidationError("The range must start before it ends.", {"start": "Start on or before the end."})
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"Choose at most {MAX_DAYS} days.", {"start": f"At most {MAX_DAYS} days."})
    return first, last


def dashboard(viewer: User, start: date, end: date, tutor_id: int | None = None) -> Dashboard:
    """The numbers and charts for [start, end] (whole UTC days), one tutor's or everyone's."""
    if not viewer.is_admin:
        raise Forbidden("Only admins see the analytics dashboard.")
    since = datetime.combine(start, time(), UTC)
    until = datetime.combine(end + timedelta(days=1), time(), UTC)
    rows = db.session.execute(select(AnalyticsEvent.name, AnalyticsEvent.occurred_at, AnalyticsEvent.properties)
                              .where(AnalyticsEvent.occurred_at >= since, AnalyticsEvent.occurred_at < until)).all()
    events = [r for r in rows if tutor_id is None or (r.properties or {}).get("tutor_id") == tutor_id]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    booked = Counter(r.occurred_at.date() for r in events if r.name == EventName.BOOKING_CREATED)
    receipts = select(PaymentReceipt.created_at, PaymentReceipt.currency, PaymentReceipt.amount_minor,
                      PaymentReceipt.refunded_minor, PaymentReceipt.application_fee_amount_minor).where(
        PaymentReceipt.created_at >= since, PaymentReceipt.created_at < until)
    if tutor_id is not None:
        receipts = receipts.join(Booking, Booking.id == PaymentReceipt.booking_id).join(
            Lesson, Lesson.id == Booking.lesson_id).where(Lesson.tutor_id == tutor_id)
    revenue: dict[date, Counter] = {d: Counter() for d in days}
    take: dict[date, Counter] = {d: Counter() for d in days}
    for r in db.session.execute(receipts):
        revenue[r.created_at.date()][r.currency] += r.amount_minor - r.refunded_minor
        take[r.created_at.date()][r.currency] += r.application_fee_amount_minor
    table = [DayRow(d, booked[d], dict(revenue[d]), dict(take[d])) for d in days]
    names = Counter(r.name for r in events)
    funnel = [(label, names[name]) for label, name in zip(FUNNEL_LABELS, FUNNEL, strict=True)]
    reasons = Counter(_reason(r.properties) for r in events if r.name == EventName.BOOKING_CANCELLED)
    cancellations = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    # One revenue and one take chart per currency: amounts in different currencies are never added up.
    currencies = sorted({c for d in days for c in (*revenue[d], *take[d])}) or [DEFAULT_CURRENCY]
    sections = [("Bookings per day", "bookings")]
    charts = {"bookings": bar_chart("Bookings per day", [Bar(_day(d), booked[d]) for d in days],
                                    chart_id="chart-bookings")}
    for currency in currencies:
        key = f"revenue-{currency}"
        sections.append((f"Revenue ({currency})", key))
        charts[key] = bar_chart(f"Revenue per day ({currency}, paid less refunds)",
                                [Bar(_day(d), max(revenue[d][currency], 0), Money(revenue[d][currency], currency)
                                     .format()) for d in days], chart_id=f"chart-revenue-{currency.lower()}")
    for currency in currencies:
        key = f"take-{currency}"
        sections.append((f"Platform take ({currency})", key))
        charts[key] = bar_chart(f"Platform take per day ({currency})",
                                [Bar(_day(d), take[d][currency], Money(take[d][currency], currency).format())
                                 for d in days], chart_id=f"chart-take-{currency.lower()}")
    charts["funnel"] = bar_chart("Funnel: viewed → booked → paid → approved", [Bar(k, v) for k, v in funnel],
                                 chart_id="chart-funnel")
    charts["cancellations"] = bar_chart("Cancellations by who cancelled", [Bar(k, v) for k, v in cancellations],
                                        chart_id="chart-cancellations")
    use = _utilisation(since, until, tutor_id)
    charts["utilisation"] = bar_chart(
        "Tutor utilisation (booked ÷ offered hours, %)",
        [Bar(name, min(booked * 100 // offered, 100) if offered else 0,
             f"{booked * 100 // offered}%" if offered else "no hours") for name, booked, offered in use],
        chart_id="chart-utilisation")
    sections += [("Funnel", "funnel"), ("Cancellations and reasons", "cancellations"),
                 ("Tutor utilisation", "utilisation")]
    return Dashboard(start, end, tutor_id, table, funnel, cancellations, use, charts, sections, currencies)


DEFAULT_CURRENCY = "GBP"  # the empty charts' currency when the range has no payment at all


def _day(d: date) -> str:
    return d.strftime("%d %b")


PAID_STATES = (BookingState.REQUIRES_CAPTURE, BookingState.PAID, BookingState.PARTIAL_REFUNDED)
MAX_TUTORS = 12


def _utilisation(since: datetime, until: datetime, tutor_id: int | None) -> list[tuple[str, int, int]]:
    """Per tutor (the busiest twelve): minutes of paid, going-ahead lessons starting in the range, and minutes of
    open hours offered in it (weekly hours and date overrides in the tutor's zone)."""
    query = select(User).where(User.role == Role.TUTOR)
    if tutor_id is not None:
        query = query.where(User.id == tutor_id)
    rows = []
    for tutor in db.session.scalars(query):
        weekly = [engine.WeeklyWindow(w.weekday, w.start_minute, w.end_minute)
                  for w in db.session.scalars(select(WeeklyWindow).where(WeeklyWindow.tutor_id == tutor.id))]
        overrides = [engine.DateOverride(o.on_date, o.start_minute, o.end_minute)
                     for o in db.session.scalars(select(DateOverride).where(DateOverride.tutor_id == tutor.id))]
        offered = engine.offered_minutes(tutor.timezone, weekly, overrides, since, until)
        booked = sum(db.session.scalars(
            select(Lesson.duration_minutes).join(Booking, Booking.lesson_id == Lesson.id).where(
                Lesson.tutor_id == tutor.id, Lesson.start_at >= since, Lesson.start_at < until,
                Lesson.state.in_([s.value for s in BLOCKING_LESSON_STATES]),
                Booking.state.in_([s.value for s in PAID_STATES]))))
        if offered or booked:
            rows.append((tutor.name, booked, offered))
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:MAX_TUTORS]


def _reason(properties: dict | None) -> str:
    return {"student_side": "Student or parent", "tutor": "Tutor", "admin": "Admin"}.get(
        (properties or {}).get("reason"), "Other")


def as_csv(board: Dashboard) -> str:
    """The day table as CSV: one line per day and currency, amounts in minor units."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "bookings", "currency", "revenue_minor", "platform_take_minor"])
    for row in board.days:
        for currency in sorted(row.revenue) or [""]:
            writer.writerow([row.day.isoformat(), row.bookings, currency, row.revenue.get(currency, 0),
                             row.platform_take.get(currency, 0)])
    return out.getvalue()


def tutors() -> list[User]:
    """Tutors to filter by, by name."""
    return list(db.session.scalars(select(User).where(User.role == Role.TUTOR).order_by(User.name)))
