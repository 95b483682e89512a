"""The patient's own copy of their record (the right of access): every check-in, standard
GAD-7 and treatment session as CSV files, and the whole record as a FHIR R4 Bundle (the same
Bundle a provider exports). Linked from the settings page.

Each download is audited with the patient as its target. File names carry no name or email:
a downloads folder or a mail attachment list must not say whose record it is."""
from flask import Response, current_app
from flask_login import current_user

from .. import audit, patient_record
from ..clinic import get_clinic
from ..timeutil import local_today
from . import bp


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # health data: never kept by a browser or cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/me/record/<any(checkins, gad7, treatments):part>.csv")
def own_record_csv(part: str):
    patient = current_user._get_current_object()
    record = patient_record.load_record(patient)
    text = patient_record.own_csv(part, record)
    audit.after_response(f"export.own_{part}", target_type="patient", target_id=patient.id)
    return _download(text, "text/csv", patient_record.record_filename(part, local_today(patient.timezone)))


@bp.get("/me/record/fhir.json")
def own_record_fhir():
    patient = current_user._get_current_object()
    record = patient_record.load_record(patient)
    text = patient_record.bundle_json(record, base_url=current_app.config["BASE_URL"],
                                      clinic_timezone=get_clinic().timezone)
    audit.after_response("export.own_fhir", target_type="patient", target_id=patient.id)
    return _download(text, patient_record.FHIR_MIMETYPE,
                     patient_record.record_filename("fhir", local_today(patient.timezone)))
