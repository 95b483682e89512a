"""`flask --app monitor export-fhir EMAIL`: one patient's record as a FHIR R4 Bundle (JSON) on
standard output (monitor/fhir.py).

`flask --app monitor export-research`: the clinic-wide research CSV on standard output
(monitor/research.py).

Both are audited like the exports in the web app, with no actor (the command line has none)
and "cli" as their detail."""
import click
from flask import current_app

from . import patient_record, research
from .accounts import find_by_email, normalise_email
from .audit import record
from .clinic import get_clinic
from .extensions import db


def init_app(app) -> None:
    app.cli.add_command(export_fhir_command)
    app.cli.add_command(export_research_command)


def _fail(problem: str):
    click.echo(f"Error: {problem}", err=True)
    raise click.exceptions.Exit(1)


@click.command("export-fhir", short_help="Print a patient's record as a FHIR R4 Bundle (JSON).")
@click.argument("email")
def export_fhir_command(email):
    """Print one patient's record as a FHIR R4 Bundle of type collection (JSON): the Patient,
    the daily and the standard GAD-7 Questionnaires, a QuestionnaireResponse and a total-score
    Observation per check-in and per standard GAD-7, and a MedicationAdministration per
    treatment session given. The export is audited."""
    patient = find_by_email(email)
    if patient is None:
        _fail(f"no account has the email {normalise_email(email)}")
    if not patient.is_patient:
        _fail(f"{patient.email} is a staff account ({patient.role}), not a patient's")
    base_url = current_app.config.get("BASE_URL")
    if not base_url:
        _fail("BASE_URL is not set: the daily Questionnaire's canonical URL and the Bundle's identifiers "
              "are built on it. Set it to the https:// address people open.")
    text = patient_record.bundle_json(patient_record.load_record(patient), base_url=base_url,
                                      clinic_timezone=get_clinic().timezone)
    record("export.fhir", target_type="patient", target_id=patient.id, detail="cli")
    # The audit event is kept before the Bundle is printed: an export that left no trace must not happen.
    db.session.commit()
    click.echo(text, nl=False)


@click.command("export-research", short_help="Print the clinic's pseudonymised research CSV.")
def export_research_command():
    """Print the research export as CSV: every patient with a treatment session as a random
    study id, every date as days since that patient's first session, no free text, no zone,
    no names, emails or ids. Study ids are made on a patient's first export and kept. Audited."""
    export = research.research_export()
    record("export.research", detail=f"cli; research, {len(export.patient_ids)} patients "
           f"({export.left_out} without a session left out)", patient_ids=export.patient_ids)
    # The study ids made now and the audit event in one transaction, before anything is printed.
    db.session.commit()
    click.echo(export.text, nl=False)
