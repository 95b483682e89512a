"""A patient's record for staff: enrolling, resending the invitation, the record itself, the
care team (admins only) and pausing or discharging monitoring."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from .. import (accounts, analysis, audit, care_team, dashboard, digits, outbox, paging, patient_status,
               standard_gad7, treatments)
from ..access import patient_or_404, refuse
from ..charts import page as patient_charts
from ..clinic import get_clinic
from ..extensions import db
from ..instruments import GAD7_DIFFICULTY_OPTIONS, GAD7_MCID, ITEMS, ROUTE_LABELS, SEVERE_SIDE_EFFECT, SIDE_EFFECTS, band_for
from ..models import CheckIn, CheckInRevision, User
from ..timeutil import timezone_groups, to_local, utcnow
from ..security import offers_resubmit
from . import bp
from .forms import EnrolForm

# The first response carries the recent part of the record: the charts show all of it, the
# tables two weeks of check-ins a page and the latest sessions (issue 9: a year of tables made
# the page slow to show on a phone).
CHECKIN_DAYS = 14
LATEST_TREATMENTS = 10
# The side-effect table under the 90-day chart lists the latest reports only (issue 13: the page
# sent 90 days of tables); the check-ins download has them all.
LATEST_SIDE_EFFECTS = 30


# --- Enrolment.

@bp.route("/patients/new", methods=["GET", "POST"])
@offers_resubmit(EnrolForm)
def enrol():
    form = EnrolForm()
    form.timezone.choices = timezone_groups(get_clinic().timezone)
    if current_user.is_admin:
        form.providers.choices = [SelectChoice(p.id, f"{p.display_name} ({p.email})")
                                  for p in care_team.active_providers()]
    else:
        del form.providers
    if request.method == "GET":
        form.timezone.data = get_clinic().timezone
        # Untouched: this device's zone may replace the default (static/js/timezone.js).
        return render_template("provider/enrol.html", form=form, device_zone="default")
    if not form.validate():
        return render_template("provider/enrol.html", form=form), 400
    if current_user.is_admin:
        providers = db.session.scalars(select(User).where(User.id.in_(form.providers.data))).all()
    else:
        providers = [current_user._get_current_object()]
    try:
        patient = accounts.enrol_patient(form.email.data, form.first_name.data, form.last_name.data,
                                         form.timezone.data, providers, actor=current_user)
    except accounts.DuplicateEmail as duplicate:
        form.email.errors.append(str(duplicate))
        return render_template("provider/enrol.html", form=form), 400
    outbox.queue_invitation(patient)
    db.session.commit()
    flash(f"{patient.display_name} is enrolled. {outbox.INVITATION_QUEUED}", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id), code=303)


@bp.post("/patients/<int:patient_id>/invite")
def invite(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    if patient.has_password:
        flash("This patient has already set up their account. They can reset a forgotten password "
              "from the sign-in page.", "error")
        return redirect(url_for("provider.patient", patient_id=patient.id), code=303)
    audit.record("patient.invitation_resent", target_type="patient", target_id=patient.id)
    outbox.queue_invitation(patient)
    db.session.commit()
    flash(f"A new invitation email to {patient.email} is queued for sending. Earlier links no longer work.", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id), code=303)


# --- The patient's record.

def _checkins(data: analysis.PatientData, page: paging.Window) -> list[tuple[CheckIn, bool]]:
    """The check-ins of one page of the table, newest first, each marked when it has been
    revised; from the rows the analysis already loaded, plus one query for which were revised."""
    shown = [c for c in reversed(data.checkins) if page.holds(c.local_date)]
    revised = set(db.session.scalars(
        select(CheckInRevision.checkin_id).where(CheckInRevision.checkin_id.in_([c.id for c in shown])).distinct()
    )) if shown else set()
    return [(c, c.id in revised) for c in shown]


@bp.get("/patients/<int:patient_id>")
def patient(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    all_treatments = request.args.get("treatments") == "all"
    data = analysis.load_one(patient, with_checkins=True)
    page = paging.window(paging.page_number(request.args.get("page")), data.today,
                         data.checkins[0].local_date if data.checkins else None, CHECKIN_DAYS)
    audit.after_response("patient.viewed", target_type="patient", target_id=patient.id)
    sessions = treatments.treatments_for(patient)
    standard = standard_gad7.history(patient.id)
    standard_points = [(row.local_date, row.total) for row in standard]
    clinic = get_clinic()
    return render_template(
        "provider/patient.html", patient=patient,
        # What a provider decides on, first: the dashboard's own row and flags for this patient.
        glance=dashboard.row_for_patient(data), legend=dashboard.legend(clinic.mcid, clinic.lapse_days),
        latest_side_effects=LATEST_SIDE_EFFECTS,
        treatments=sessions if all_treatments else sessions[:LATEST_TREATMENTS], treatment_count=len(sessions),
        all_treatments=all_treatments, latest_treatments=LATEST_TREATMENTS,
        latest_checkin=data.checkins[-1] if data.checkins else None,
        checkins=_checkins(data, page), page=page, checkin_days=CHECKIN_DAYS, now=utcnow(),
        tz=clinic.timezone, to_local=to_local, band_for=band_for, route_labels=ROUTE_LABELS,
        items=ITEMS, side_effects=SIDE_EFFECTS, severe=SEVERE_SIDE_EFFECT, format_dose=treatments.format_dose,
        providers=care_team.active_providers() if current_user.is_admin else None,
        standard=standard[::-1], standard_summary=standard_gad7.scores_summary(standard_points),
        standard_next_due=standard_gad7.next_due(standard_points[-1][0] if standard_points else None),
        standard_due=standard_gad7.owed(patient, standard_points[-1][0] if standard_points else None, data.today),
        gad7_severity=standard_gad7.severity, gad7_mcid=GAD7_MCID,
        difficulty_labels={o.value: o.label for o in GAD7_DIFFICULTY_OPTIONS},
        **patient_charts.for_provider(data, standard_points),
    )


@bp.post("/patients/<int:patient_id>/care-team")
def change_care_team(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    if not current_user.is_admin:
        refuse(target_type="patient", target_id=patient.id)
    try:
        chosen = {digits.whole_number(value, "A provider") for value in request.form.getlist("providers")}
    except ValueError:
        chosen = {-1}  # not an id: "choose providers from the list"
    try:
        changed = care_team.change_providers(patient, chosen, actor=current_user)
    except ValueError as problem:
        flash(str(problem), "error")
    else:
        db.session.commit()
        flash("The patient's providers are saved." if changed else "Nothing was changed.", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id, _anchor="care-team"), code=303)


STATUS_MESSAGES = {
    "active": "Monitoring is active: daily check-ins are expected again.",
    "paused": "Monitoring is paused: no reminders, and no days count as missed until you resume it.",
    "discharged": "The patient is discharged: no reminders, and no days count as missed.",
}


@bp.post("/patients/<int:patient_id>/status")
def change_status(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    status = request.form.get("status", "")
    if status not in STATUS_MESSAGES:
        return render_template("errors/error.html", title="Please choose a status",
                               message="Choose active, paused or discharged from the list."), 400
    if patient_status.change(patient, status, actor=current_user):
        db.session.commit()
        flash(STATUS_MESSAGES[status], "info")
    else:
        flash("Nothing was changed.", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id), code=303)
