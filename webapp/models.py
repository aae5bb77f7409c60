"""SQLAlchemy 2.0 typed models. No workflows here: services own every change of state."""
from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
                        String, Table, Text, TypeDecorator, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .domain.analytics import EventName
from .domain.funding import Funding
from .domain.ledger import Move
from .domain.offers import Audience
from .domain.packages import PurchaseMethod, PurchaseState
from .domain.roles import STAFF_ROLES, Role
from .domain.states import BookingState, LessonState
from .domain.subscriptions import LIVE, SubscriptionStatus
from .domain.tickets import TicketPriority, TicketStatus
from .extensions import db

# The statuses of a subscription that has not ended, as SQL (the one-live-per-tutor index; migration 0032).
LIVE_SUBSCRIPTION_SQL = ("duplicate_of_id IS NULL AND status IN ("
                         + ", ".join(f"'{status}'" for status in LIVE) + ")")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC; PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Naive datetimes are not stored; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def one_of(column: str, values: type[StrEnum]) -> str:
    """A CHECK expression allowing exactly the enum's values (the migrations spell out the same list)."""
    return f"{column} IN ({','.join(repr(str(v)) for v in values)})"



class StoredEventColumns:
    """The columns of a provider's webhook event as stored (Stripe's and PayPal's are the same): kept by the
    provider's event id so a replay is recognised, applied once by a job, with its attempts and last error."""

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The booking the event is about, when it is about one (found when stored, else when applied): the booking's
    # timeline lists its events. No foreign key: an event names what the provider sent, kept as it came.
    booking_id: Mapped[int | None] = mapped_column(Integer, index=True)


class StoredFileColumns:
    """The columns of an uploaded file kept outside the web root under a random name, typed by its content
    (note and ticket attachments alike)."""

    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while an admin has suspended the account: it cannot log in or book (see services/admin_users.py).
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    suspension_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Set by the signed unsubscribe link in an offer announcement: no further announcements.
    offer_emails_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Set on the account page: this user's analytics events are never sent to Mixpanel.
    analytics_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    children: Mapped[list[Child]] = relationship(back_populates="parent", order_by="Child.name")
    tutor_profile: Mapped[TutorProfile | None] = relationship(back_populates="user", uselist=False)

    __table_args__ = (CheckConstraint(one_of("role", Role), name="role_known"),)

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False
    # The raw key of the login session this request belongs to (not a column: set by the loader or at log-in).
    login_key = None  # type: str | None

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie and the remember-me cookie; the key names a LoginSession
        # row, so deleting the row ends every copy of either cookie.
        return f"{self.id}.{self.login_key}" if self.login_key else str(self.id)

    @property
    def is_tutor(self) -> bool:
        return self.role == Role.TUTOR

    @property
    def is_parent(self) -> bool:
        return self.role == Role.PARENT

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """Admins and support agents: they see every user, booking and ticket."""
        return self.role in STAFF_ROLES

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_active(self) -> bool:
        # Flask-Login refuses to log in an inactive user: a suspended account is one.
        return self.suspended_at is None


class ApiToken(db.Model):
    """A bearer token for mobile clients; only its SHA-256 is stored. Revoking deletes the row."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    device_name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user: Mapped[User] = relationship()


class LoginSession(db.Model):
    """A browser's log-in: the session cookie (and remember-me cookie) carry its key; only the SHA-256 is stored.

    Logging out deletes the row, so a copied cookie stops working at once."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="", server_default="")
    user: Mapped[User] = relationship()


class Child(db.Model):
    __tablename__ = "children"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    year_level: Mapped[str] = mapped_column(String(60), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    parent: Mapped[User] = relationship(back_populates="children")


class Subject(db.Model):
    __tablename__ = "subjects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)


class Level(db.Model):
    __tablename__ = "levels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    rank: Mapped[int] = mapped_column(Integer, default=0)


class ExamBoard(db.Model):
    __tablename__ = "exam_boards"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class TutorProfile(db.Model):
    """A tutor's public profile and booking rules; times are in the tutor's own zone (users.timezone)."""

    __tablename__ = "tutor_profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    headline: Mapped[str] = mapped_column(String(160), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=12)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    travel_buffer_minutes: Mapped[int] = mapped_column(Integer, default=30)
    base_latitude: Mapped[float | None] = mapped_column(Float)
    base_longitude: Mapped[float | None] = mapped_column(Float)
    # Where the tutor starts from, as typed; base_latitude/longitude come from the geocoder (or an API client).
    base_line1: Mapped[str | None] = mapped_column(String(200))
    base_postcode: Mapped[str | None] = mapped_column(String(20))
    base_city: Mapped[str | None] = mapped_column(String(100))
    # Only approved tutors are listed and bookable; a tutor who signs up on the site waits for an admin.
    approval: Mapped[str] = mapped_column(String(10), default="approved", server_default="approved")
    approval_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    user: Mapped[User] = relationship(back_populates="tutor_profile")
    teaches: Mapped[list[Teach]] = relationship(back_populates="tutor_profile", order_by="Teach.id",
                                                primaryjoin="TutorProfile.user_id == foreign(Teach.tutor_id)",
                                                viewonly=True)
    __table_args__ = (CheckConstraint("approval IN ('pending','approved','refused')", name="approval_known"),)


class Teach(db.Model):
    """What a tutor teaches at which level (and exam board), for how much, and how."""

    __tablename__ = "teaches"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id"))
    exam_board_id: Mapped[int | None] = mapped_column(ForeignKey("exam_boards.id"))
    hourly_rate_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    in_person: Mapped[bool] = mapped_column(Boolean, default=False)
    max_travel_km: Mapped[int | None] = mapped_column(Integer)
    # A subject the tutor stopped offering: hidden from search and new bookings, kept for its past lessons.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    subject: Mapped[Subject] = relationship()
    level: Mapped[Level] = relationship()
    exam_board: Mapped[ExamBoard | None] = relationship()
    tutor_profile: Mapped[TutorProfile] = relationship(
        back_populates="teaches", primaryjoin="TutorProfile.user_id == foreign(Teach.tutor_id)", viewonly=True)

    __table_args__ = (
        UniqueConstraint("tutor_id", "subject_id", "level_id", "exam_board_id", name="uq_teaches_offer"),
        CheckConstraint("hourly_rate_minor > 0", name="rate_positive"),
        CheckConstraint("online OR in_person", name="some_mode"),
    )


class WeeklyWindow(db.Model):
    """One window of a tutor's weekly hours, minutes from local midnight in the tutor's zone."""

    __tablename__ = "weekly_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
                      CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
                                      name="minutes_range"))


class DateOverride(db.Model):
    """Other hours on one date; a row with no minutes means the day is off."""

    __tablename__ = "date_overrides"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (CheckConstraint(
        "(start_minute IS NULL AND end_minute IS NULL) OR "
        "(start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute)", name="minutes_range"),)


lesson_user = Table(
    "lesson_user", db.metadata,
    Column("lesson_id", ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

lesson_child = Table(
    "lesson_child", db.metadata,
    Column("lesson_id", ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True),
    Column("child_id", ForeignKey("children.id"), primary_key=True, index=True),  # a child with lessons stays
)


class Lesson(db.Model):
    __tablename__ = "lessons"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id"))
    exam_board_id: Mapped[int | None] = mapped_column(ForeignKey("exam_boards.id"))
    teach_id: Mapped[int] = mapped_column(ForeignKey("teaches.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=LessonState.ACTIVE)
    in_person: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A reschedule proposal (seed 004): held while it stands; the version makes old links useless.
    suggested_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suggested_finish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reschedule_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reschedule_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reschedule_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    experience_rating: Mapped[int | None] = mapped_column(Integer)

    tutor: Mapped[User] = relationship(foreign_keys=[tutor_id])
    subject: Mapped[Subject] = relationship()
    level: Mapped[Level] = relationship()
    exam_board: Mapped[ExamBoard | None] = relationship()
    teach: Mapped[Teach] = relationship()
    address: Mapped[LessonAddress | None] = relationship(back_populates="lesson", uselist=False)
    students: Mapped[list[User]] = relationship(secondary=lesson_user)
    children: Mapped[list[Child]] = relationship(secondary=lesson_child)
    booking: Mapped[Booking | None] = relationship(back_populates="lesson", uselist=False)

    __table_args__ = (
        CheckConstraint("finish_at > start_at", name="finish_after_start"),
        CheckConstraint(one_of("state", LessonState), name="state_known"),
        CheckConstraint("experience_rating IS NULL OR experience_rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_lessons_tutor_start", "tutor_id", "start_at"),
        # Proposed times are busy while they stand: the slot picker range-scans them as it does start_at. Partial,
        # so it holds only lessons with a proposal and the planner never takes it for the start_at lookup.
        Index("ix_lessons_tutor_suggested_start", "tutor_id", "suggested_start_at",
              sqlite_where=text("suggested_start_at IS NOT NULL"),
              postgresql_where=text("suggested_start_at IS NOT NULL")),
    )


class LessonAddress(db.Model):
    __tablename__ = "lesson_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), unique=True)
    line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    lesson: Mapped[Lesson] = relationship(back_populates="address")


class Booking(db.Model):
    __tablename__ = "bookings"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id"), unique=True)
    booker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=BookingState.AWAITING_PAYMENT)
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(Text, default="")
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Numbers each Checkout Session opened for this booking: one attempt, one idempotency key.
    checkout_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    quote: Mapped[dict | None] = mapped_column(JSON)  # the fee breakdown the student agreed to at checkout
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approval_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refund_policy: Mapped[dict | None] = mapped_column(JSON)  # frozen when the booking is paid
    cancellation_note: Mapped[str] = mapped_column(Text, default="")
    # The booking form's one-time key: a repeated submit of the same form finds this booking instead of a new one.
    form_key: Mapped[str | None] = mapped_column(String(64))
    # How it is paid for (services/funding.py picks the strategy from it): a card, or prepaid minutes.
    funding: Mapped[str] = mapped_column(String(16), default=Funding.CARD, server_default=Funding.CARD.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lesson: Mapped[Lesson] = relationship(back_populates="booking")
    receipt: Mapped[PaymentReceipt | None] = relationship(viewonly=True, uselist=False,
                                                          primaryjoin="Booking.id == PaymentReceipt.booking_id")
    booker: Mapped[User] = relationship()

    __table_args__ = (CheckConstraint("price_minor >= 0", name="price_not_negative"),
                      # Like lessons: only the states of the transition table (migration 0007 adds it).
                      CheckConstraint(one_of("state", BookingState), name="state_known"),
                      CheckConstraint(one_of("funding", Funding), name="funding_known"),
                      UniqueConstraint("booker_id", "form_key", name="uq_bookings_booker_form_key"))


class CalendarFeed(db.Model):
    """A user's secret calendar-feed address (their lessons as iCalendar); only the SHA-256 of the secret is stored,
    so the address is shown once, when made, and rotating it replaces the hash (the old address stops working)."""

    __tablename__ = "calendar_feeds"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarSourceKind(StrEnum):
    """Where a tutor's busy time comes from."""

    ICS = "ics"  # a secret iCal address (Google's "secret address in iCal format", Outlook, Apple)
    GOOGLE = "google"  # Google Calendar's free/busy API with OAuth


class CalendarSource(db.Model):
    """One of a tutor's external calendars; each good sync replaces its CalendarEvent rows.

    `last_synced_at` is when the last good sync started fetching: the data is that fresh. A source that has not
    synced within the configured age hides the tutor's slots (fail closed)."""

    __tablename__ = "calendar_sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=CalendarSourceKind.ICS)
    label: Mapped[str] = mapped_column(String(80), default="")
    url: Mapped[str | None] = mapped_column(Text)  # the secret address itself: a credential, never shown whole
    credentials: Mapped[str | None] = mapped_column(Text)  # encrypted (Google's refresh token), never shown
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (CheckConstraint(one_of("kind", CalendarSourceKind), name="kind_known"),)


class CalendarEvent(db.Model):
    """A busy block from a tutor's external calendar (filled by calendar sync), or the mirror of a lesson."""

    __tablename__ = "calendar_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The source whose sync wrote the row (removing the source removes its busy time).
    source_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_sources.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(255))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    busy: Mapped[bool] = mapped_column(Boolean, default=True)
    summary: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (UniqueConstraint("tutor_id", "event_id", name="uq_calendar_events_tutor_event"),
                      # Events have no longest length, so busy-time lookups are bounded below by their end.
                      Index("ix_calendar_events_tutor_finish", "tutor_id", "finish_at"))


class Meeting(db.Model):
    """An online lesson's video meeting, one per lesson (seed 004's Meeting::createOrUpdateMeeting): what the
    provider answered, stored, so emails and pages show this record and never a link made up before the call.

    `pending`: the room name is chosen and the provider not yet (or not certainly) told; `active`: the provider
    holds the room for the lesson at [start_at, finish_at] and the URLs are its answer; `deleted`: the lesson was
    cancelled and the provider's room removed."""

    __tablename__ = "meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))  # the provider's room name
    password: Mapped[str | None] = mapped_column(String(200))
    join_url: Mapped[str | None] = mapped_column(String(2000))  # the host's (the tutor's)
    participant_join_url: Mapped[str | None] = mapped_column(String(2000))  # the learners'
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # The lesson times the provider's room was last set for (its window is these, widened by the room's
    # opening and closing minutes): a lesson whose times differ has moved and its room needs updating.
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after a failed call: not before this
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lesson: Mapped[Lesson] = relationship()
    __table_args__ = (CheckConstraint("status IN ('pending','active','deleted')", name="status_known"),)


# --- money (issue: Stripe Checkout, fees, coupons, refunds, payouts) -------------------------------

class Commission(db.Model):
    """Platform fee rates; only one row is active at a time (a partial unique index enforces it)."""

    __tablename__ = "commissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    commission_fee_bp: Mapped[int] = mapped_column(Integer, default=0)
    service_fee_bp: Mapped[int] = mapped_column(Integer, default=0)
    payout_fee_bp: Mapped[int] = mapped_column(Integer, default=0)
    payout_amount_fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    account_management_amount_fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        Index("uq_commissions_one_active", "active", unique=True, sqlite_where=text("active"),
              postgresql_where=text("active")),
        CheckConstraint("commission_fee_bp BETWEEN 0 AND 10000 AND service_fee_bp BETWEEN 0 AND 10000 "
                        "AND payout_fee_bp BETWEEN 0 AND 10000", name="bp_range"),
        CheckConstraint("payout_amount_fee_minor >= 0 AND account_management_amount_fee_minor >= 0",
                        name="fixed_fees_not_negative"),
    )


class Coupon(db.Model):
    """A special offer code (seed 002): per-user usage, amount or percent discount, dates and limits."""

    __tablename__ = "coupons"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    usage: Mapped[str] = mapped_column(String(20))
    discount_type: Mapped[str] = mapped_column(String(30))
    amount_minor: Mapped[int | None] = mapped_column(Integer)
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    max_discount_amount_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_total_uses: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A special offer is a coupon with a name and an audience (domain/offers.py); a plain code has neither.
    name: Mapped[str | None] = mapped_column(String(120))
    audience: Mapped[str | None] = mapped_column(String(20))
    audience_tutor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # TUTOR_STUDENTS only
    # Applied at checkout without a code when the student matches (the best matching one wins).
    auto_apply: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # An admin asked to email the audience: the announcement job (and its sweep) writes one email per user.
    announce_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    audience_tutor: Mapped[User | None] = relationship(foreign_keys=[audience_tutor_id])
    __table_args__ = (CheckConstraint("audience IS NULL OR " + one_of("audience", Audience), name="audience_known"),)


class OfferRecipient(db.Model):
    """A user chosen for a CHOSEN_USERS offer."""

    __tablename__ = "offer_recipients"
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class CouponUse(db.Model):
    """A coupon reserved at checkout and confirmed once the payment is authorized.

    The numbered slots make the limits hold in the database itself: a user's n-th use and the coupon's
    n-th use are unique, so two racing payments cannot both take the last one.
    """

    __tablename__ = "coupon_uses"
    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    user_slot: Mapped[int] = mapped_column(Integer)
    total_slot: Mapped[int] = mapped_column(Integer)
    discount_minor: Mapped[int] = mapped_column(Integer)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("coupon_id", "user_id", "user_slot", name="uq_coupon_uses_user_slot"),
                      UniqueConstraint("coupon_id", "total_slot", name="uq_coupon_uses_total_slot"))


class PaymentReceipt(db.Model):
    """What was charged for a booking and how it splits, written when the payment is authorized."""

    __tablename__ = "payment_receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    # Who holds the money: "stripe" (payment_intent_id is a PaymentIntent) or "paypal" (the PayPal order id).
    provider: Mapped[str] = mapped_column(String(10), default="stripe", server_default="stripe")
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    charge_id: Mapped[str | None] = mapped_column(String(255))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    application_fee_id: Mapped[str | None] = mapped_column(String(255))
    application_fee_amount_minor: Mapped[int] = mapped_column(Integer)
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    breakdown: Mapped[dict] = mapped_column(JSON)
    tutor_payout_minor: Mapped[int] = mapped_column(Integer)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    transfer_id: Mapped[str | None] = mapped_column(String(255))
    transfer_error: Mapped[str | None] = mapped_column(Text)
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the transfer sent (the tutor's share at that moment); refunds after it are taken back by reversals.
    transferred_minor: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    booking: Mapped[Booking] = relationship()
    coupon: Mapped[Coupon | None] = relationship(viewonly=True)  # the code or special offer it was paid with
    __table_args__ = (CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor",
                                      name="refund_within_amount"),)


class TransferReversal(db.Model):
    """Part of a tutor's transfer taken back after a refund made once the transfer was sent; recorded as `pending`
    under its idempotency key before Stripe is called, so a lost answer is retried, never doubled."""

    __tablename__ = "transfer_reversals"
    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    transfer_id: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_reversal_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, succeeded, failed
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("amount_minor > 0", name="reversal_positive"),)


class Refund(db.Model):
    """One refund of a booking: ours (recorded as `pending` before Stripe is called, under the idempotency key
    Stripe gets) or one made outside the app; one row per Stripe refund id. The receipt's refund totals are
    sums over these rows (`pending` and `succeeded` count: that money is leaving)."""

    __tablename__ = "refunds"
    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    paypal_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="succeeded")  # pending, succeeded, failed
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the provider reports the refund failed after accepting it (Stripe's failure_reason): it stops counting.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(String(100))


class StripeEvent(StoredEventColumns, db.Model):
    """Every webhook event, stored by id when it arrives (so a replay is recognised) and applied once by a job."""

    __tablename__ = "stripe_events"


class PayoutAccount(db.Model):
    """A tutor's Stripe Connect Express account and whether it can receive payouts yet."""

    __tablename__ = "payout_accounts"
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    stripe_account_id: Mapped[str] = mapped_column(String(255), unique=True)
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PendingRegistration(db.Model):
    """A sign-up waiting for the emailed link to be followed: the account is made only then, so the sign-up page
    answers the same whether or not the email already has an account. Only the link token's hash is kept."""

    __tablename__ = "pending_registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxMessage(db.Model):
    """An email or push message written in the same transaction as the change that caused it; a job delivers it."""

    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), default="email", server_default="email")  # or "push"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # push recipient
    template: Mapped[str] = mapped_column(String(80))
    to_address: Mapped[str] = mapped_column(String(254))
    bcc: Mapped[str] = mapped_column(String(1000), default="")
    context: Mapped[dict] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The lease of a `sending` claim: past it, the sender is presumed dead and the message is claimed again.
    sending_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


# --- lesson lifecycle (issue: jobs, outbox, reschedule, reminders, push, notes, reviews) ------------

class Notification(db.Model):
    """An entry in a user's in-app notification centre; the dedupe key makes a job's notice at most once."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)


class PushSubscription(db.Model):
    """A browser's Web Push subscription (endpoint and keys) for one user."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedLink(db.Model):
    """A signed email link that has been acted on (single use)."""

    __tablename__ = "used_links"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SummaryNote(db.Model):
    """The tutor's notes on a finished lesson."""

    __tablename__ = "summary_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), unique=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    attachments: Mapped[list[NoteAttachment]] = relationship(back_populates="note", order_by="NoteAttachment.id")


class NoteAttachment(StoredFileColumns, db.Model):
    """A file attached to a summary note, stored outside the web root under a random name."""

    __tablename__ = "note_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("summary_notes.id", ondelete="CASCADE"), index=True)
    note: Mapped[SummaryNote] = relationship(back_populates="attachments")


class TutorRatingCriteria(db.Model):
    """One thing reviewers rate tutors on (managed by admins)."""

    __tablename__ = "tutor_rating_criteria"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TutorReview(db.Model):
    """A reviewer's ratings of a tutor for one lesson (one per reviewer per lesson)."""

    __tablename__ = "tutor_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ratings: Mapped[list[TutorReviewRating]] = relationship(back_populates="review")
    __table_args__ = (UniqueConstraint("lesson_id", "reviewer_id", name="uq_tutor_reviews_lesson_reviewer"),)


class TutorReviewRating(db.Model):
    """One criterion's rating (1–5) within a review."""

    __tablename__ = "tutor_review_ratings"
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("tutor_reviews.id", ondelete="CASCADE"))
    criteria_id: Mapped[int] = mapped_column(ForeignKey("tutor_rating_criteria.id"))
    rating: Mapped[int] = mapped_column(Integer)
    review: Mapped[TutorReview] = relationship(back_populates="ratings")
    __table_args__ = (UniqueConstraint("review_id", "criteria_id", name="uq_tutor_review_ratings_review_criteria"),
                      CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"))


class LedgerTransaction(db.Model):
    """One movement of prepaid minutes (domain/ledger.py): its entries sum to zero per currency and are never
    edited. ``key`` is made from the outside id or our own ids that caused it, so a replay records nothing twice."""

    __tablename__ = "ledger_transactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    move: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("minute_lots.id"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="transaction")
    __table_args__ = (CheckConstraint("minutes > 0", name="minutes_positive"),
                      CheckConstraint(one_of("move", Move), name="move_known"))


class LedgerEntry(db.Model):
    """One signed line of a ledger transaction on one account in one currency (minutes of one tutor)."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(Integer)
    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    __table_args__ = (Index("ix_ledger_entries_account_currency", "account", "currency"),)


class LedgerBalance(db.Model):
    """A cached balance of one account in one currency, changed in the same transaction as its entries and
    locked (FOR UPDATE) while it is checked, so two bookings racing for the last minutes cannot both win.
    The entries are the truth: the balance always equals their sum."""

    __tablename__ = "ledger_balances"
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(32), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)


class MinuteLot(db.Model):
    """Minutes granted together (a package bought, a subscription period paid) and when they expire."""

    __tablename__ = "minute_lots"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(32))  # package, subscription, goodwill
    source_ref: Mapped[str] = mapped_column(String(255), unique=True)  # the outside id that paid for it
    minutes: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # What the student paid for the lot (a package's price, a subscription invoice's amount paid): tutor payouts
    # for lessons taught with these minutes are valued from it (services/minute_payouts.py). None: not paid for.
    paid_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("minutes > 0", name="lot_minutes_positive"),
                      CheckConstraint("paid_minor IS NULL OR paid_minor >= 0", name="lot_paid_not_negative"))


class PayPalOrder(db.Model):
    """A PayPal order we opened (for a booking's lesson, or a package of minutes) and how far PayPal has taken it. Its status only moves
    forward (CREATED → APPROVED → AUTHORIZED → CAPTURED, or to VOIDED or CANCELLED), so what our own calls learn
    and webhook events applied in any order agree. `authorization_id` is the live authorization: a reauthorization
    replaces it (PayPal gives it a new id) and keeps the first one in `first_authorization_id`, which is the one a
    void must name."""

    __tablename__ = "paypal_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    # or the package purchase it pays for (an order with intent CAPTURE); never both
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("package_purchases.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(255), unique=True)  # the PayPal-Request-Id that created it
    status: Mapped[str] = mapped_column(String(20), default="CREATED")
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    approve_url: Mapped[str | None] = mapped_column(String(500))
    authorization_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_authorization_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    authorization_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    honor_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capture_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    __table_args__ = (CheckConstraint("amount_minor > 0", name="paypal_amount_positive"),
                      CheckConstraint("booking_id IS NULL OR purchase_id IS NULL", name="paypal_pays_for_one"))


class PayPalEvent(StoredEventColumns, db.Model):
    """Every verified PayPal webhook event, stored by id when it arrives (a replay is recognised) and applied once
    by a job, like StripeEvent."""

    __tablename__ = "paypal_events"


# --- live lesson (issue 10: the lesson room and its chat) ------------------------------------------

class ChatMessage(db.Model):
    """One message in a lesson's chat; `seq` numbers a lesson's messages 1, 2, 3… in the order they were stored."""

    __tablename__ = "chat_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[User] = relationship()
    # The unique pair is also the index every read uses (a lesson's messages after a sequence number).
    __table_args__ = (UniqueConstraint("lesson_id", "seq", name="uq_chat_messages_lesson_seq"),
                      CheckConstraint("seq > 0", name="seq_positive"))


class TutorPackage(db.Model):
    """A package of prepaid hours a tutor offers at a discount (domain/packages.py prices it from their rate).
    Removing one only retires it: purchases keep pointing at it."""

    __tablename__ = "tutor_packages"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    hours: Mapped[int] = mapped_column(Integer)
    discount_percent: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("hours BETWEEN 1 AND 100", name="hours_range"),
                      CheckConstraint("discount_percent BETWEEN 0 AND 50", name="discount_range"))


class PackagePurchase(db.Model):
    """A student buying one package: made when they press Buy (its price computed then and frozen), paid on Stripe
    Checkout (the checkout.session.completed webhook grants its minutes once, keyed on the session id) or with PayPal
    (an order with intent CAPTURE: granted once, keyed on the capture id). ``form_key`` (one per rendered Buy form)
    makes a double click the same purchase and the same payment page; ``expires_at`` is when that page lapses
    (Checkout's expires_at, or how long we keep a PayPal order open), after which a sweep closes it as expired."""

    __tablename__ = "package_purchases"
    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("tutor_packages.id"))
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16), default=PurchaseState.OPEN)
    method: Mapped[str] = mapped_column(String(16), default=PurchaseMethod.CARD, server_default="card")
    form_key: Mapped[str] = mapped_column(String(64))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("minute_lots.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it became expired or cancelled
    # The card payment's PaymentIntent (from the Checkout Session), what a refund of the purchase names.
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    package: Mapped[TutorPackage] = relationship()
    tutor: Mapped[User] = relationship(foreign_keys=[tutor_id])
    lot: Mapped[MinuteLot | None] = relationship()
    __table_args__ = (CheckConstraint("minutes > 0", name="purchase_minutes_positive"),
                      CheckConstraint("price_minor >= 0", name="purchase_price_not_negative"),
                      CheckConstraint(one_of("state", PurchaseState), name="state_known"),
                      CheckConstraint(one_of("method", PurchaseMethod), name="method_known"),
                      Index("ix_package_purchases_open_expiry", "state", "expires_at"),
                      UniqueConstraint("student_id", "form_key", name="uq_package_purchases_student_form_key"))


class PackageRefund(db.Model):
    """One refund of a package purchase: an admin's (recorded `pending` under its idempotency key before the provider
    is called, with the unused minutes withdrawn in the same write) or one made at the provider (Stripe's Dashboard,
    PayPal's), booked once by the provider's refund id. ``minutes`` were taken back from the lot; ``shortfall_minutes``
    were due but already used (shown to admins; a balance never goes below zero). Totals are sums of these rows."""

    __tablename__ = "package_refunds"
    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("package_purchases.id"), index=True)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # re_… or PayPal's refund id
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="succeeded")  # pending, succeeded, failed
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    shortfall_minutes: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the provider reports the refund failed after accepting it: it stops counting, its minutes come back.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (CheckConstraint("amount_minor > 0", name="package_refund_amount_positive"),
                      CheckConstraint("minutes >= 0 AND shortfall_minutes >= 0", name="package_refund_minutes"),
                      CheckConstraint("status IN ('pending','succeeded','failed')", name="package_refund_status"))


# --- homework: topics, the question bank, lesson learning records, sets and mastery -------------------------------


class Topic(db.Model):
    """One curriculum topic of a subject at a level; strands are topics without a parent (admins edit them)."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("subject_id", "level_id", "slug", name="uq_topics_slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(120))
    keywords: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    parent: Mapped[Topic | None] = relationship(remote_side="Topic.id")


class QuestionItem(db.Model):
    """A question in the bank: numeric (tolerance, unit), multiple choice, or algebraic; always a worked solution.

    Items made from a template keep (template, seed), so the question can be regenerated exactly."""

    __tablename__ = "question_items"
    __table_args__ = (UniqueConstraint("template", "seed", name="uq_question_items_variant"),
                      CheckConstraint("kind IN ('numeric', 'choice', 'algebra')", name="kind_known"),
                      CheckConstraint("difficulty BETWEEN 1 AND 3", name="difficulty_range"))
    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    difficulty: Mapped[int] = mapped_column(Integer, default=1)
    prompt: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(String(200))
    tolerance: Mapped[float] = mapped_column(Float, default=0.0)
    unit: Mapped[str] = mapped_column(String(20), default="")
    choices: Mapped[list] = mapped_column(JSON, default=list)
    solution: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(60))
    seed: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who may edit it: NULL is the shared bank (admins only); a tutor's id is that tutor's own item, used only in
    # their lessons' homework.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Versions: an item a published set holds is never changed; an edit makes a new row pointing back at it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("question_items.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("question_items.id"))  # copied from (a tutor's copy)
    # A tutor's edit of one draft set's question, private to that set: never in the bank, its lists, exports or the
    # generator (the tutor ticks "save to my bank" to keep it as their own item instead).
    local_to_set_id: Mapped[int | None] = mapped_column(ForeignKey("homework_sets.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    topic: Mapped[Topic] = relationship()


class NoteTopic(db.Model):
    """A topic the tutor confirmed was covered in the lesson of a summary note."""

    __tablename__ = "note_topics"
    note_id: Mapped[int] = mapped_column(ForeignKey("summary_notes.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    topic: Mapped[Topic] = relationship()


class NoteError(db.Model):
    """A mistake made in the lesson: its topic, what went wrong, and optionally the learner's wrong answer."""

    __tablename__ = "note_errors"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("summary_notes.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    what_went_wrong: Mapped[str] = mapped_column(String(500))
    wrong_answer: Mapped[str] = mapped_column(String(200), default="")
    topic: Mapped[Topic] = relationship()


class HomeworkSet(db.Model):
    """The homework one learner gets after one lesson: a draft the tutor reviews, then published to the learner."""

    __tablename__ = "homework_sets"
    __table_args__ = (UniqueConstraint("lesson_id", "learner_key", name="uq_homework_sets_learner"),
                      CheckConstraint("state IN ('draft', 'published')", name="state_known"))
    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    # "u<user id>" for a student, "c<child id>" for a child: mastery is kept per learner, not per account.
    learner_key: Mapped[str] = mapped_column(String(20), index=True)
    learner_name: Mapped[str] = mapped_column(String(120))
    answerer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seed: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the tutor first changes the draft (edit, swap, add, remove): saving the note again then keeps the set
    # as the tutor left it instead of drafting it anew (the tutor may rebuild it from the note on purpose).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lesson: Mapped[Lesson] = relationship()
    entries: Mapped[list[HomeworkEntry]] = relationship(back_populates="set", order_by="HomeworkEntry.position",
                                                        cascade="all, delete-orphan")


class HomeworkEntry(db.Model):
    """One question in a set, and the learner's answer once given (marked at once)."""

    __tablename__ = "homework_entries"
    __table_args__ = (UniqueConstraint("set_id", "item_id", name="uq_homework_entries_item"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("homework_sets.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("question_items.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(10))
    response: Mapped[str | None] = mapped_column(String(200))
    correct: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    set: Mapped[HomeworkSet] = relationship(back_populates="entries")
    item: Mapped[QuestionItem] = relationship()


class TopicMastery(db.Model):
    """A learner's mastery of one topic, and the FSRS card that schedules its next review."""

    __tablename__ = "topic_mastery"
    __table_args__ = (UniqueConstraint("learner_key", "topic_id", name="uq_topic_mastery_learner"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    learner_key: Mapped[str] = mapped_column(String(20))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    level: Mapped[int] = mapped_column(Integer, default=0)
    streak: Mapped[int] = mapped_column(Integer, default=0)
    card: Mapped[dict] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[Topic] = relationship()


class AuditEntry(db.Model):
    """One admin or support action: who, when, what, before → after. Append-only: no code path updates or deletes
    a row, and database triggers (migration 0022) refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    actor_name: Mapped[str] = mapped_column(String(120))  # kept as it was then, whatever happens to the account
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The action's own idempotency key, when it has one (a refund form sent twice is one refund and one row).
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)


class SubscriptionPlan(db.Model):
    """A tutor's monthly plan: minutes granted each month for a price. Plans are never edited (subscribers keep the
    terms they chose); retiring one stops new subscriptions to it."""

    __tablename__ = "subscription_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    tutor: Mapped[User] = relationship()
    __table_args__ = (CheckConstraint("minutes > 0", name="plan_minutes_positive"),
                      CheckConstraint("price_minor > 0", name="plan_price_positive"))


class Subscription(db.Model):
    """A student's Stripe subscription to a tutor's plan, as Stripe last told us (webhooks, or the answer to our own
    call): we record its state, never decide it. Each paid invoice grants a lot of minutes keyed on the invoice id."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_item_id: Mapped[str | None] = mapped_column(String(255))
    stripe_product_id: Mapped[str | None] = mapped_column(String(255))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("subscription_plans.id"))
    status: Mapped[str] = mapped_column(String(24))
    billing_anchor: Mapped[datetime] = mapped_column(UTCDateTime)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    # A second subscription to the same tutor (two Checkouts paid in a race): it never grants minutes, is cancelled
    # at Stripe at once and its payments refunded; what was refunded is recorded here (services/subscriptions.py).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    duplicate_refund_ids: Mapped[str | None] = mapped_column(Text)  # Stripe refund ids, comma-separated
    duplicate_refunded_minor: Mapped[int | None] = mapped_column(Integer)
    duplicate_refund_failed_ids: Mapped[str | None] = mapped_column(Text)  # those that failed later, comma-separated
    duplicate_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    plan: Mapped[SubscriptionPlan] = relationship()
    tutor: Mapped[User] = relationship(foreign_keys=[tutor_id])
    __table_args__ = (
        CheckConstraint(one_of("status", SubscriptionStatus), name="status_known"),
        # At most one live subscription per student and tutor: the database refuses a second.
        Index("uq_subscriptions_one_live", "student_id", "tutor_id", unique=True,
              sqlite_where=text(LIVE_SUBSCRIPTION_SQL), postgresql_where=text(LIVE_SUBSCRIPTION_SQL)),
    )


class SubscriptionChange(db.Model):
    """A change the student asked us to make to a subscription (cancel, resume, a plan), under the request's own key:
    the same request sent again (a double click, an API retry with the same Idempotency-Key) is recognised as that
    change already made, rather than as asking for what is already so."""

    __tablename__ = "subscription_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))  # cancel, resume, plan:<plan id>
    request_key: Mapped[str] = mapped_column(String(64))
    made_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("subscription_id", "action", "request_key",
                                       name="uq_subscription_changes_request"),)


class SubscriptionCheckout(db.Model):
    """A Stripe Checkout Session we opened for a monthly plan: to subscribe (mode=subscription), or to update the
    card of a subscription (mode=setup). An open one is reused or replaced, so a student has one page to pay at a
    time per tutor; a card update records what retrying the unpaid invoice gave (``status`` and ``message``)."""

    __tablename__ = "subscription_checkouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # subscribe, card
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("subscription_plans.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, complete, expired; card: paid, declined
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("kind IN ('subscribe', 'card')", name="kind_known"),)


class MinutePayout(db.Model):
    """A tutor's payout for one lesson paid with prepaid minutes: what its minutes were worth (services/
    minute_payouts.py), transferred once from the platform's balance after the settlement period."""

    __tablename__ = "minute_payouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    value_minor: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    transfer_error: Mapped[str | None] = mapped_column(Text)
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("amount_minor >= 0 AND amount_minor <= value_minor",
                                      name="payout_within_value"),)


class SupportTicket(db.Model):
    """A user's request for help, optionally about one booking; a thread of TicketMessage rows."""

    __tablename__ = "support_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default=TicketStatus.NEW)
    priority: Mapped[str] = mapped_column(String(10), default=TicketPriority.NORMAL)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), nullable=True, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The form's one-time key: the same form sent twice opens one ticket.
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    booking: Mapped[Booking | None] = relationship()
    messages: Mapped[list[TicketMessage]] = relationship(back_populates="ticket", order_by="TicketMessage.id")
    __table_args__ = (CheckConstraint(one_of("status", TicketStatus), name="status_known"),
                      CheckConstraint(one_of("priority", TicketPriority), name="priority_known"))


class TicketMessage(db.Model):
    """One message on a ticket: from the user or the staff; an internal note is never shown to the user."""

    __tablename__ = "ticket_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    via: Mapped[str] = mapped_column(String(10), default="web")  # web, or email (the signed reply link)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)  # one per rendered reply form
    ticket: Mapped[SupportTicket] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
    attachments: Mapped[list[TicketAttachment]] = relationship(back_populates="message",
                                                               order_by="TicketAttachment.id")


class TicketAttachment(StoredFileColumns, db.Model):
    """A file on a ticket message, stored like note attachments (outside the web root, random name, typed by content)."""

    __tablename__ = "ticket_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True)
    message: Mapped[TicketMessage] = relationship(back_populates="attachments")


class CannedReply(db.Model):
    """A reply the staff reuses: picked on the ticket page, it fills the answer box."""

    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnalyticsEvent(db.Model):
    """A key action, written in the same transaction as the action itself; `dedupe_id` makes it happen once."""

    __tablename__ = "analytics_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    dedupe_id: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Delivery to Mixpanel: a claim holds the row until `sending_until` (past it, a crashed sender's rows are claimed
    # again); `sent_at` marks it done, `skipped` when its user opted out of analytics, `refused` when Mixpanel refused
    # it as invalid MAX_REFUSALS times (its reason kept in `last_error`; never sent again).
    sending_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint(one_of("name", EventName), name="name_known"),
                      Index("ix_analytics_events_name_occurred", "name", "occurred_at"))
