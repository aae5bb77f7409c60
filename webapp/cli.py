"""Flask CLI commands: demo data and admin accounts."""
from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from .extensions import db
from .models import ExamBoard, Level, Subject, TutorRatingCriteria, User
from .services import accounts, availability, catalogue, curriculum, packages

DEMO_PASSWORD = "lessonbook-demo"
SUBJECTS = ["Mathematics", "English", "Physics", "Chemistry", "Biology", "French", "Spanish", "Computer Science",
            "Piano"]
LEVELS = ["Primary", "KS3", "GCSE", "A-Level", "IB", "University", "Adult"]
EXAM_BOARDS = ["AQA", "Edexcel", "OCR", "WJEC", "Cambridge International"]
RATING_CRITERIA = ["Subject knowledge", "Clear explanations", "Punctuality", "Encouragement"]
# name, email, zone, headline, base (lat, lon, street, postcode, city) or None, [(subject, level, rate_minor, currency, online, in_person)],
# weekly windows as (weekdays, "HH:MM", "HH:MM")
TUTORS = [
    ("Alice Hart", "alice@example.com", "Europe/London", "Maths and physics, GCSE to A-Level, in London or online",
     (51.5072, -0.1276, "Trafalgar Square", "WC2N 5DN", "London"),
     [("Mathematics", "GCSE", 4000, "GBP", True, True), ("Mathematics", "A-Level", 5000, "GBP", True, True),
      ("Physics", "A-Level", 5200, "GBP", True, False)],
     [((0, 1, 2, 3, 4), "09:00", "12:00"), ((0, 1, 2, 3, 4), "14:00", "18:00"), ((5,), "10:00", "13:00")]),
    ("Bruno Diaz", "bruno@example.com", "America/New_York", "Physics and calculus from New York, online",
     None, [("Physics", "University", 6500, "USD", True, False), ("Mathematics", "IB", 6000, "USD", True, False)],
     [((0, 1, 2, 3), "08:00", "16:00")]),
    ("Chandra Rao", "chandra@example.com", "Asia/Kolkata", "Computer science and maths for curious minds",
     None, [("Computer Science", "GCSE", 3000, "GBP", True, False), ("Mathematics", "KS3", 2500, "GBP", True, False)],
     [((0, 1, 2, 3, 4, 5), "15:30", "21:30")]),
    ("Dana Wells", "dana@example.com", "Australia/Sydney", "English literature and essay writing",
     None, [("English", "GCSE", 3500, "GBP", True, False), ("English", "A-Level", 4500, "GBP", True, False)],
     [((1, 3, 5, 6), "16:00", "21:00")]),
]


DEMO_LOGINS = [("admin", "admin@example.com"), ("support", "sue@example.com"), ("student", "sam@example.com"), ("parent", "pat@example.com")] + \
    [("tutor", t[1]) for t in TUTORS]
# The local Stripe server's test cards (standins/stripe_server.py), as Stripe's own test mode has them.
TEST_CARDS = [("4242 4242 4242 4242", "pays"), ("4000 0025 0000 3155", "asks for 3-D Secure first"),
              ("4000 0000 0000 0002", "is declined"),
              ("4000 0000 0000 5126", "pays, but a refund of it fails 10 seconds later")]


def demo_logins_text(base_url: str | None = None, cards: bool = True) -> str:
    """What `make run` prints last and `flask demo-logins` prints on demand: where to go, who to be, what to pay with."""
    lines = [f"Open {base_url}" if base_url else None,
             f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"  {role:<8} {email}" for role, email in DEMO_LOGINS]
    if cards:
        lines.append("Test cards on the local Stripe checkout (any future expiry, any CVC):")
        lines += [f"  {number}  {what}" for number, what in TEST_CARDS]
    return "\n".join(line for line in lines if line is not None)


def seed_demo() -> list[tuple[str, str, str]]:
    """Create the catalogue and demo accounts once; returns (role, email, password) rows for printing."""
    rows = [(role, email, DEMO_PASSWORD) for role, email in DEMO_LOGINS]
    if not db.session.scalar(select(User).where(User.email == "sue@example.com")):  # added later: seeded on its own
        accounts.create_user(email="sue@example.com", password=DEMO_PASSWORD, name="Sue Support", role="support",
                             timezone="Europe/London")
    if db.session.scalar(select(User).where(User.email == "admin@example.com")):
        curriculum.seed_curriculum()  # added later: topics and questions join an already seeded database
        return rows
    for name in SUBJECTS:
        db.session.add(Subject(name=name, slug=name.lower().replace(" ", "-")))
    for rank, name in enumerate(LEVELS):
        db.session.add(Level(name=name, rank=rank))
    for name in EXAM_BOARDS:
        db.session.add(ExamBoard(name=name))
    for position, name in enumerate(RATING_CRITERIA):
        db.session.add(TutorRatingCriteria(name=name, position=position, active=True))
    db.session.commit()
    curriculum.seed_curriculum()
    subjects = {s.name: s.id for s in db.session.scalars(select(Subject))}
    levels = {lv.name: lv.id for lv in db.session.scalars(select(Level))}
    accounts.create_user(email="admin@example.com", password=DEMO_PASSWORD, name="Ada Admin", role="admin",
                         timezone="Europe/London")
    accounts.create_user(email="sam@example.com", password=DEMO_PASSWORD, name="Sam Student", role="student",
                         timezone="Europe/Berlin")
    parent = accounts.create_user(email="pat@example.com", password=DEMO_PASSWORD, name="Pat Parent", role="parent",
                                  timezone="America/Chicago")
    accounts.add_child(parent, name="Robin", year_level="Year 9", timezone="America/Chicago")
    accounts.add_child(parent, name="Kai", year_level="Year 12", timezone="America/Chicago")
    for name, email, zone, headline, base, teaches, windows in TUTORS:
        tutor = accounts.create_user(email=email, password=DEMO_PASSWORD, name=name, role="tutor", timezone=zone)
        catalogue.update_profile(tutor, headline=headline, bio=f"{headline}. Lessons are friendly, structured and "
                                 "built around past papers and the questions you bring.")
        catalogue.replace_teaches(tutor, [
            {"subject_id": subjects[s], "level_id": levels[lv], "hourly_rate_minor": rate, "currency": cur,
             "online": online, "in_person": in_person, "max_travel_km": 15 if in_person else None}
            for s, lv, rate, cur, online, in_person in teaches])
        for hours, discount in ((5, 5), (10, 10)):  # packages of prepaid hours to buy in the demo
            packages.add_package(tutor, hours, discount)
        weekly = [{"weekday": day, "start": start, "end": end} for days, start, end in windows for day in days]
        availability.update_settings(tutor, {
            "weekly": weekly, "min_notice_hours": 2, "horizon_days": 60, "travel_buffer_minutes": 30,
            "base_latitude": base[0] if base else None, "base_longitude": base[1] if base else None,
            **({"base_line1": base[2], "base_postcode": base[3], "base_city": base[4]} if base else {})})
    return rows


def register_cli(app: Flask) -> None:
    """Attach the commands to `flask`."""

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Load demo subjects, tutors, a student, a parent with two children and an admin (idempotent)."""
        seed_demo()
        click.echo("Demo data ready (`flask demo-logins` lists the accounts).")

    @app.cli.command("seed-curriculum")
    def seed_curriculum_command():
        """Add the GCSE and A-Level topic trees and the template question bank that are missing (idempotent)."""
        topics, items = curriculum.seed_curriculum()
        click.echo(f"Curriculum ready: {topics} topics and {items} questions added.")

    @app.cli.command("demo-logins")
    @click.option("--url", default=None, help="the app's address, printed first")
    @click.option("--cards/--no-cards", default=True, help="list the local Stripe test cards too")
    def demo_logins_command(url: str | None, cards: bool):
        """Print the demo accounts (one password for all) and the test card numbers."""
        click.echo(demo_logins_text(url, cards))

    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--name", default="Administrator")
    @click.option("--support", is_flag=True, help="A support agent (users, bookings, tickets; capped refunds).")
    @click.password_option()
    def create_admin(email: str, name: str, password: str, support: bool):
        """Create an admin account (or, with --support, a support agent)."""
        role = "support" if support else "admin"
        user = accounts.create_user(email=email, password=password, name=name, role=role, timezone="UTC")
        click.echo(f"{'Support agent' if support else 'Admin'} {user.email} created.")
