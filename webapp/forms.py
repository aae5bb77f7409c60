"""WTForms for the server-rendered pages (CSRF comes from Flask-WTF)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, HiddenField, IntegerField, PasswordField, RadioField,
                     SelectField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Email, NumberRange, Optional, StopValidation, ValidationError
from wtforms.validators import Length as _Length
from wtforms.validators import InputRequired as _InputRequired

from .domain.packages import MAX_DISCOUNT_PERCENT, MAX_HOURS, MIN_HOURS

from .domain import limits
from .domain.roles import SELF_SERVICE_ROLES
from .domain.timezones import TimeZoneError, validate_zone


def _missing(field) -> str:
    """Which field is empty, in words (WTForms' own "This field is required." does not say)."""
    return f"{field.label.text} is missing: please fill it in."


class Required(DataRequired):
    """DataRequired whose message names the field."""

    def __call__(self, form, field):
        try:
            super().__call__(form, field)
        except StopValidation as exc:
            raise StopValidation(self.message or _missing(field)) from exc


class Length(_Length):
    """Length whose default message says the limit in words and how much was typed (WTForms' own reads "Field cannot
    be longer than 5000 characters.")."""

    def __call__(self, form, field):
        if self.message is None:
            length = len(field.data or "")
            if self.max != -1 and length > self.max:
                raise ValidationError(f"Up to {self.max:,} characters: this has {length:,}.")
            if length < self.min:
                raise ValidationError(f"At least {self.min:,} characters: this has {length:,}.")
        super().__call__(form, field)


class ZoneName:
    """An IANA time zone, checked with the form's other fields so every mistake is named in one answer (the service
    checks again; alone it named a wrong zone only after the other fields were put right)."""

    def __call__(self, form, field):
        if field.data:
            try:
                validate_zone(field.data)
            except TimeZoneError as exc:
                raise ValidationError(str(exc)) from None


class InputRequired(_InputRequired):
    """InputRequired whose message names the field."""

    def __call__(self, form, field):
        try:
            super().__call__(form, field)
        except StopValidation as exc:
            raise StopValidation(self.message or _missing(field)) from exc


class WholeNumberField(IntegerField):
    """IntegerField that answers unreadable input in words, once: "1.5" or "abc" is one problem ("Type a whole
    number"), not that plus the range check failing on the missing number."""

    def __init__(self, label=None, validators=None, invalid_value_message="Type a whole number, like 12.", **kwargs):
        super().__init__(label, validators, invalid_value_message=invalid_value_message, **kwargs)

    def pre_validate(self, form):
        # Something was typed but it is not a whole number: say that alone. An empty box goes on to the validators,
        # whose InputRequired says which number is missing.
        if self.process_errors and self.raw_data and str(self.raw_data[0]).strip():
            raise StopValidation()


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[Required(), Length(max=limits.NAME_MAX)])
    email = EmailField("Email", validators=[Required(), Email(), Length(max=limits.EMAIL_MAX)])
    password = PasswordField("Password", validators=[Required(), Length(
        *limits.PASSWORD_LENGTH, message=f"Use at least {limits.PASSWORD_LENGTH[0]} characters.")])
    role = RadioField("I am a", choices=[(role.value, role.value.title()) for role in SELF_SERVICE_ROLES],
                      default="student", validators=[Required()])
    timezone = StringField("Time zone", validators=[Required(), Length(max=64), ZoneName()])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[Required(), Length(max=254)])
    password = PasswordField("Password", validators=[Required(), Length(max=200)])


_NEW_PASSWORD = [Required(), Length(*limits.PASSWORD_LENGTH,
                                        message=f"Use at least {limits.PASSWORD_LENGTH[0]} characters.")]


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[Required(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=_NEW_PASSWORD)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[Required(), Length(max=200)])
    new_password = PasswordField("New password", validators=_NEW_PASSWORD)


class SettingsForm(FlaskForm):
    name = StringField("Name", validators=[Required(), Length(max=120)])
    timezone = StringField("Time zone", validators=[Required(), Length(max=64), ZoneName()])


class ChildForm(FlaskForm):
    name = StringField("Child's name", validators=[Required(), Length(max=120)])
    year_level = StringField("Year or level", validators=[Optional(), Length(max=60)])
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64), ZoneName()])


class WeeklyWindowForm(FlaskForm):
    weekday = SelectField("Day", choices=[(str(i), d) for i, d in enumerate(
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])])
    start = StringField("From", validators=[DataRequired(message="Give a start time.")], default="09:00")
    end = StringField("To", validators=[DataRequired(message="Give an end time.")], default="17:00")


class OverrideForm(FlaskForm):
    on_date = StringField("Date", validators=[DataRequired(message="Pick a date.")])
    day_off = BooleanField("Day off")
    start = StringField("From", validators=[Optional()])
    end = StringField("To", validators=[Optional()])


class RulesForm(FlaskForm):
    timezone = StringField("Your time zone", validators=[Required(), Length(max=64), ZoneName()])
    min_notice_hours = WholeNumberField("Minimum notice (hours)", validators=[
        NumberRange(*limits.MIN_NOTICE_HOURS, "Between %(min)s and %(max)s hours.")])
    horizon_days = WholeNumberField("Booking horizon (days)", validators=[
        NumberRange(*limits.HORIZON_DAYS, "Between %(min)s and %(max)s days.")])
    travel_buffer_minutes = WholeNumberField("Default travel buffer (minutes)", validators=[
        NumberRange(*limits.TRAVEL_BUFFER_MINUTES, "Between %(min)s and %(max)s minutes.")])
    # Where the tutor travels from: an address (placed on the map by the geocoder, when one is configured).
    base_line1 = StringField("Street address you travel from", validators=[Optional(), Length(max=200)])
    base_postcode = StringField("Postcode", validators=[Optional(), Length(max=20)])
    base_city = StringField("City", validators=[Optional(), Length(max=100)])


class ProfileForm(FlaskForm):
    headline = StringField("Headline", validators=[Optional(), Length(max=160)])
    bio = TextAreaField("About you", validators=[Optional(), Length(max=5000)])


class TeachForm(FlaskForm):
    subject_id = SelectField("Subject", coerce=int)
    level_id = SelectField("Level", coerce=int)
    exam_board_id = SelectField("Exam board", coerce=int)
    hourly_rate = StringField("Hourly rate", validators=[DataRequired(message="Give an hourly rate.")])
    currency = SelectField("Currency", choices=[(code, code) for code in limits.CURRENCIES])
    online = BooleanField("Online", default=True)
    in_person = BooleanField("In person")
    max_travel_km = WholeNumberField("Max travel (km)", validators=[Optional(), NumberRange(*limits.MAX_TRAVEL_KM)])


class BookingForm(FlaskForm):
    teach_id = HiddenField()
    start = HiddenField()
    duration = HiddenField()
    lesson_type = HiddenField()
    # No default: a parent says who each lesson is for (the view makes it required for parents).
    child_id = RadioField("Who is the lesson for?", coerce=int, validators=[Optional()])
    note = TextAreaField("A note for the tutor (optional)", validators=[Optional(), Length(max=limits.BOOKING_NOTE_MAX)])
    # The lesson's address as people write it; coordinates come from the geocoder, never from the user.
    line1 = StringField("Street address", validators=[Optional(), Length(max=200)])
    postcode = StringField("Postcode", validators=[Optional(), Length(max=20)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    form_key = HiddenField()  # made when the form is shown; a second submit of it lands on the booking it made


class CalendarSourceForm(FlaskForm):
    url = StringField("Secret address in iCal format", validators=[DataRequired(message="Paste the calendar's address."),
                                                                   Length(max=2000)])
    label = StringField("Name (optional)", validators=[Optional(), Length(max=80)])


class PackageForm(FlaskForm):
    """A tutor's new package of prepaid hours (the limits are domain/packages.py's, checked again by the service)."""

    hours = WholeNumberField("Hours", validators=[InputRequired("Give the number of hours."),
                                              NumberRange(MIN_HOURS, MAX_HOURS,
                                                          f"Between {MIN_HOURS} and {MAX_HOURS} hours.")])
    discount_percent = WholeNumberField("Discount (%)", default=0, validators=[
        InputRequired("Give a discount (0 for none)."),
        NumberRange(0, MAX_DISCOUNT_PERCENT, f"Between 0 and {MAX_DISCOUNT_PERCENT} percent.")])


class PlanForm(FlaskForm):
    """A tutor's new monthly plan (the limits are domain/subscriptions.py's, checked again by the service)."""

    minutes = WholeNumberField("Minutes a month", validators=[InputRequired("Give the minutes per month.")])
    price = StringField("Price a month", validators=[InputRequired("Give the monthly price, like 80.00.")])
