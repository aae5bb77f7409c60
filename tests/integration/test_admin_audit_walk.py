"""Every staff action writes its audit row (who, when, what, before → after) with the change: a walk over every
staff-only POST route of the app, each sent as an admin's form would be. A new staff route without a scenario here
fails the first test, so it cannot land unaudited."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from rq.job import JobStatus
from sqlalchemy import func, select

import worker
from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import URLS, book, now
from tests.integration.test_refunds_and_payouts import onboard, paid_booking
from webapp.adapters.queue import get_queue
from webapp.domain.roles import STAFF_ROLES
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import AuditEntry, Booking, PaymentReceipt, PayoutAccount, Refund, TutorProfile
from webapp.services import accounts, approvals, cancellations, checkout, offers, payouts, reviews, tickets


def _now() -> datetime:
    return datetime.now(UTC)


def staff_post_endpoints(app) -> set[str]:
    """POST routes that only staff may use: under /admin, or guarded with staff roles only (`role_required` in
    the pages, `staff_only` in the JSON API: both mark the view with its roles)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        if rule.rule.startswith("/admin") or (roles and roles <= set(STAFF_ROLES)):
            found.add(rule.endpoint)
    return found


def _coupon(admin, **kw):
    return offers.create_coupon(admin, code=kw.pop("code", "WALK10"), usage="ONE_TIME_USE",
                                discount_type="DISCOUNT_TYPE_AMOUNT", amount_minor=500, percent_bp=None,
                                max_discount_amount_minor=None, currency="GBP", valid_from=None, valid_until=None,
                                max_total_uses=None, now=_now(), name="Walk offer", auto_apply="audience" in kw, **kw)


def _ticket():
    student = factories.user("student")
    return tickets.open_ticket(student, "Lesson link broken", "The link does not open.", None, [], _now())


def paid(ctx, **book_args) -> Booking:
    """A booking paid by card and approved. Unlike `paid_booking`, it waits for this booking's own webhooks (the
    walk pays several times, and the receiver has seen every event type after the first)."""
    world, client = ctx["world"], ctx["client"]
    booking = book(**book_args)
    assert world.pay(checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)).status_code == 303
    deadline = time.monotonic() + 10
    while True:
        world.deliver(client)
        db.session.rollback()
        if db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE:
            return approvals.approve(booking.lesson.tutor, booking.id, now())
        assert time.monotonic() < deadline, "the payment's webhooks never came"
        time.sleep(0.1)


def _failed_payout(ctx):
    booking = paid(ctx)
    account = onboard(booking.lesson.tutor)
    real_id = account.stripe_account_id
    account.stripe_account_id = "acct_closedmeanwhile"
    booking.lesson.start_at = _now() - timedelta(days=4)
    booking.lesson.finish_at = booking.lesson.start_at + timedelta(hours=1)
    db.session.commit()
    payouts.send_pending_payouts(_now())
    db.session.get(PayoutAccount, booking.lesson.tutor_id).stripe_account_id = real_id
    db.session.commit()
    return booking


def _failed_job(ctx):
    job = get_queue().enqueue("webapp.jobs.send_lesson_reminders", now="not-a-time")
    db.session.commit()
    worker.run_worker(ctx["app"], burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    return job


def _pending_tutor():
    tutor, _ = factories.tutor()
    db.session.get(TutorProfile, tutor.id).approval = "pending"
    db.session.commit()
    return tutor


_topic_names = iter(f"Walk topic {n}" for n in range(1, 100))


def _topic(ctx, parent_id=None, active=True):
    """A curriculum topic made by the admin (its own audit row comes before the walk's post is counted)."""
    from webapp.services import topic_admin
    topic = topic_admin.add_topic(ctx["admin"], factories.subject().id, factories.level().id, next(_topic_names),
                                  parent_id, "", _now())
    if not active:  # retired (a topic in use is retired, not deleted; the state is what the restore needs)
        topic.active = False
        db.session.commit()
    return topic


def _two_topics(ctx):
    first = _topic(ctx)
    return first, _topic(ctx)


# endpoint → (the action written, a function(ctx) returning (path, form fields)). Each sets up what the action needs.
SCENARIOS = {
    "admin.commissions": ("commission.add", lambda ctx: ("/admin/commissions", {
        "commission_fee_bp": "12.5", "service_fee_bp": "3", "payout_fee_bp": "1", "currency": "GBP",
        "payout_amount_fee_minor": "0.25", "account_management_amount_fee_minor": "0"})),
    "admin.coupons": ("coupon.create", lambda ctx: ("/admin/coupons", {
        "code": "SPRING5", "usage": "ONE_TIME_USE", "discount_type": "DISCOUNT_TYPE_AMOUNT", "amount": "5",
        "currency": "GBP"})),
    "admin.toggle_coupon": ("coupon.deactivate", lambda ctx: (
        f"/admin/coupons/{_coupon(ctx['admin']).id}/active", {"active": "0"})),
    "admin.announce_offer": ("offer.announce", lambda ctx: (
        f"/admin/coupons/{_coupon(ctx['admin'], code='NEWBIE5', audience='NEW_STUDENTS').id}/announce", {})),
    "admin.refund": ("booking.refund", lambda ctx: (
        f"/admin/bookings/{paid(ctx).id}/refund",
        {"amount": "5.00", "reason": "Late start", "request_key": "walk-refund-1"})),
    "admin_jobs.requeue": ("job.requeue", lambda ctx: (f"/admin/jobs/failed/default/{_failed_job(ctx).id}/requeue", {})),
    "admin_tickets.reply": ("ticket.reply", lambda ctx: (
        f"/admin/tickets/{_ticket().id}/reply", {"body": "Here is a new link."})),
    "admin_tickets.update": ("ticket.update", lambda ctx: (
        f"/admin/tickets/{_ticket().id}/update", {"status": "pending", "priority": "high"})),
    "admin_tickets.canned": ("canned_reply.create", lambda ctx: (
        "/admin/canned-replies", {"title": "New link", "body": "Here is a new link."})),
    "admin_users.suspend": ("user.suspend", lambda ctx: (
        f"/admin/users/{factories.user('student').id}/suspend", {"reason": "Chargebacks"})),
    "admin_users.reactivate": ("user.reactivate", lambda ctx: (
        f"/admin/users/{_suspended(ctx).id}/reactivate", {"reason": "Settled"})),
    "admin_users.end_sessions": ("user.end_sessions", lambda ctx: (
        f"/admin/users/{factories.user('student').id}/sessions/end", {})),
    "admin_users.retry_payout": ("payout.retry", lambda ctx: (
        f"/admin/payouts/{_failed_payout(ctx).id}/retry", {})),
    "admin_users.refund_purchase": ("package.refund", lambda ctx: (lambda student, _, purchase: (
        f"/admin/users/{student.id}/purchases/{purchase.id}/refund",
        {"amount": "", "reason": "Changed their mind", "request_key": "walk-package-refund-1"}))(
        *_package_bought(ctx))),
    "admin_users.approve_tutor": ("tutor.approve", lambda ctx: (f"/admin/tutors/{_pending_tutor().id}/approve", {})),
    "admin_users.refuse_tutor": ("tutor.refuse", lambda ctx: (
        f"/admin/tutors/{_pending_tutor().id}/refuse", {"reason": "No teaching certificate"})),
    "admin_topics.add": ("topic.add", lambda ctx: (
        f"/admin/topics/{factories.subject().id}/{factories.level().id}/add", {"name": "Fractions", "parent_id": ""})),
    "admin_topics.rename": ("topic.rename", lambda ctx: (
        f"/admin/topics/{_topic(ctx).id}/rename", {"name": "Renamed by the walk", "keywords": "walk"})),
    "admin_topics.move": ("topic.move", lambda ctx: (lambda a, b: (
        f"/admin/topics/{a.subject_id}/{a.level_id}/move", {"topic_id": str(b.id), "parent_id": str(a.id)}))(
        *_two_topics(ctx))),
    "admin_topics.reorder": ("topic.reorder", lambda ctx: (
        f"/admin/topics/{_two_topics(ctx)[1].id}/reorder", {"direction": "up"})),
    "admin_topics.retire": ("topic.delete", lambda ctx: (f"/admin/topics/{_topic(ctx).id}/retire", {})),
    "admin_topics.restore": ("topic.restore", lambda ctx: (
        f"/admin/topics/{_topic(ctx, active=False).id}/restore", {})),
    # The JSON API's staff actions: posted as JSON with the admin's app token (paths under /api/).
    "api.refund_booking": ("booking.refund", lambda ctx: (
        f"/api/bookings/{paid(ctx).id}/refunds",
        {"amount_minor": 500, "reason": "Late start", "idempotency_key": "walk-api-refund-1"})),
    "api.refund_booking_minutes": ("booking.refund_minutes", lambda ctx: (
        f"/api/bookings/{_minute_paid().id}/minute-refunds",
        {"minutes": 15, "reason": "Late start", "idempotency_key": "walk-api-minutes-1"})),
    "reviews.criteria": ("criterion.update", lambda ctx: ("/admin/rating-criteria", {
        "action": "update", "criteria_id": str(reviews.add_criterion(ctx["admin"], "Clarity", 1).id),
        "name": "Clear explanations", "position": "2", "active": "1"})),
}


def _package_bought(ctx):
    """A student who bought a package by card (its webhook applied): (student, tutor, purchase)."""
    import time

    from tests.integration.test_packages import _buy, _student_client, _tutor_with_package
    from webapp.models import PackagePurchase
    client, world = ctx["client"], ctx["world"]
    teacher, package = _tutor_with_package(hours=1, discount=0, rates=(3100,))
    student = _student_client(None, client)
    world.pay(_buy(client, teacher, package, form_key="walk-package-1").location)
    deadline = time.monotonic() + 10  # earlier scenarios' events are in the receiver too: wait for this purchase
    while True:
        world.deliver(client)
        db.session.rollback()
        purchase = db.session.scalar(select(PackagePurchase).where(PackagePurchase.student_id == student.id))
        if purchase.state == "paid" or time.monotonic() > deadline:
            return student, teacher, purchase
        time.sleep(0.1)


def _minute_paid():
    """A lesson paid with prepaid minutes and approved by the tutor."""
    from tests.integration.test_minute_refunds import _approved
    return _approved(60)


def _suspended(ctx):
    from webapp.services import admin_users
    user = factories.user("student")
    admin_users.suspend(ctx["admin"], user.id, "Chargebacks", _now())
    return user


def test_every_staff_post_route_has_an_audit_scenario(app):
    missing = staff_post_endpoints(app) - set(SCENARIOS)
    assert not missing, f"staff POST routes without an audit scenario (add one, and audit the action): {missing}"
    found = staff_post_endpoints(app)
    assert {"admin_jobs.requeue", "reviews.criteria", "api.refund_booking", "api.refund_booking_minutes"} <= found


def test_every_staff_post_route_writes_its_audit_row_with_the_change(app, client, stripe_world):
    admin = factories.user("admin")
    staff = app.test_client()
    login(staff, admin.email, factories.PASSWORD)
    token = csrf_from(staff.get("/admin/users/").get_data(as_text=True))
    bearer = {"Authorization": f"Bearer {accounts.issue_api_token(admin)[0]}"}
    ctx = {"app": app, "admin": admin, "world": stripe_world, "client": client}
    for endpoint in sorted(staff_post_endpoints(app)):
        action, scenario = SCENARIOS[endpoint]
        path, fields = scenario(ctx)
        seen = db.session.scalar(select(func.max(AuditEntry.id))) or 0
        if path.startswith("/api/"):
            response = app.test_client().post(path, json=fields, headers=bearer)
            assert response.status_code == 201, (endpoint, response.status_code, response.get_json())
        else:
            response = staff.post(path, data={"csrf_token": token, **fields})
            assert response.status_code in (302, 303), (endpoint, response.status_code)
        db.session.expire_all()
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.id > seen, AuditEntry.action == action)))
        assert len(entries) == 1, f"{endpoint}: expected one {action!r} audit row, found {len(entries)}"
        entry = entries[0]
        assert entry.actor_id == admin.id and entry.actor_name == admin.name and entry.actor_role == "admin"
        assert entry.at is not None and entry.summary
        assert entry.before is not None or entry.after is not None, endpoint


def test_an_admin_refund_is_audited_with_its_refund_row_before_stripe_answers(app, client, stripe_world):
    """The audit row and the pending refund row share a transaction: the entry names the row and its amount."""
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 700, "Late start", _now(), request_key="same-form-key")
    cancellations.admin_refund(admin, booking.id, 700, "Late start", _now(), request_key="same-form-key")
    entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "booking.refund")))
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))
    assert len(entries) == 1 and entries[0].after["refund_id"] == row.id
    assert entries[0].before["refunded_minor"] == 0 and entries[0].after["refunded_minor"] == 700
    assert entries[0].dedupe_key == f"refund:{row.id}"


def test_a_refund_stripe_refuses_is_audited_as_refused_with_the_failed_row(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    receipt.payment_intent_id = "pi_unknown_to_stripe"  # Stripe refuses a refund of a payment it does not know
    db.session.commit()
    try:
        cancellations.admin_refund(admin, booking.id, 700, "Late start", _now())
    except Exception:  # noqa: BLE001 — the refusal is the point; what matters is the log
        pass
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == booking.id)
                                      .order_by(AuditEntry.id)))
    assert actions == ["booking.refund", "booking.refund_failed"]
    failed = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "booking.refund_failed"))
    assert failed.after["refund_status"] == "failed" and failed.after["refunded_minor"] == 0


def test_an_admin_cancelling_a_lesson_is_audited_and_a_students_cancelling_is_not(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    cancellations.cancel_booking(admin, booking.id, "Tutor is ill", _now())
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "booking.cancel"))
    assert entry.target_id == booking.id and entry.before["lesson_state"] == "ACTIVE"
    assert entry.after["lesson_state"] == "CANCELLED" and "Tutor is ill" in entry.summary
    other = paid({"world": stripe_world, "client": client})
    cancellations.cancel_booking(other.booker, other.id, "", _now())
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "booking.cancel")) == 1


def test_a_rating_criterion_sent_back_unchanged_records_nothing(app):
    admin = factories.user("admin")
    clarity = reviews.add_criterion(admin, "Clarity", 1, _now())
    reviews.update_criterion(admin, clarity.id, "Clarity", 1, True, _now())
    assert [e.action for e in db.session.scalars(select(AuditEntry))] == ["criterion.add"]


def test_everything_staff_write_in_a_thread_is_audited_wherever_they_write_it(app, client):
    """Staff write on tickets from the inbox (answers and internal notes) and from the user's own ticket page; each
    message is one audit row naming it, with its words searchable. In a lesson chat staff do not write at all:
    admins read it (refused in words, nothing stored), support agents do not see the room."""
    from tests.integration.test_lesson_room import running_lesson
    from webapp.models import ChatMessage, TicketMessage
    admin, agent = factories.user("admin"), factories.user("support")
    staff = app.test_client()
    login(staff, agent.email, factories.PASSWORD)
    token = csrf_from(staff.get("/admin/tickets/").get_data(as_text=True))
    ticket = _ticket()
    writes = [(f"/admin/tickets/{ticket.id}/reply", {"body": "Try the new link."}, "ticket.reply"),
              (f"/admin/tickets/{ticket.id}/reply", {"body": "Called them; all good.", "internal": "1"}, "ticket.note"),
              (f"/support/tickets/{ticket.id}", {"body": "Written from the user's page."}, "ticket.reply")]
    for path, fields, action in writes:
        seen = db.session.scalar(select(func.max(AuditEntry.id))) or 0
        assert staff.post(path, data={"csrf_token": token, **fields}).status_code == 303, path
        db.session.expire_all()
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.id > seen))
        message = db.session.scalar(select(TicketMessage).order_by(TicketMessage.id.desc()))
        assert (entry.action, entry.actor_id, entry.target_id) == (action, agent.id, ticket.id), path
        assert entry.after["message_id"] == message.id and message.body == fields["body"]
        assert fields["body"] in entry.summary  # the audit log's search finds what was written

    lesson = running_lesson()
    login(staff, admin.email, factories.PASSWORD)
    refused = staff.post(f"/lessons/{lesson.id}/room/messages", data={"csrf_token": token, "body": "Hello"})
    assert refused.status_code == 303
    agent_client = app.test_client()
    login(agent_client, agent.email, factories.PASSWORD)
    assert agent_client.get(f"/lessons/{lesson.id}/room").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(ChatMessage)) == 0


def test_staff_forms_with_odd_ids_answer_in_words_not_500(app, client):
    """Ids in staff forms are read with parse_id: '²' passes str.isdigit yet int() refuses it."""
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    token = csrf_from(client.get("/admin/rating-criteria").get_data(as_text=True))
    answer = client.post("/admin/rating-criteria", data={"csrf_token": token, "action": "update",
                                                         "criteria_id": "²", "name": "X", "position": "1"})
    assert answer.status_code < 500 and "Choose a criterion to change." in answer.get_data(as_text=True)
    topic = _topic({"admin": admin})
    moved = client.post(f"/admin/topics/{topic.subject_id}/{topic.level_id}/move",
                        data={"csrf_token": token, "topic_id": "²", "parent_id": "٣"})
    assert moved.status_code < 500


def test_the_apis_staff_package_refund_writes_its_audit_row_with_the_change(app, client, stripe_world):
    """The JSON API's staff POST (refundPackagePurchase) is audited like its form: one row per refund, the same
    idempotency_key again adds none."""
    from webapp.services import accounts
    admin = factories.user("admin")
    student, _, purchase = _package_bought({"client": client, "world": stripe_world})
    auth = {"Authorization": f"Bearer {accounts.issue_api_token(admin)[0]}"}
    for _ in range(2):
        response = client.post(f"/api/purchases/{purchase.id}/refunds", headers=auth,
                               json={"amount_minor": 1000, "reason": "Changed their mind",
                                     "idempotency_key": "walk-api-package-refund-1"})
        assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "package.refund"))
    assert (entry.actor_id, entry.actor_role, entry.target_id) == (admin.id, "admin", student.id)
    assert entry.before["refunded_minor"] == 0 and entry.after["refunded_minor"] == 1000
    assert "Changed their mind" in entry.summary
