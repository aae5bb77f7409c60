"""RQ jobs: thin shells over services. They take ids or plain values, reload state, and are safe to run twice.

The worker (`worker.py`) provides the app context; jobs never build an app. Every periodic job takes an optional
`now` (ISO 8601 with an offset) so a missed run can be replayed "as of" a time; by default it is the clock.
"""
from __future__ import annotations

from datetime import UTC, datetime

from .services import (approvals, bookings, calendar_sync, cancellations, checkout, held_lessons, homework, meetings,
                       minute_payouts, mixpanel_export, notes, offer_announcements, outbox, package_paypal,
                       package_refunds, packages, payouts, paypal_events, reminders, reschedules, sessions,
                       stripe_events, transfer_reversals, wallet)


def _clock(now: str | None) -> datetime:
    """The given instant (aware ISO 8601), else the current time."""
    if now is None:
        return datetime.now(UTC)
    at = datetime.fromisoformat(now)
    if at.tzinfo is None:
        raise ValueError(f"`now` needs a UTC offset: {now!r}")
    return at.astimezone(UTC)


def expire_stale_holds(now: str | None = None) -> int:
    """Release unpaid holds past their time, close their Checkout Sessions and give reserved coupons back."""
    expired = bookings.expire_stale_holds(now=_clock(now))
    checkout.expire_open_checkouts(expired)
    return len(expired)


def expire_unapproved_bookings(now: str | None = None) -> int:
    """Release card authorizations the tutor did not approve in time."""
    return approvals.expire_unapproved(now=_clock(now))


def expire_minute_lots(now: str | None = None) -> int:
    """Record the unused minutes of packages past their expiry as expired (never silently dropped)."""
    return wallet.expire_lots(now=_clock(now))


def expire_abandoned_purchases(now: str | None = None) -> int:
    """Close package purchases whose Checkout or PayPal order lapsed unpaid as expired (asking the provider first:
    one found paid is granted instead)."""
    at = _clock(now)
    return packages.expire_abandoned_checkouts(at) + package_paypal.expire_abandoned_orders(at)


def reverse_overpaid_transfers(now: str | None = None) -> int:
    """Take back from tutors' transfers the share of refunds made after they were paid."""
    return transfer_reversals.reverse_overpaid_transfers(now=_clock(now))


def send_pending_payouts(now: str | None = None) -> int:
    """Transfer settled tutor payouts (card lessons from their charge, minute-paid lessons from the platform's
    balance), once each, and tell the internal team."""
    at = _clock(now)
    return payouts.send_pending_payouts(now=at) + minute_payouts.send_minute_payouts(at)


def apply_stripe_event(event_id: str, now: str | None = None) -> str:
    """Apply one stored Stripe webhook event (enqueued by the webhook endpoint after it stored the event)."""
    return stripe_events.apply_event(event_id, now=_clock(now))


def apply_stripe_events(now: str | None = None) -> int:
    """The sweep: apply stored Stripe events not applied yet (say the enqueue failed while Redis was down)."""
    return stripe_events.apply_stored_events(now=_clock(now))


def apply_paypal_event(event_id: str, now: str | None = None) -> str:
    """Apply one stored PayPal webhook event (enqueued by the webhook endpoint after it stored the event)."""
    return paypal_events.apply_event(event_id, now=_clock(now))


def apply_paypal_events(now: str | None = None) -> int:
    """The sweep: apply stored PayPal events not applied yet (say the enqueue failed while Redis was down)."""
    return paypal_events.apply_stored_events(now=_clock(now))


def confirm_pending_refunds(now: str | None = None) -> int:
    """Settle refunds (of bookings and of package purchases) whose provider answer was lost: book what the provider
    has, drop what it never received."""
    return cancellations.confirm_pending_refunds(now=_clock(now)) + package_refunds.confirm_pending(now=_clock(now))


def deliver_outbox(now: str | None = None) -> int:
    """Send due emails from the outbox (retrying with backoff when SMTP is down)."""
    return outbox.deliver_due(now=_clock(now))


def check_lesson_status(now: str | None = None) -> int:
    """CheckLessonStatus: cancel reschedule proposals nobody answered in time (or whose proposed time has passed)."""
    return reschedules.expire_unanswered(now=_clock(now))


def send_lesson_reminders(now: str | None = None) -> int:
    """SendLessonReminderPushNotification: push and in-app reminders 24 h and 2 h before each lesson, once each."""
    return reminders.send_lesson_reminders(now=_clock(now))


def send_summary_note_reminders(now: str | None = None) -> int:
    """SendSummaryNoteNotification: from 10:00 in each tutor's zone, nudge them about yesterday's lessons without notes."""
    return reminders.send_summary_note_reminders(now=_clock(now))


def send_review_requests(now: str | None = None) -> int:
    """SendReviewTutorNotification: from 10:00 UTC, ask yesterday's reviewers to review the tutor, once per pair a day."""
    return reminders.send_review_requests(now=_clock(now))


def sweep_orphaned_uploads(now: str | None = None) -> int:
    """Delete uploaded files no summary-note attachment points at (left by a crash between storing and saving)."""
    return notes.sweep_orphaned_uploads(now=_clock(now))


def send_homework_digests(now: str | None = None) -> int:
    """Weekly: email parents a summary of their children's homework, from Sunday 17:00 in each parent's zone (once
    per parent per week)."""
    return homework.send_parent_digests(now=_clock(now))


def purge_ended_sessions(now: str | None = None) -> int:
    """Delete log-in sessions past their lifetime and expired API tokens."""
    return sessions.purge_ended(now=_clock(now))


def sync_meeting(lesson_id: int, now: str | None = None) -> str:
    """Meeting.create_or_update: bring one lesson's meeting in line (create, move, replace a lost one, delete)."""
    return meetings.create_or_update(lesson_id, now=_clock(now))


def sync_meetings(now: str | None = None) -> int:
    """The sweep behind `sync_meeting`: every lesson whose meeting is missing, out of date or due to go."""
    return meetings.sync_due(now=_clock(now))


def sync_calendar_source(source_id: int, now: str | None = None) -> str:
    """Sync one tutor calendar now (enqueued when it is connected, or by "Sync now")."""
    return calendar_sync.sync_source(source_id, now=_clock(now))


def sync_calendars(now: str | None = None) -> int:
    """Read every connected tutor calendar not read in the last 14 minutes and replace its busy time."""
    return calendar_sync.sync_due(now=_clock(now))


def announce_offer(coupon_id: int, now: str | None = None) -> int:
    """Write a special offer's announcement email to each user of its audience not yet emailed (batched)."""
    return offer_announcements.announce(coupon_id, now=_clock(now))


def announce_offers(now: str | None = None) -> int:
    """The sweep behind `announce_offer`: finish every requested announcement of a running offer."""
    return offer_announcements.announce_requested(now=_clock(now))


def send_to_mixpanel(now: str | None = None) -> int:
    """Send unsent analytics events to Mixpanel in batches (only with MIXPANEL_TOKEN); outages only delay them."""
    return mixpanel_export.send_due(now=_clock(now))


def record_held_lessons(now: str | None = None) -> int:
    """Record the "lesson held" analytics event for lessons that ended and took place (once each)."""
    return held_lessons.record_held_lessons(now=_clock(now))
