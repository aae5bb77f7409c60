"""Special offers: targeting, applied by themselves at checkout (the best one wins), usage and revenue from the rows,
and announcement emails with an unsubscribe link that is honoured."""
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import authorize, book
from webapp.extensions import db
from webapp.models import AuditEntry, Coupon, OutboxMessage, PaymentReceipt, User
from webapp.services import offer_announcements, offers, quotes


def now() -> datetime:
    return datetime.now(UTC)


def admin() -> User:
    return factories.user("admin")


def offer(code: str, audience: str, *, percent: int | None = None, amount: int | None = None, cap: int | None = None,
          **target) -> Coupon:
    return offers.create_coupon(
        admin(), code=code, usage="ONE_TIME_USE",
        discount_type="DISCOUNT_TYPE_AMOUNT" if amount else "DISCOUNT_TYPE_PERCENT", amount_minor=amount,
        percent_bp=percent, max_discount_amount_minor=cap, currency="GBP" if amount or cap else None,
        valid_from=None, valid_until=None, max_total_uses=None, now=now(), name=f"Offer {code}", audience=audience,
        auto_apply=True, **target)


def paid_before(booking) -> None:
    """Record a payment for the booking, as the card-hold webhook does (the booker is then no longer new)."""
    db.session.add(PaymentReceipt(booking_id=booking.id, payment_intent_id=f"pi_test_{booking.id}", amount_minor=4000,
                                  currency="GBP", application_fee_amount_minor=0, breakdown={},
                                  tutor_payout_minor=4000))
    db.session.commit()


def test_an_offer_for_new_students_applies_by_itself_is_charged_and_counted(app, client, stripe_world):
    welcome = offer("NEWHERE", "NEW_STUDENTS", percent=1000)
    booking = book(rate_minor=4000)
    quote = quotes.quote_booking(booking.booker, booking, None, now())
    assert quote.automatic and quote.coupon.id == welcome.id and quote.breakdown.student_pays == 3600

    paid = authorize(stripe_world, client, booking)  # no code typed
    receipt = paid.receipt
    assert receipt.amount_minor == 3600 and receipt.coupon_id == welcome.id
    [usage] = offers.offer_usage()[welcome.id]
    assert (usage.uses, usage.discount_minor, usage.revenue_minor, usage.currency) == (1, 400, 3600, "GBP")

    second = book(student=booking.booker, days_ahead=7)  # now a paying student, no longer new
    again = quotes.quote_booking(second.booker, second, None, now())
    assert again.coupon is None and again.breakdown.student_pays == 4000
    assert quotes.quote_booking(second.booker, second, "newhere", now()).coupon_problem == \
        "You have already used this code."
    returning = book(days_ahead=9)
    paid_before(returning)  # paid before, never used the offer: the audience is what refuses it
    later = book(student=returning.booker, days_ahead=11)
    assert quotes.quote_booking(later.booker, later, "newhere", now()).coupon_problem == \
        "This offer is for new students only."


def test_the_best_matching_offer_for_the_student_wins(app):
    student = factories.user("student")
    offer("TENPC", "EVERYONE", percent=1000)  # 400 on a 4000 lesson
    offer("FIVER", "CHOSEN_USERS", amount=500, recipient_emails=student.email)  # 500
    offer("NEWCAP", "NEW_STUDENTS", percent=2000, cap=600)  # 800 capped at 600
    offer("OTHERS", "CHOSEN_USERS", amount=900, recipient_emails=factories.user("student").email)  # not for them
    booking = book(student=student, rate_minor=4000)
    quote = quotes.quote_booking(student, booking, None, now())
    assert quote.coupon.code == "NEWCAP" and quote.breakdown.discount == 600

    someone_else = book(rate_minor=4000)
    assert quotes.quote_booking(someone_else.booker, someone_else, None, now()).coupon.code == "NEWCAP"
    assert quotes.quote_booking(someone_else.booker, someone_else, "FIVER", now()).coupon_problem == \
        "This offer is not available to your account."
    typed = quotes.quote_booking(student, booking, "tenpc", now())
    assert typed.coupon.code == "TENPC" and not typed.automatic  # a typed code is the student's choice


def test_a_tutors_students_offer_is_for_their_students_and_their_lessons(app):
    tutor, teach = factories.tutor(rate_minor=4000)
    regular = factories.user("student")
    paid_before(book(student=regular, tutor_teach=(tutor, teach), days_ahead=3))
    loyal = offer("LOYAL", "TUTOR_STUDENTS", percent=1500, tutor_email=tutor.email)
    assert loyal.audience_tutor_id == tutor.id

    with_them = book(student=regular, tutor_teach=(tutor, teach), days_ahead=6)
    assert quotes.quote_booking(regular, with_them, None, now()).coupon.id == loyal.id
    elsewhere = book(student=regular, days_ahead=10)
    assert quotes.quote_booking(regular, elsewhere, None, now()).coupon is None
    newcomer = book(tutor_teach=(tutor, teach), days_ahead=8)
    assert quotes.quote_booking(newcomer.booker, newcomer, "LOYAL", now()).coupon_problem == \
        "This offer is for this tutor's existing students only."


def test_an_offer_outside_its_dates_or_switched_off_does_not_apply(app):
    running = offer("LATER", "EVERYONE", percent=1000)
    running.valid_from = now() + timedelta(days=2)
    db.session.commit()
    booking = book()
    assert quotes.quote_booking(booking.booker, booking, None, now()).coupon is None
    running.valid_from, running.active = None, False
    db.session.commit()
    assert quotes.quote_booking(booking.booker, booking, None, now()).coupon is None


def test_the_admin_form_names_what_is_wrong_with_an_offer(app, client):
    boss = admin()
    login(client, boss.email, factories.PASSWORD)
    page = client.get("/admin/coupons").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "code": "HELLO", "usage": "ONE_TIME_USE",
            "discount_type": "DISCOUNT_TYPE_PERCENT", "percent": "10", "currency": "GBP"}
    missing_name = client.post("/admin/coupons", data={**form, "audience": "NEW_STUDENTS"})
    assert missing_name.status_code == 422 and "Give the offer a name" in missing_name.get_data(as_text=True)
    unknown = client.post("/admin/coupons", data={**form, "audience": "CHOSEN_USERS", "name": "Hi",
                                                  "recipient_emails": "nobody@example.com"})
    assert unknown.status_code == 422 and "No account has the email nobody@example.com" in unknown.get_data(as_text=True)
    made = client.post("/admin/coupons", data={**form, "audience": "EVERYONE", "name": "Spring", "auto_apply": "1"})
    assert made.status_code == 303
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == "HELLO"))
    assert (coupon.name, coupon.audience, coupon.auto_apply) == ("Spring", "EVERYONE", True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.target_type == "coupon",
                                                       AuditEntry.target_id == coupon.id))
    assert (entry.action, entry.actor_id, entry.after["name"], entry.after["audience"]) == \
        ("offer.create", boss.id, "Spring", "EVERYONE")
    page = client.get("/admin/coupons").get_data(as_text=True)
    client.post(f"/admin/coupons/{coupon.id}/announce", data={"csrf_token": csrf_from(page)})
    client.post(f"/admin/coupons/{coupon.id}/active", data={"csrf_token": csrf_from(page), "active": "0"})
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == coupon.id,
                                                                 AuditEntry.target_type == "coupon")).all()
    assert sorted(actions) == ["coupon.deactivate", "offer.announce", "offer.create"]


def _announcements(coupon_id: int) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith(f"offer:{coupon_id}:announce:")).order_by(OutboxMessage.id)))


def test_an_announcement_emails_each_user_once_and_an_unsubscribe_is_honoured(app, client):
    students = [factories.user("student") for _ in range(3)]
    factories.user("tutor")  # not a booker: not in the audience
    first = offer("SPRING", "EVERYONE", percent=1000)
    offer_announcements.request_announcement(admin(), first.id, now())  # Redis may take the job; we run it here
    assert offer_announcements.announce(first.id, now(), batch=2) >= 0
    assert offer_announcements.announce(first.id, now(), batch=2) == 0  # run twice: nobody is emailed again
    sent = _announcements(first.id)
    assert sorted(m.to_address for m in sent) == sorted(s.email for s in students)

    link = sent[0].context["unsubscribe_url"]
    path = link[link.index("/offers/"):]
    confirm = client.get(path)
    assert confirm.status_code == 200 and "Stop emails about special offers" in confirm.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert client.get(path).status_code == 400  # the link works once

    second = offer("SUMMER", "EVERYONE", percent=500)
    offer_announcements.request_announcement(admin(), second.id, now())
    offer_announcements.announce(second.id, now())
    later = _announcements(second.id)
    assert sorted(m.to_address for m in later) == sorted(s.email for s in students if s.email != sent[0].to_address)
    assert "Unsubscribe" in offer_announcements.outbox.render_email("offer_announcement", later[0].context)[1]


def test_a_forged_unsubscribe_link_is_refused_in_words(app, client):
    response = client.get("/offers/unsubscribe/not-a-real-token")
    assert response.status_code == 400 and "This link is not valid" in response.get_data(as_text=True)


def test_offer_and_commission_forms_refuse_numbers_and_dates_past_what_is_stored_in_words(app, client):
    """A date at the calendar's edge or an amount past the 32-bit column is an input error (422 in words), and the
    offers page keeps working (a 9999-12-31 offer used to be stored, and then the page failed to show it)."""
    boss = admin()
    login(client, boss.email, factories.PASSWORD)
    token = csrf_from(client.get("/admin/coupons").get_data(as_text=True))
    form = {"csrf_token": token, "code": "EDGE", "usage": "ONE_TIME_USE", "discount_type": "DISCOUNT_TYPE_AMOUNT",
            "amount": "5", "currency": "GBP"}
    for field, value, words in (("valid_until", "9999-12-31", "Choose a date between"),
                                ("valid_from", "0001-01-01", "Choose a date between"),
                                ("valid_from", "2027-01-01T25:00", "Dates look like"),
                                ("amount", "99999999999999999999", "That amount is too large"),
                                ("amount", "²", "Enter an amount like 42.50")):
        answer = client.post("/admin/coupons", data={**form, field: value})
        assert answer.status_code == 422 and words in answer.get_data(as_text=True), (field, value)
    assert db.session.scalar(select(Coupon).where(Coupon.code == "EDGE")) is None
    assert client.get("/admin/coupons").status_code == 200
    rates = {"csrf_token": token, "commission_fee_bp": "12.5", "service_fee_bp": "3", "payout_fee_bp": "1",
             "currency": "GBP", "payout_amount_fee_minor": "99999999999999999999",
             "account_management_amount_fee_minor": "0"}
    answer = client.post("/admin/commissions", data=rates)
    assert answer.status_code == 422 and "That amount is too large" in answer.get_data(as_text=True)


def test_the_new_offer_form_comes_before_the_list_of_offers(app, client):
    """With many offers the form sat below all of them (tens of thousands of pixels down on a phone)."""
    boss = admin()
    for n in range(3):
        offer(f"LISTED{n}", "EVERYONE", percent=10)
    login(client, boss.email, factories.PASSWORD)
    page = client.get("/admin/coupons").get_data(as_text=True)
    assert page.index("<h2>New offer</h2>") < page.index('id="coupons"') < page.index("LISTED0")


def test_the_admin_offers_list_is_paged_newest_first_with_the_new_offer_form_first(app, client):
    made = [offer(f"PAGE{i:02d}", "EVERYONE", percent=500) for i in range(offers.COUPON_PAGE_SIZE + 1)]
    boss = admin()
    login(client, boss.email, factories.PASSWORD)
    first = client.get("/admin/coupons").get_data(as_text=True)
    assert first.index("New offer") < first.index('id="coupons"')
    shown = re.findall(r'id="coupon-(\d+)"', first)
    assert shown == [str(c.id) for c in reversed(made)][:offers.COUPON_PAGE_SIZE]  # newest first, 25 of them
    assert 'href="/admin/coupons?page=2">Next' in first and "Previous" not in first
    second = client.get("/admin/coupons?page=2").get_data(as_text=True)
    assert second.index("New offer") < second.index('id="coupons"')
    assert re.findall(r'id="coupon-(\d+)"', second) == [str(made[0].id)]  # the oldest, alone
    assert 'href="/admin/coupons">Previous' in second and ">Next<" not in second
    # Switching an offer off on page 2 comes back to page 2.
    toggled = client.post(f"/admin/coupons/{made[0].id}/active?page=2",
                          data={"csrf_token": csrf_from(second), "active": "0"})
    assert toggled.status_code == 303 and toggled.headers["Location"].endswith("/admin/coupons?page=2")
    assert client.get("/admin/coupons?page=x").status_code == 200  # nonsense is the first page
