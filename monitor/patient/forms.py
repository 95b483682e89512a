"""The daily check-in form: the instrument's items as labelled radio groups."""
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, SelectField, TextAreaField
from wtforms.validators import Length, ValidationError

from ..instruments import DAILY_OPTIONS, ITEMS, NOTE_MAX_LENGTH, SIDE_EFFECT_OPTIONS, SIDE_EFFECTS


class ScoreField(Field):
    """A radio group of whole-number scores (rendered by the template's radio_group macro)
    whose messages name the problem: missing, not a whole number, or out of range."""

    def __init__(self, label, choices, required, **kwargs):
        super().__init__(label, **kwargs)
        self.choices = choices
        self.required = required
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
    submission_key = HiddenField()

    @property
    def item_fields(self):
        return [self[code] for code, _ in ITEMS]

    @property
    def side_effect_fields(self):
        return [self[f"se_{key}"] for key, _ in SIDE_EFFECTS]


for _code, _wording in ITEMS:
    setattr(CheckInForm, _code, ScoreField(_wording, DAILY_OPTIONS, required=True))
for _key, _label in SIDE_EFFECTS:
    setattr(CheckInForm, f"se_{_key}", ScoreField(_label, SIDE_EFFECT_OPTIONS, required=False))
