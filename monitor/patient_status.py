"""Pausing monitoring between courses, discharging, and resuming (SPEC 5).

A paused or discharged patient gets no nudges and is never late, missed or lapsed. Each
change is kept (PatientStatusChange), so that after a return to "active" the paused days are
not counted as missed, and audited. The caller commits."""
from .audit import record
from .extensions import db
from .models import PatientStatus, PatientStatusChange, User

STATUSES = [s.value for s in PatientStatus]


def change(patient: User, status: str, *, actor: User) -> bool:
    """Set the patient's monitoring status; whether it changed."""
    if status not in STATUSES:
        raise ValueError(f"not a status: {status!r}")
    if status == patient.status:
        return False
    previous = patient.status
    patient.status = status
    db.session.add(PatientStatusChange(patient_id=patient.id, status=status, changed_by_id=actor.id))
    record("patient.status_changed", target_type="patient", target_id=patient.id, actor=actor,
           detail=f"{previous} -> {status}")
    return True
