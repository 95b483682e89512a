"""Staff forms: enrolling a patient, recording or editing a treatment session.

Session values are checked by monitor.treatments' rules, so the web form and the CSV import
refuse the same things with the same words."""
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError

from .. import digits, treatments
from ..instruments import ROUTES
from ..form_fields import ParsedField, SubmissionKeyField, name_field, new_account_email
from ..timeutil import is_valid_timezone


class EnrolForm(FlaskForm):
    email = new_account_email("the patient's")
    first_name = name_field("First name", "the patient's")
    last_name = name_field("Last name", "the patient's")
    timezone = SelectField("Time zone", validate_choice=False)
    # Only an admin chooses; a provider's patient joins their own panel (the view removes this field).
    providers = SelectMultipleField("Providers", coerce=int, validate_choice=False)

    def validate_timezone(self, field):
        if not is_valid_timezone(field.data or ""):
            raise ValidationError("Choose a time zone from the list.")

    def validate_providers(self, field):
        allowed = {choice.value for choice in field.choices}
        if not field.data:
            raise ValidationError("Choose at least one provider.")
        # coerce=int reads "٣" as 3: only ids written with 0-9 are ids (monitor/digits.py).
        if any(value not in allowed for value in field.data) or any(map(digits.foreign_digit, field.raw_data or [])):
            raise ValidationError("Choose providers from the list.")


_WHOLE = {"inputmode": "numeric", "autocomplete": "off"}
_DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}


class TreatmentForm(FlaskForm):
    """A treatment session as typed by staff, in the clinic's local time."""

    administered_at = ParsedField(
        "Date and time", treatments.parse_local_datetime,
        required_message="Enter the date and time of the session.", what="The date and time",
        render_kw={"type": "datetime-local"},
    )
    route = SelectField(
        "Route", validate_choice=False,
        choices=[SelectChoice("", "Choose a route")] + [SelectChoice(key, label) for key, label in ROUTES],
    )
    dose_mg = ParsedField("Dose (mg)", treatments.parse_dose, required_message="Enter the dose in mg.",
                          what="The dose", render_kw=_DECIMAL)
    bp_systolic_before = ParsedField("Systolic before (mmHg)", treatments.parse_systolic,
                                     what="The systolic pressure before", render_kw=_WHOLE)
    bp_diastolic_before = ParsedField("Diastolic before (mmHg)", treatments.parse_diastolic,
                                      what="The diastolic pressure before", render_kw=_WHOLE)
    bp_systolic_after = ParsedField("Systolic after (mmHg)", treatments.parse_systolic,
                                    what="The systolic pressure after", render_kw=_WHOLE)
    bp_diastolic_after = ParsedField("Diastolic after (mmHg)", treatments.parse_diastolic,
                                     what="The diastolic pressure after", render_kw=_WHOLE)
    dissociation_score = ParsedField("Clinician-rated dissociation score (optional)", treatments.parse_dissociation,
                                     what="The dissociation score", render_kw=_WHOLE)
    notes = TextAreaField("Notes (optional)", validators=[
        Length(max=treatments.NOTES_MAX_LENGTH,
               message=f"The notes must be at most {treatments.NOTES_MAX_LENGTH:,} characters."),
    ])
    # A fresh key per rendered form: a double-tapped submit records one session.
    submission_key = SubmissionKeyField()

    def __init__(self, *args, clinic_timezone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic_timezone = clinic_timezone
        self.instant = None

    def validate_administered_at(self, field):
        try:
            self.instant = treatments.treatment_instant(field.value, self.clinic_timezone)
        except ValueError as e:
            raise ValidationError(str(e)) from None

    def validate_route(self, field):
        try:
            treatments.parse_route(field.data or "")
        except ValueError as e:
            raise ValidationError(str(e)) from None

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for when in ("before", "after"):
            systolic, diastolic = self[f"bp_systolic_{when}"], self[f"bp_diastolic_{when}"]
            if systolic.errors or diastolic.errors:
                continue
            problem = treatments.blood_pressure_problem(systolic.value, diastolic.value)
            if problem:
                half, message = problem
                self[f"bp_{half}_{when}"].errors.append(message)
                ok = False
        return ok

    def values(self) -> treatments.TreatmentValues:
        """The validated session; call after validate() returned True."""
        return treatments.TreatmentValues(
            administered_at=self.instant,
            route=self.route.data,
            dose_mg=self.dose_mg.value,
            bp_systolic_before=self.bp_systolic_before.value,
            bp_diastolic_before=self.bp_diastolic_before.value,
            bp_systolic_after=self.bp_systolic_after.value,
            bp_diastolic_after=self.bp_diastolic_after.value,
            dissociation_score=self.dissociation_score.value,
            notes=(self.notes.data or "").strip() or None,
        )

    def fill_from(self, treatment, local_when) -> None:
        """Show a stored session for editing; local_when is its time in the clinic's zone."""
        # Seconds only when stored (an import may carry them), so re-saving does not move the time.
        self.administered_at.data = local_when.strftime("%Y-%m-%dT%H:%M:%S" if local_when.second else "%Y-%m-%dT%H:%M")
        self.route.data = treatment.route
        self.dose_mg.data = treatments.format_dose(treatment.dose_mg)
        for name in ("bp_systolic_before", "bp_diastolic_before", "bp_systolic_after",
                     "bp_diastolic_after", "dissociation_score"):
            value = getattr(treatment, name)
            self[name].data = "" if value is None else str(value)
        self.notes.data = treatment.notes or ""
