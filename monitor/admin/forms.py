"""Admin forms: the clinic's settings and staff accounts.

Numbers are read by small parsers that say what is wrong in words (ParsedField), the same
pattern as the session form, so an admin never sees "Not a valid integer value"."""
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from ..form_fields import ParsedField, name_field, new_account_email
from ..form_fields import strip as _strip
from ..timeutil import is_valid_timezone

CRISIS_TEXT_MAX = 500


def whole(label: str, low: int, high: int):
    def parse(text: str) -> int:  # ParsedField has refused digits other than 0-9
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{label} must be a whole number from {low} to {high}.") from None
        if not low <= value <= high:
            raise ValueError(f"{label} must be from {low} to {high}.")
        return value
    return parse


def wane_fraction(text: str) -> Decimal:
    message = "The wane fraction must be a number above 0 and at most 1, such as 0.5."
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(message) from None
    if not value.is_finite() or not Decimal("0") < value <= Decimal("1"):
        raise ValueError(message)
    if value != value.quantize(Decimal("0.001")):
        raise ValueError("The wane fraction can have at most 3 decimal places.")
    return value


_NUMBER = {"inputmode": "numeric", "autocomplete": "off"}


class ClinicSettingsForm(FlaskForm):
    TEXTS = ("name", "phone", "timezone", "crisis_text")
    NUMBERS = ("mcid", "wane_fraction", "confirm_days", "baseline_window_start", "baseline_window_end",
               "nadir_window_start", "nadir_window_end", "lapse_days")

    name = StringField("Clinic name", filters=[_strip], validators=[
        DataRequired(message="Enter the clinic's name."),
        Length(max=120, message="The clinic's name must be at most 120 characters.")])
    phone = StringField("Clinic phone", filters=[_strip], validators=[
        Length(max=40, message="The phone number must be at most 40 characters.")])
    timezone = SelectField("Clinic time zone", validate_choice=False)
    crisis_text = TextAreaField("Crisis line text", filters=[_strip], validators=[
        # SPEC 2.3: every patient page shows it; it may be reworded, never removed.
        DataRequired(message="Enter the crisis line text: every patient page shows it."),
        Length(max=CRISIS_TEXT_MAX, message=f"The crisis line text must be at most {CRISIS_TEXT_MAX} characters.")])
    mcid = ParsedField("Smallest meaningful change (MCID), points", whole("The MCID", 1, 21),
                       "Enter the MCID.", what="The MCID", render_kw=_NUMBER)
    wane_fraction = ParsedField("Wane fraction", wane_fraction, "Enter the wane fraction.", what="The wane fraction",
                                render_kw={"inputmode": "decimal", "autocomplete": "off"})
    confirm_days = ParsedField("Days that confirm a wane", whole("Days that confirm a wane", 1, 7),
                               "Enter how many days confirm a wane.", what="Days that confirm a wane", render_kw=_NUMBER)
    baseline_window_start = ParsedField("Baseline window: first day", whole("The baseline window's first day", -14, -1),
                                        "Enter the baseline window's first day.",
                                        what="The baseline window's first day", render_kw=_NUMBER)
    baseline_window_end = ParsedField("Baseline window: last day", whole("The baseline window's last day", -14, -1),
                                      "Enter the baseline window's last day.",
                                      what="The baseline window's last day", render_kw=_NUMBER)
    nadir_window_start = ParsedField("Nadir window: first day", whole("The nadir window's first day", 1, 14),
                                     "Enter the nadir window's first day.",
                                     what="The nadir window's first day", render_kw=_NUMBER)
    nadir_window_end = ParsedField("Nadir window: last day", whole("The nadir window's last day", 1, 14),
                                   "Enter the nadir window's last day.",
                                   what="The nadir window's last day", render_kw=_NUMBER)
    lapse_days = ParsedField("Missed days that make a patient lapsed", whole("Missed days before lapsed", 1, 30),
                             "Enter how many missed days make a patient lapsed.",
                             what="Missed days before lapsed", render_kw=_NUMBER)

    def validate_timezone(self, field):
        if not is_valid_timezone(field.data or ""):
            raise ValidationError("Choose a time zone from the list.")

    def validate_baseline_window_end(self, field):
        start = self.baseline_window_start.value
        if start is not None and field.value is not None and field.value < start:
            raise ValidationError("The baseline window's last day cannot come before its first day.")

    def validate_nadir_window_end(self, field):
        start = self.nadir_window_start.value
        if start is not None and field.value is not None and field.value < start:
            raise ValidationError("The nadir window's last day cannot come before its first day.")

    def fill_from(self, clinic) -> None:
        """Show the stored settings."""
        for name in (*self.TEXTS, *self.NUMBERS):
            getattr(self, name).data = str(getattr(clinic, name))

    def values(self) -> dict:
        """What to store, once the form is valid: the Clinic columns of the same names."""
        return {**{n: getattr(self, n).data for n in self.TEXTS}, **{n: getattr(self, n).value for n in self.NUMBERS}}


class StaffForm(FlaskForm):
    email = new_account_email("their")
    first_name = name_field("First name", "their")
    last_name = name_field("Last name", "their")
    role = SelectField("Role", choices=[SelectChoice("provider", "Provider: sees their own panel"),
                                        SelectChoice("admin", "Admin: every patient, staff, settings, audit log")],
                       validate_choice=False)

    def validate_role(self, field):
        if field.data not in ("provider", "admin"):
            raise ValidationError("Choose provider or admin.")
