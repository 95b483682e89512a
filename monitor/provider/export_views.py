"""CSV downloads for staff (SPEC 7): one patient's durability, check-ins and treatment sessions,
and the same for every patient the viewer may see (an admin: the whole clinic; a provider:
their own panel, the patients they can open anyway).

One patient's record as a FHIR R4 Bundle too (`export.fhir`).

Every export is audited (`export.durability`, `export.checkins`, `export.treatments`, `export.fhir`): one
patient's with that patient as its target, one of every visible patient as one event listing
every patient in the file, so the audit trail of a patient shows clinic-wide exports too.
File names carry no name or email: a downloads folder or a mail attachment list must not
disclose who is being treated."""
from flask import Response, current_app, redirect, url_for
from flask_login import current_user
from sqlalchemy import func

from .. import analysis, audit, exports, patient_record
from ..access import patient_or_404, patients_visible_to
from ..clinic import get_clinic
from ..extensions import db
from ..models import User
from ..timeutil import local_today
from . import bp

KINDS = ("durability", "checkins", "treatments")


def _csv_response(text: str, filename: str, mimetype: str = "text/csv") -> Response:
    response = Response(text, mimetype=mimetype)  # text/csv; charset=utf-8
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
    return exports.treatments_csv(patients, clinic_tz)


@bp.get("/patients/<int:patient_id>/export/<any(durability, checkins, treatments):kind>.csv")
def export_patient(patient_id: int, kind: str):
    patient = patient_or_404(current_user, patient_id)
    clinic = get_clinic()
    data = analysis.load_one(patient, with_checkins=kind == "checkins")
    text = _render(kind, [data], clinic.timezone, per_clinic=False)
    filename = f"patient-{patient.id}-{kind}-{local_today(clinic.timezone).isoformat()}.csv"
    audit.after_response(f"export.{kind}", target_type="patient", target_id=patient.id)
    return _csv_response(text, filename)


@bp.get("/patients/<int:patient_id>/export/fhir.json")
def export_patient_fhir(patient_id: int):
    """The patient's record as a FHIR R4 Bundle (monitor/fhir.py), for the clinic's EHR."""
    patient = patient_or_404(current_user, patient_id)
    clinic = get_clinic()
    text = patient_record.bundle_json(patient_record.load_record(patient), base_url=current_app.config["BASE_URL"],
                                      clinic_timezone=clinic.timezone)
    filename = f"patient-{patient.id}-fhir-{local_today(clinic.timezone).isoformat()}.json"
    audit.after_response("export.fhir", target_type="patient", target_id=patient.id)
    return _csv_response(text, filename, patient_record.FHIR_MIMETYPE)


# --- Every visible patient, one file, rows led by patient_email.

@bp.get("/exports/<any(durability, checkins, treatments):kind>.csv")
def export_clinic(kind: str):
    clinic = get_clinic()
    patients = db.session.scalars(
        patients_visible_to(current_user).order_by(func.lower(User.email), User.id)
    ).all()
    data = analysis.load(patients, with_checkins=kind == "checkins")
    text = _render(kind, [data[p.id] for p in patients], clinic.timezone, per_clinic=True)
    filename = f"patients-{kind}-{local_today(clinic.timezone).isoformat()}.csv"
    # Every visible patient is listed, those without a row too: the file says of them that
    # they have no check-ins or sessions, which is their data as well.
    audit.after_response(f"export.{kind}", detail=f"all visible patients ({len(patients)})",
                         patient_ids=[p.id for p in patients])
    return _csv_response(text, filename)


# Bookmarks of the addresses from before treatment sessions were called treatments in URLs.
@bp.get("/patients/<int:patient_id>/export/sessions.csv")
def export_patient_sessions_moved(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    return redirect(url_for("provider.export_patient", patient_id=patient.id, kind="treatments"), code=308)


@bp.get("/exports/sessions.csv")
def export_clinic_sessions_moved():
    return redirect(url_for("provider.export_clinic", kind="treatments"), code=308)
