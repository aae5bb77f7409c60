"""Application configuration: the only module that reads the environment."""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


# Dev and test only (the key pair is in the repository, so anyone can sign with it).
DEV_ONLY_VAPID_PRIVATE_KEY = "NzGag1iURRBz-H9NuwZi9IcuiD1EA9W6dEUOwAUstA4"
DEV_ONLY_VAPID_PUBLIC_KEY = "BIYRurJMCzfJuTCuNT7AI2uk4dIklrNWuXOKVuIu5gSq7KSxFvCXGNsCEkBoEGL45wUqYEuEbUOBkPRClBcitW0"


class Config:
    """Production settings: secrets have no default and must come from the environment."""

    ENV_NAME = "production"
    SECRET_KEY = _env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")
    REDIS_URL = _env("REDIS_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = True
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead, so long-open forms keep working
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
    # "Forgot password?" requests: per client address, and per email address so nobody floods one inbox.
    PASSWORD_RESET_RATE_LIMIT = _env("PASSWORD_RESET_RATE_LIMIT", "5 per 15 minutes")
    # Sign-ups per client address and, separately, per email address (each one sends an email).
    REGISTER_RATE_LIMIT = _env("REGISTER_RATE_LIMIT", "10 per hour")
    # A browser log-in ends this many days after it began, whatever its cookie says (the session store forgets it).
    LOGIN_SESSION_DAYS = _env_int("LOGIN_SESSION_DAYS", 31)
    RATELIMIT_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"  # a fixed window lets a burst straddle the boundary with twice the limit
    # With Redis down, limits are counted in this process's memory (Flask-Limiter logs the switch and switches
    # back when Redis answers again), so log-in keeps working and keeps being limited.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # A request already talking to Redis when the first one noticed the outage would otherwise be a 500: it is let
    # through unlimited, once, with the error logged.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
    REDIS_CONNECT_TIMEOUT_SECONDS = 2  # an unreachable Redis fails fast instead of holding a request
    # Argon2id cost (argon2-cffi defaults: 3 passes over 64 MiB).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_KIB = 65536
    # Booking rules (seed 002 / DESIGN.md); minutes unless named otherwise.
    LESSON_MIN_DURATION = 15
    LESSON_MAX_DURATION = 120
    LESSON_DEFAULT_DURATION = _env_int("LESSON_DEFAULT_DURATION", 60)
    BOOKING_HOLD_MINUTES = _env_int("BOOKING_HOLD_MINUTES", 30)
    TRAVEL_SPEED_KMH = float(_env("TRAVEL_SPEED_KMH", "25"))
    TRAVEL_OVERHEAD_MINUTES = _env_int("TRAVEL_OVERHEAD_MINUTES", 10)
    # A journey to or from an in-person lesson whose place has no coordinates cannot be estimated: the tutor gets at
    # least this long between it and anything else (or their own travel buffer, if longer).
    TRAVEL_UNKNOWN_PLACE_MINUTES = _env_int("TRAVEL_UNKNOWN_PLACE_MINUTES", 60)
    # Addresses become coordinates through a Nominatim-compatible geocoder when GEOCODER_URL is set (e.g.
    # https://nominatim.openstreetmap.org or your own instance); without it addresses are kept without coordinates.
    GEOCODER_URL = _env("GEOCODER_URL")
    GEOCODER_USER_AGENT = _env("GEOCODER_USER_AGENT", "Lessonbook/1.0 (tutoring bookings)")
    GEOCODER_TIMEOUT_SECONDS = float(_env("GEOCODER_TIMEOUT_SECONDS", "5"))
    GEOCODER_COUNTRY_CODES = _env("GEOCODER_COUNTRY_CODES")  # e.g. "gb,ie": limits matches to these countries
    DEFAULT_TIMEZONE = "Europe/London"
    # Payments. STRIPE_API_BASE points the official SDK at a local Stripe-compatible server in dev and tests.
    STRIPE_SECRET_KEY = _env("STRIPE_SECRET_KEY")
    STRIPE_WEBHOOK_SECRET = _env("STRIPE_WEBHOOK_SECRET")
    STRIPE_API_BASE = _env("STRIPE_API_BASE")
    # Per try (the SDK tries 3 times): its own default is 80 s, so a Stripe that accepts and stays silent held a
    # request or a job for four minutes before the user was told.
    STRIPE_TIMEOUT_SECONDS = float(_env("STRIPE_TIMEOUT_SECONDS", "20"))
    STRIPE_CONNECT_COUNTRY = _env("STRIPE_CONNECT_COUNTRY", "GB")
    # PayPal (optional second provider): a REST app's client id and secret, the id of the webhook registered for
    # /webhooks/paypal, and the API base (https://api-m.paypal.com live, https://api-m.sandbox.paypal.com sandbox;
    # `make run` points it at the local stand-in, standins/paypal.py, when no client id is set).
    PAYPAL_API_BASE = _env("PAYPAL_API_BASE", "https://api-m.paypal.com")
    PAYPAL_CLIENT_ID = _env("PAYPAL_CLIENT_ID")
    PAYPAL_CLIENT_SECRET = _env("PAYPAL_CLIENT_SECRET")
    PAYPAL_WEBHOOK_ID = _env("PAYPAL_WEBHOOK_ID")
    PAYPAL_TIMEOUT_SECONDS = float(_env("PAYPAL_TIMEOUT_SECONDS", "15"))
    # Analytics events go to Mixpanel (the `send_to_mixpanel` job) only when a project token is set.
    MIXPANEL_TOKEN = _env("MIXPANEL_TOKEN")
    MIXPANEL_TRACK_URL = _env("MIXPANEL_TRACK_URL", "https://api.mixpanel.com/track")
    MIXPANEL_TIMEOUT_SECONDS = float(_env("MIXPANEL_TIMEOUT_SECONDS", "10"))
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL")  # absolute links in emails and jobs, e.g. https://lessonbook.example
    APPROVAL_WINDOW_HOURS = _env_int("APPROVAL_WINDOW_HOURS", 48)
    MAX_AUTHORIZATION_HOURS = 5 * 24  # card authorizations lapse after about 7 days; never hold one past 5
    # PayPal authorizations can be captured for 29 days (the funds are sure for the first 3; a capture after that
    # reauthorizes first): never wait for approval past 28.
    PAYPAL_MAX_AUTHORIZATION_HOURS = 28 * 24
    SETTLEMENT_DAYS = _env_int("SETTLEMENT_DAYS", 2)
    # Minutes bought in a tutor's package expire this many days after payment (about six months); a job records it.
    MINUTES_EXPIRE_AFTER_DAYS = _env_int("MINUTES_EXPIRE_AFTER_DAYS", 183)
    # Minutes refunded from a lot that has expired since go into a new lot that lasts this long (services/wallet.py).
    REFUNDED_MINUTES_EXPIRE_AFTER_DAYS = _env_int("REFUNDED_MINUTES_EXPIRE_AFTER_DAYS", 30)
    SUBSCRIPTION_CARRY_PERIODS = _env_int("SUBSCRIPTION_CARRY_PERIODS", 1)
    CHECKOUT_MIN_MINUTES = 30  # Stripe Checkout sessions live at least 30 minutes
    INTERNAL_TEAM_EMAIL = _env("INTERNAL_TEAM_EMAIL", "team@lessonbook.invalid")
    SUPPORT_EMAIL = _env("SUPPORT_EMAIL", "support@lessonbook.invalid")  # where "Report a problem" writes to
    # The largest refund a support agent may make from the admin panel, in minor units of the booking's currency.
    SUPPORT_REFUND_CAP_MINOR = _env_int("SUPPORT_REFUND_CAP_MINOR", 5000)
    # Email: any SMTP server; dev and tests use a local sink.
    MAIL_HOST = _env("MAIL_HOST")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_FROM = _env("MAIL_FROM", "Lessonbook <no-reply@lessonbook.invalid>")
    MAIL_MAX_ATTEMPTS = 8
    # Every SMTP socket operation (connect, each reply) gives up after this long, so a server that accepts and
    # then stays silent delays one message instead of hanging the worker.
    MAIL_TIMEOUT_SECONDS = float(_env("MAIL_TIMEOUT_SECONDS", "10"))
    # How long an outbox message claimed for sending stays claimed; past it, a sender that died is presumed dead
    # and the message is sent again. Must exceed the longest send (SMTP timeouts, one push per device).
    OUTBOX_LEASE_SECONDS = _env_int("OUTBOX_LEASE_SECONDS", 300)
    SLOT_PICKER_DAYS = 7
    # Video meetings for online lessons: `jitsi` (an unguessable room on JITSI_BASE_URL, no API key, no call) or
    # `daily` (Daily's REST API with DAILY_API_KEY; DAILY_API_BASE only for a Daily-compatible server other than
    # Daily). A room can be joined from MEETING_OPENS_MINUTES before the start to MEETING_CLOSES_MINUTES after the end.
    MEETING_PROVIDER = (_env("MEETING_PROVIDER", "jitsi") or "jitsi").lower()
    JITSI_BASE_URL = _env("JITSI_BASE_URL", "https://meet.jit.si")
    DAILY_API_KEY = _env("DAILY_API_KEY")
    DAILY_API_BASE = _env("DAILY_API_BASE", "https://api.daily.co/v1")
    MEETING_TIMEOUT_SECONDS = float(_env("MEETING_TIMEOUT_SECONDS", "10"))
    MEETING_OPENS_MINUTES = _env_int("MEETING_OPENS_MINUTES", 15)
    MEETING_CLOSES_MINUTES = _env_int("MEETING_CLOSES_MINUTES", 30)
    # Web Push (VAPID, RFC 8292): the private key as base64url of its 32 raw bytes, the public key as base64url of
    # the 65-byte uncompressed point (what `web-push generate-vapid-keys` prints), and a mailto: or https: contact.
    VAPID_PRIVATE_KEY = _env("VAPID_PRIVATE_KEY")
    VAPID_PUBLIC_KEY = _env("VAPID_PUBLIC_KEY")
    VAPID_SUBJECT = _env("VAPID_SUBJECT")
    # The server POSTs to whatever endpoint a browser hands it, so only known push services are accepted (no SSRF
    # into our own network); a host matches itself and its subdomains.
    PUSH_SERVICE_HOSTS = tuple(h.strip().lower() for h in _env(
        "PUSH_SERVICE_HOSTS", "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com",
    ).split(",") if h.strip())
    PUSH_ALLOW_LOOPBACK = False  # dev and tests also accept a push service on 127.0.0.1/localhost
    NOTIFICATION_POLL_SECONDS = 60  # how often an open page refreshes the bell's unread count
    # /dev/mail shows everyone's mail with working signed links: development only, and only to this machine.
    DEV_MAIL_VIEWER = False
    # Summary-note attachments: kept outside the web root (never under webapp/static) under random names.
    UPLOAD_DIR = _env("UPLOAD_DIR", str(BASE_DIR / "instance" / "uploads"))
    MAX_ATTACHMENT_BYTES = _env_int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
    MAX_NOTE_ATTACHMENTS = 5
    # Calendars. Export: each user's secret feed address of their lessons; feed readers (Google polls every few
    # hours, Apple every few minutes per device) are limited per address.
    CALENDAR_FEED_RATE_LIMIT = _env("CALENDAR_FEED_RATE_LIMIT", "120 per hour")
    CALENDAR_FEED_PAST_DAYS = 90  # how far back the feed lists lessons
    # Import: tutors' calendars (secret iCal addresses) are read every 15 minutes by the worker. A source whose last
    # good sync is older than CALENDAR_STALE_MINUTES hides its tutor's free times (fail closed).
    CALENDAR_STALE_MINUTES = _env_int("CALENDAR_STALE_MINUTES", 60)
    CALENDAR_FETCH_MAX_BYTES = _env_int("CALENDAR_FETCH_MAX_BYTES", 5 * 1024 * 1024)
    CALENDAR_FETCH_TIMEOUT_SECONDS = float(_env("CALENDAR_FETCH_TIMEOUT_SECONDS", "20"))
    # Private, loopback and link-local addresses are refused as calendar hosts; these networks are allowed anyway
    # (comma-separated CIDRs; empty in production; dev and tests serve feeds on 127.0.0.1).
    CALENDAR_FETCH_ALLOWED_NETWORKS = _env("CALENDAR_FETCH_ALLOWED_NETWORKS", "")
    CALENDAR_MAX_SOURCES = 5  # calendars one tutor may connect
    # Google Calendar (free/busy with OAuth) is offered to tutors when a client id and secret are set (Google Cloud
    # console, an OAuth client of type "Web application" whose redirect URI is PUBLIC_BASE_URL +
    # /tutor/calendars/google/callback). The URLs are Google's; `make run` points them at a local stand-in.
    GOOGLE_CLIENT_ID = _env("GOOGLE_CLIENT_ID")
    GOOGLE_CLIENT_SECRET = _env("GOOGLE_CLIENT_SECRET")
    GOOGLE_OAUTH_AUTH_URL = _env("GOOGLE_OAUTH_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth")
    GOOGLE_OAUTH_TOKEN_URL = _env("GOOGLE_OAUTH_TOKEN_URL", "https://oauth2.googleapis.com/token")
    GOOGLE_CALENDAR_API_BASE = _env("GOOGLE_CALENDAR_API_BASE", "https://www.googleapis.com/calendar/v3")
    # Whole request bodies: every attachment a note may carry plus room for the form; larger ones get a 413 page.
    MAX_CONTENT_LENGTH = MAX_ATTACHMENT_BYTES * MAX_NOTE_ATTACHMENTS + 1024 * 1024

    # The lesson room's chat opens this many minutes before the start and closes this many after the end (floats;
    # negative values move the edge inside the lesson). Afterwards the transcript stays, read-only.
    CHAT_OPENS_BEFORE_MINUTES = float(_env("CHAT_OPENS_BEFORE_MINUTES", "15"))
    CHAT_CLOSES_AFTER_MINUTES = float(_env("CHAT_CLOSES_AFTER_MINUTES", "30"))
    # Messages one user may send per lesson chat (Flask-Limiter syntax; Redis-backed, in-memory while Redis is down).
    CHAT_RATE_LIMIT = _env("CHAT_RATE_LIMIT", "10 per 10 seconds")
    # Browsers apply no CORS to WebSockets, so the handshake checks Origin: the page's own origin and
    # PUBLIC_BASE_URL's are allowed, plus these (comma-separated, e.g. https://app.example.com).
    CHAT_ALLOWED_ORIGINS = tuple(o.strip().rstrip("/") for o in (_env("CHAT_ALLOWED_ORIGINS", "") or "").split(",")
                                 if o.strip())
    # Each open socket holds a server thread for its life: one user may keep this many open per web process.
    CHAT_MAX_SOCKETS_PER_USER = _env_int("CHAT_MAX_SOCKETS_PER_USER", 8)
    CHAT_POLL_SECONDS = 3  # how often the page asks for new messages when it cannot keep a WebSocket open
    # simple-websocket: a ping every 25 s ends dead connections; frames over 16 KiB end the socket (messages over
    # 2 KB are refused with a message, see domain/chat.py).
    SOCK_SERVER_OPTIONS = {"ping_interval": _env_int("CHAT_PING_SECONDS", 25), "max_message_size": 16 * 1024}

    @classmethod
    def validate(cls) -> None:
        """Refuse to start without the settings that have no safe default."""
        required = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                    "PUBLIC_BASE_URL", "MAIL_HOST", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT")
        missing = [n for n in required if not getattr(cls, n)]
        if cls.MEETING_PROVIDER not in ("jitsi", "daily"):
            raise RuntimeError(f"MEETING_PROVIDER must be jitsi or daily, not {cls.MEETING_PROVIDER!r}")
        if cls.MEETING_PROVIDER == "daily" and not cls.DAILY_API_KEY:
            missing.append("DAILY_API_KEY")
        if missing:
            raise RuntimeError(f"Missing required configuration: {', '.join(missing)} (set them in the environment)")


class DevConfig(Config):
    """Local development: a SQLite file, insecure cookies over http, a dev-only secret."""

    ENV_NAME = "development"
    SECRET_KEY = _env("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'lessonbook.sqlite3'}")
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    STRIPE_SECRET_KEY = _env("STRIPE_SECRET_KEY", "sk_test_local_dev")
    STRIPE_WEBHOOK_SECRET = _env("STRIPE_WEBHOOK_SECRET", "whsec_local_dev")
    # A dev-only VAPID key pair, public in this repository like the dev SECRET_KEY: never use it in production.
    VAPID_PRIVATE_KEY = _env("VAPID_PRIVATE_KEY", DEV_ONLY_VAPID_PRIVATE_KEY)
    VAPID_PUBLIC_KEY = _env("VAPID_PUBLIC_KEY", DEV_ONLY_VAPID_PUBLIC_KEY)
    VAPID_SUBJECT = _env("VAPID_SUBJECT", "mailto:dev@lessonbook.invalid")
    PUSH_ALLOW_LOOPBACK = True
    DEV_MAIL_VIEWER = True
    CALENDAR_FETCH_ALLOWED_NETWORKS = _env("CALENDAR_FETCH_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")


class TestConfig(DevConfig):
    """Tests: databases and Redis are given by the test fixtures."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret"
    VAPID_PRIVATE_KEY = DEV_ONLY_VAPID_PRIVATE_KEY
    VAPID_PUBLIC_KEY = DEV_ONLY_VAPID_PUBLIC_KEY
    VAPID_SUBJECT = "mailto:test@lessonbook.invalid"
    SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite://")
    REDIS_URL = _env("TEST_REDIS_URL", _env("REDIS_URL"))
    # Cheap hashing keeps the suite fast; the algorithm (Argon2id) is the same as in production.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    REGISTER_RATE_LIMIT = "1000 per hour"  # suites sign up many users from one address; limit tests set their own
    DEV_MAIL_VIEWER = False  # a test that reads mail in the browser turns it on for itself
    GEOCODER_URL = None  # a test that geocodes points this at its own local stand-in
    MIXPANEL_TOKEN = None  # a test that sends events points the app at its own Mixpanel stand-in


CONFIGS = {"production": Config, "development": DevConfig, "testing": TestConfig}


def config_for(name: str | None = None) -> type[Config]:
    """Pick the configuration class named by `name` or by LESSONBOOK_ENV (default: development)."""
    key = name or _env("LESSONBOOK_ENV", "development")
    try:
        return CONFIGS[key]
    except KeyError:
        raise RuntimeError(f"Unknown LESSONBOOK_ENV {key!r}; use one of {', '.join(CONFIGS)}") from None


def test_database_url() -> str | None:
    """PostgreSQL URL for the integration suite, if one is configured."""
    return _env("TEST_DATABASE_URL")


def dev_runtime_env() -> dict[str, str | None]:
    """The settings the dev runner needs before the app exists."""
    return {"DATABASE_URL": _env("DATABASE_URL"), "REDIS_URL": _env("REDIS_URL"), "PORT": _env("PORT", "5000"),
            "HOST": _env("HOST", "127.0.0.1"), "STRIPE_SECRET_KEY": _env("STRIPE_SECRET_KEY"),
            "MAIL_HOST": _env("MAIL_HOST"), "GEOCODER_URL": _env("GEOCODER_URL"),
            "MEETING_PROVIDER": (_env("MEETING_PROVIDER", "jitsi") or "jitsi").lower(),
            "DAILY_API_KEY": _env("DAILY_API_KEY"), "PAYPAL_CLIENT_ID": _env("PAYPAL_CLIENT_ID"),
            "GOOGLE_CLIENT_ID": _env("GOOGLE_CLIENT_ID"), "WEB_THREADS": _env("WEB_THREADS", "64")}


def test_redis_url() -> str | None:
    """Redis for the test suite (a throwaway database number), if one is configured."""
    return _env("TEST_REDIS_URL")


def postgres_required() -> bool:
    """CI sets this so a missing PostgreSQL fails the suite instead of skipping half of it."""
    return _env("LESSONBOOK_REQUIRE_POSTGRES", "0") not in ("0", "false", "no")


def chromium_path() -> str:
    """The Chromium binary Playwright drives (Debian's package by default)."""
    return _env("CHROMIUM_PATH", "/usr/bin/chromium")
