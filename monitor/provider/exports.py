"""CSV downloads for staff (SPEC 7): one patient's durability, check-ins and sessions, and
the same for every patient the viewer may see (an admin: the whole clinic; a provider: their
own panel, the patients they can open anyway).

Every export is audited once per patient whose data it holds (`export.durability`,
`export.checkins`, `export.sessions`), so the audit trail of a patient shows clinic-wide
exports too. File names carry no name or email: a downloads folder or a mail attachment
list must not disclose who is being treated."""
from flask import Response
from flask_login import current_user
from sqlalchemy import func

from .. import analysis, exports
from ..access import patient_or_404, patients_visible_to
from ..audit import record
from ..clinic import get_clinic
from ..extensions import db
from ..models import User
from ..timeutil import local_today
from .views import bp


def _csv_response(text: str, filename: str) -> Response:
    response = Response(text, mimetype="text/csv")  # text/csv; charset=utf-8
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Health data: never kept by a browser or a shared cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _render(kind: str, patients: list[analysis.PatientData], clinic_tz: str, *, per_clinic: bool) -> str:
    if kind == "durability":
        if per_clinic:
            return exports.clinic_durability_csv(patients)
        return exports.durability_csv(patients[0])
    if kind == "checkins":
        return exports.checkins_csv(patients)
    return exports.sessions_csv(patients, clinic_tz)


def _export_patient(patient_id: int, kind: str) -> Response:
    patient = patient_or_404(current_user, patient_id)
    clinic = get_clinic()
    data = analysis.load_one(patient, with_checkins=kind == "checkins")
    text = _render(kind, [data], clinic.timezone, per_clinic=False)
    filename = f"patient-{patient.id}-{kind}-{local_today(clinic.timezone).isoformat()}.csv"
    record(f"export.{kind}", target_type="patient", target_id=patient.id)
    db.session.commit()
    return _csv_response(text, filename)


@bp.get("/patients/<int:patient_id>/export/durability.csv")
def export_durability(patient_id: int):
    return _export_patient(patient_id, "durability")


@bp.get("/patients/<int:patient_id>/export/checkins.csv")
def export_checkins(patient_id: int):
    return _export_patient(patient_id, "checkins")


@bp.get("/patients/<int:patient_id>/export/sessions.csv")
def export_sessions(patient_id: int):
    return _export_patient(patient_id, "sessions")


# --- Every visible patient, one file, rows led by patient_email.

def _export_clinic(kind: str) -> Response:
    clinic = get_clinic()
    patients = db.session.scalars(
        patients_visible_to(current_user).order_by(func.lower(User.email), User.id)
    ).all()
    data = analysis.load(patients, with_checkins=kind == "checkins")
    text = _render(kind, [data[p.id] for p in patients], clinic.timezone, per_clinic=True)
    filename = f"patients-{kind}-{local_today(clinic.timezone).isoformat()}.csv"
    for p in patients:
        record(f"export.{kind}", target_type="patient", target_id=p.id,
               detail=f"all visible patients ({len(patients)})")
    if not patients:
        record(f"export.{kind}", detail="all visible patients (0)")
    db.session.commit()
    return _csv_response(text, filename)


@bp.get("/exports/durability.csv")
def export_clinic_durability():
    return _export_clinic("durability")


@bp.get("/exports/checkins.csv")
def export_clinic_checkins():
    return _export_clinic("checkins")


@bp.get("/exports/sessions.csv")
def export_clinic_sessions():
    return _export_clinic("sessions")
