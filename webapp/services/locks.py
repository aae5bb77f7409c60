"""Advisory-lock namespaces for `serialized_write((namespace, id), ...)`: every number in one place, so two kinds of
write never share one by accident (PostgreSQL takes `pg_advisory_xact_lock(namespace, id)`; SQLite ignores them)."""

LOCK_TUTOR = 1  # a tutor's calendar: one booking or reschedule onto it at a time
LOCK_USER = 2  # a student's own calendar
LOCK_CHILD = 3  # a child's calendar
LOCK_COUPON = 4  # a coupon's use slots
LOCK_BOOKING = 5  # one money change per booking at a time (checkout, webhooks, approval, cancellation, refunds, payouts)
LOCK_COMMISSION = 6  # the one active commission
LOCK_TUTOR_ACCOUNT = 7  # one Connect account record per tutor
LOCK_NOTE = 20  # writes to one lesson's note
LOCK_REVIEW = 21  # review and experience writes on one lesson
LOCK_LESSON_NOTICE = 30  # one notice write per lesson
LOCK_MEETING = 44  # one meeting record change per lesson
LOCK_WALLET = 45  # one student's prepaid-minutes balances
LOCK_CHAT = 46  # one chat sequence number allocated per lesson at a time
LOCK_TUTOR_PACKAGES = 47  # one tutor's list of packages on offer
LOCK_TUTOR_PLANS = 48  # one tutor's list of monthly plans on offer
LOCK_SUBSCRIPTION = 49  # one student's subscription records (webhooks and their own changes)
LOCK_HOMEWORK = 50  # one lesson's homework sets: drafting, review, publishing and answers
LOCK_QUESTION_ITEM = 53  # one question item's edits (edit in place or make a new version)
LOCK_MASTERY_OF_USER = 55  # one student's topic mastery (answers from several lessons' homework at once)
LOCK_MASTERY_OF_CHILD = 56  # one child's topic mastery
LOCK_QUESTION_AUTHOR = 57  # one author's new questions (added, copied, imported): a double submit adds them once
LOCK_CURRICULUM = 54  # one subject's topic trees (admins add, move, reorder and retire topics)
