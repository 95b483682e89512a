"""Recording and editing a patient's treatment sessions (SPEC 3). They are listed on the
patient's page; the rules and the history live in monitor.treatments."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import audit, treatments
from ..access import patient_or_404, refuse
from ..clinic import get_clinic
from ..extensions import db
from ..instruments import ROUTE_LABELS
from ..timeutil import to_local
from ..security import offers_resubmit
from . import bp
from .forms import TreatmentForm


def _on_patient_page(patient_id: int, treatment_id: int | None = None):
    anchor = f"treatment-{treatment_id}" if treatment_id else "treatments"
    return redirect(url_for("provider.patient", patient_id=patient_id, _anchor=anchor), code=303)


@bp.get("/patients/<int:patient_id>/treatments", endpoint="treatments")
def list_treatments(patient_id: int):
    # The treatment sessions are listed in full on the patient's page.
    patient = patient_or_404(current_user, patient_id)
    return redirect(url_for("provider.patient", patient_id=patient.id, _anchor="treatments"))


@bp.route("/patients/<int:patient_id>/treatments/new", methods=["GET", "POST"])
@offers_resubmit(TreatmentForm)
def new_treatment(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    form = TreatmentForm(clinic_timezone=get_clinic().timezone)
    if request.method == "GET":
        form.submission_key.issue()
        return render_template("provider/treatment_form.html", form=form, patient=patient, treatment=None)
    if not form.validate():
        form.submission_key.keep_for_redisplay()
        return render_template("provider/treatment_form.html", form=form, patient=patient, treatment=None), 400
    result = treatments.record_treatment(patient, form.values(), recorded_by=current_user._get_current_object(),
                                         submission_key=form.submission_key.key)
    db.session.commit()
    flash("The treatment session is recorded.", "info")
    return _on_patient_page(patient.id, result.treatment.id)


@bp.route("/patients/<int:patient_id>/treatments/<int:treatment_id>/edit", methods=["GET", "POST"])
@offers_resubmit(TreatmentForm)
def edit_treatment(patient_id: int, treatment_id: int):
    patient = patient_or_404(current_user, patient_id)
    treatment = treatments.find_treatment(patient, treatment_id, for_update=request.method == "POST")
    if treatment is None:
        refuse(target_type="treatment", target_id=treatment_id)
    clinic = get_clinic()
    form = TreatmentForm(clinic_timezone=clinic.timezone)
    del form.submission_key  # saving the same values twice changes nothing
    context = dict(patient=patient, treatment=treatment, revisions=treatments.revisions_of(treatment),
                   tz=clinic.timezone, to_local=to_local, route_labels=ROUTE_LABELS,
                   format_dose=treatments.format_dose)
    if request.method == "GET":
        form.fill_from(treatment, to_local(treatment.administered_at, clinic.timezone))
        audit.after_response("treatment.viewed", target_type="treatment", target_id=treatment.id)
        return render_template("provider/treatment_form.html", form=form, **context)
    if not form.validate():
        db.session.rollback()  # release the row lock
        return render_template("provider/treatment_form.html", form=form, **context), 400
    result = treatments.update_treatment(treatment, form.values(), edited_by=current_user._get_current_object())
    db.session.commit()
    flash("The treatment session is updated; the earlier values are kept." if result.outcome == "updated"
          else "Nothing was changed.", "info")
    return _on_patient_page(patient.id, treatment.id)


# Addresses from before treatment sessions were called treatments in URLs: bookmarks and
# forms left open keep working (308 keeps a POST a POST).
@bp.route("/patients/<int:patient_id>/sessions", methods=["GET"])
@bp.route("/patients/<int:patient_id>/sessions/new", methods=["GET", "POST"])
@bp.route("/patients/<int:patient_id>/sessions/<int:treatment_id>/edit", methods=["GET", "POST"])
def sessions_moved(patient_id: int, treatment_id: int | None = None):
    patient = patient_or_404(current_user, patient_id)
    rest = request.path.split("/sessions", 1)[1]
    return redirect(url_for("provider.treatments", patient_id=patient.id) + rest, code=308)
