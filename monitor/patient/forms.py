"""The daily check-in and standard GAD-7 forms (each instrument's items as labelled radio groups)
and the settings form."""
import re
from datetime import time

from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, StopValidation, ValidationError
from wtforms.widgets import TimeInput

from .. import digits
from ..form_fields import SubmissionKeyField
from ..instruments import (DAILY_OPTIONS, GAD7_DIFFICULTY_OPTIONS, GAD7_DIFFICULTY_QUESTION, GAD7_OPTIONS, ITEMS,
                           NOTE_MAX_LENGTH, SIDE_EFFECT_OPTIONS, SIDE_EFFECTS)
from ..timeutil import is_valid_timezone


class ScoreField(Field):
    """A radio group of whole-number scores (rendered by the template's radio_group macro)
    whose messages name the problem: missing, not a whole number, or out of range."""

    def __init__(self, label, choices, required, what="The answer", **kwargs):
        super().__init__(label, **kwargs)
        self.choices = choices
        self.required = required
        self.what = what  # names the field in a message
        self.raw = None

    def process_data(self, value):
        self.data = value
        self.raw = None if value is None else str(value)

    def process_formdata(self, valuelist):
        self.data, self.raw = None, valuelist[0] if valuelist else None
        if self.raw in (None, ""):
            return
        try:
            self.data = int(self.raw)
        except ValueError:
            self.data = None

    def pre_validate(self, form):
        raw = getattr(self, "raw", None)
        if raw in (None, ""):
            if self.required:
                raise ValidationError("Choose an answer.")
            return
        if message := digits.problem(raw, self.what):
            raise ValidationError(message)
        allowed = [value for value, _ in self.choices]
        if self.data is None:
            raise ValidationError("The answer must be a whole number.")
        if self.data not in allowed:
            raise ValidationError(f"The answer must be from {min(allowed)} to {max(allowed)}.")


class CheckInForm(FlaskForm):
    local_date = SelectField("Which day is this for?")
    note = TextAreaField(
        "Anything else you want to note (optional)",
        validators=[Length(max=NOTE_MAX_LENGTH, message=f"The note must be at most {NOTE_MAX_LENGTH:,} characters.")],
    )
    # A fresh key per rendered form: a double-tapped submit is stored once.
    submission_key = SubmissionKeyField()

    @property
    def item_fields(self):
        return [self[code] for code, _ in ITEMS]

    @property
    def side_effect_fields(self):
        return [self[f"se_{key}"] for key, _ in SIDE_EFFECTS]


for _number, (_code, _wording) in enumerate(ITEMS, 1):
    setattr(CheckInForm, _code, ScoreField(_wording, DAILY_OPTIONS, required=True,
                                           what=f"The answer to question {_number}"))
for _key, _label in SIDE_EFFECTS:
    setattr(CheckInForm, f"se_{_key}", ScoreField(_label, SIDE_EFFECT_OPTIONS, required=False,
                                                  what=f"The answer for {_label.lower()}"))


class Gad7Form(FlaskForm):
    """The standard GAD-7 (SPEC 2.2): the same seven problems and radio groups as the daily
    form with the two-week frequency answers, and the optional difficulty question (not in the
    total). Always for the patient's local today, so it has no date field."""

    @property
    def item_fields(self):
        return [self[code] for code, _ in ITEMS]


for _number, (_code, _wording) in enumerate(ITEMS, 1):
    setattr(Gad7Form, _code, ScoreField(_wording, [(o.value, o.label) for o in GAD7_OPTIONS], required=True,
                                        what=f"The answer to question {_number}"))
Gad7Form.difficulty = ScoreField(GAD7_DIFFICULTY_QUESTION, [(o.value, o.label) for o in GAD7_DIFFICULTY_OPTIONS],
                                 required=False, what="The answer about difficulty")


# --- Settings: time zone, reminder time, reminder emails (SPEC 5).

def parse_reminder_time(text: str) -> time:
    """HH:MM on a 24-hour clock, as an <input type=time> sends it (seconds, if any, dropped)."""
    if message := digits.problem(text, "The reminder time"):
        raise ValueError(message)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?", text)
    if not match:
        raise ValueError("Enter the time as hours and minutes on a 24-hour clock, for example 19:00.")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        raise ValueError("Enter a time from 00:00 to 23:59, for example 19:00.")
    return time(hours, minutes)


class ReminderTimeField(StringField):
    """An <input type=time>; `value` holds the parsed time, `data` what was sent."""

    widget = TimeInput()

    def __init__(self, label, **kwargs):
        super().__init__(label, **kwargs)
        self.value = None

    def process_data(self, value):
        self.data = value.strftime("%H:%M") if isinstance(value, time) else value

    def pre_validate(self, form):
        self.value = None
        text = (self.data or "").strip()
        if not text:
            raise StopValidation("Enter a reminder time, for example 19:00.")
        try:
            self.value = parse_reminder_time(text)
        except ValueError as error:
            raise StopValidation(str(error)) from None


NUDGE_CHOICES = [
    SelectChoice("on", "On: email me when I have not checked in by my reminder time"),
    SelectChoice("off", "Off: no reminder emails"),
]


class SettingsForm(FlaskForm):
    timezone = SelectField("Time zone", validate_choice=False)
    reminder_time = ReminderTimeField("Reminder time")
    nudges = RadioField("Reminder emails", choices=NUDGE_CHOICES, validate_choice=False)

    def validate_timezone(self, field):
        if not is_valid_timezone(field.data or ""):
            raise ValidationError("Choose your time zone from the list.")

    def validate_nudges(self, field):
        if field.data not in {choice.value for choice in NUDGE_CHOICES}:
            raise ValidationError("Choose whether you want reminder emails.")
