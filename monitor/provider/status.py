"""Pausing monitoring between courses, discharging, and resuming (SPEC 5).

A paused or discharged patient gets no nudges and is never late, missed or lapsed. Each
change is kept (PatientStatusChange), so that after a return to "active" the paused days are
not counted as missed, and audited."""
from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from ..access import patient_or_404
from ..audit import record
from ..extensions import db
from ..models import PatientStatus, PatientStatusChange
from .views import bp

STATUS_MESSAGES = {
    PatientStatus.ACTIVE.value: "Monitoring is active: daily check-ins are expected again.",
    PatientStatus.PAUSED.value: "Monitoring is paused: no reminders, and no days count as missed until you resume it.",
    PatientStatus.DISCHARGED.value: "The patient is discharged: no reminders, and no days count as missed.",
}


@bp.post("/patients/<int:patient_id>/status")
def patient_status(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    status = request.form.get("status", "")
    if status not in STATUS_MESSAGES:
        abort(400)
    if status != patient.status:
        previous = patient.status
        patient.status = status
        db.session.add(PatientStatusChange(patient_id=patient.id, status=status,
                                           changed_by_id=current_user.id))
        record("patient.status_changed", target_type="patient", target_id=patient.id,
               detail=f"{previous} -> {status}")
        db.session.commit()
        flash(STATUS_MESSAGES[status], "info")
    else:
        flash("Nothing was changed.", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id), code=303)
