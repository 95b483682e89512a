"""One patient's whole record, loaded once, for the right of access (a patient's own
downloads) and for the FHIR export (staff and the command line): the check-ins, the standard
GAD-7s and the treatment sessions, written as CSV files or as a FHIR Bundle (monitor/fhir.py).

The patient's CSV files hold what the patient sees in the app: the check-ins with their
notes, the standard GAD-7s, and the treatment sessions as date and route only, past and
planned (SPEC 3); dates are the patient's own local dates. Staff exports are
monitor/exports.py."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from . import fhir
from .exports import safe_text, write_csv
from .extensions import db
from .instruments import GAD7_DIFFICULTY_OPTIONS, ITEM_CODES, ROUTE_LABELS, SIDE_EFFECT_KEYS, gad7_severity
from .models import CheckIn, StandardGad7, Treatment, User
from .timeutil import to_local, utcnow

FHIR_MIMETYPE = "application/fhir+json"
CSV_KINDS = ("checkins", "gad7", "treatments")

OWN_CHECKIN_COLUMNS = ["date", *ITEM_CODES, "total", *(f"se_{k}" for k in SIDE_EFFECT_KEYS), "note"]
OWN_STANDARD_COLUMNS = ["date", *ITEM_CODES, "total", "severity", "difficulty"]
OWN_TREATMENT_COLUMNS = ["date", "route", "status"]


@dataclass
class PatientRecord:
    patient: User
    checkins: list[CheckIn]
    standard_gad7s: list[StandardGad7]
    treatments: list[Treatment]


def load_record(patient: User) -> PatientRecord:
    """Everything of the patient's that the exports write, in date order (three queries)."""
    checkins = db.session.scalars(
        select(CheckIn).where(CheckIn.patient_id == patient.id).order_by(CheckIn.local_date)).all()
    standard = db.session.scalars(
        select(StandardGad7).where(StandardGad7.patient_id == patient.id).order_by(StandardGad7.local_date)).all()
    treatments = db.session.scalars(
        select(Treatment).where(Treatment.patient_id == patient.id)
        .order_by(Treatment.administered_at, Treatment.id)).all()
    return PatientRecord(patient, list(checkins), list(standard), list(treatments))


def bundle(record: PatientRecord, *, base_url: str, clinic_timezone: str, now: datetime | None = None) -> dict:
    return fhir.build_bundle(record.patient, checkins=record.checkins, standard_gad7s=record.standard_gad7s,
                             treatments=record.treatments, base_url=base_url,
                             clinic_timezone=clinic_timezone, now=now or utcnow())


def bundle_json(record: PatientRecord, **kwargs) -> str:
    return json.dumps(bundle(record, **kwargs), indent=2, ensure_ascii=False) + "\n"


def record_filename(kind: str, today: date) -> str:
    """monitor-record-2026-12-06.json, monitor-checkins-2026-12-06.csv: no name, email or id."""
    if kind == "fhir":
        return f"monitor-record-{today.isoformat()}.json"
    return f"monitor-{kind}-{today.isoformat()}.csv"


# --- The patient's own CSV files.

def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


def own_checkins_rows(record: PatientRecord) -> list[list[str]]:
    return [[c.local_date.isoformat(), *(str(getattr(c, code)) for code in ITEM_CODES), str(c.total),
             *(_cell(getattr(c, f"se_{k}")) for k in SIDE_EFFECT_KEYS), safe_text(c.note)]
            for c in record.checkins]


_DIFFICULTY_LABELS = {o.value: o.label for o in GAD7_DIFFICULTY_OPTIONS}


def own_standard_rows(record: PatientRecord) -> list[list[str]]:
    return [[r.local_date.isoformat(), *(str(getattr(r, code)) for code in ITEM_CODES), str(r.total),
             gad7_severity(r.total).label, _DIFFICULTY_LABELS.get(r.difficulty, "")]
            for r in record.standard_gad7s]


def own_treatment_rows(record: PatientRecord, now: datetime | None = None) -> list[list[str]]:
    """Date (in the patient's zone, as their home page shows it) and route; past or planned."""
    now = now or utcnow()
    zone = record.patient.timezone
    return [[to_local(t.administered_at, zone).date().isoformat(), ROUTE_LABELS[t.route],
             "planned" if t.administered_at > now else "past"]
            for t in record.treatments]


def own_csv(kind: str, record: PatientRecord, now: datetime | None = None) -> str:
    if kind == "checkins":
        return write_csv(OWN_CHECKIN_COLUMNS, own_checkins_rows(record))
    if kind == "gad7":
        return write_csv(OWN_STANDARD_COLUMNS, own_standard_rows(record))
    if kind == "treatments":
        return write_csv(OWN_TREATMENT_COLUMNS, own_treatment_rows(record, now))
    raise ValueError(f"unknown kind {kind!r}")
