"""CSV exports (SPEC 7): a patient's durability analysis, check-ins and treatment sessions,
for one patient or for many (then each row starts with the patient's email).

Writers only: PatientData (monitor.analysis.load) in, CSV text out; no Flask, no queries.
The check-in and session files use exactly the import format (monitor.imports), so an export
can be imported into another Monitor with `flask import-checkins` / `flask import-sessions`.

Formula injection: a spreadsheet runs a cell that begins with = + - or @ as a formula (and
OWASP adds tab and carriage return), so free text typed by people (check-in notes, session
notes, and the email addresses) that begins with one of those is written with a leading
single quote, which spreadsheets show as text. The one cost: such a note comes back from a
re-import with the quote in front. Numbers and dates are written by this module and never
escaped (a negative gain stays -2)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from . import durability
from .analysis import PatientData
from .imports import CHECKIN_OPTIONAL, CHECKIN_REQUIRED, TREATMENT_OPTIONAL, TREATMENT_REQUIRED
from .instruments import ITEM_CODES, SIDE_EFFECT_KEYS
from .models import CheckIn, Treatment
from .timeutil import to_local
from .treatments import format_dose

DURABILITY_COLUMNS = ["session_date", "route", "baseline", "reference", "nadir", "gain", "responded",
                      "wane_day", "status", "last_observed_day"]
CHECKIN_COLUMNS = [*CHECKIN_REQUIRED, *CHECKIN_OPTIONAL]
TREATMENT_COLUMNS = [*TREATMENT_REQUIRED, *TREATMENT_OPTIONAL]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_HUNDREDTHS = Decimal("0.01")


# --- Cells ---------------------------------------------------------------------------------

def safe_text(text: str | None) -> str:
    """Free text for a CSV cell; a leading formula character gets a single quote before it."""
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def plain_number(value: float | int | Decimal | None) -> str:
    """A plain decimal: rounded half up to 2 places, no trailing zeros, never an exponent.
    15.0 -> "15", 28/3 -> "9.33", None -> "" (an undefined value is an empty cell)."""
    if value is None:
        return ""
    # repr() is the shortest text that reads back as the same float: 2.675 rounds to 2.68.
    number = Decimal(repr(value) if isinstance(value, float) else value)
    number = number.quantize(_HUNDREDTHS, rounding=ROUND_HALF_UP).normalize()
    return "0" if number.is_zero() else f"{number:f}"


def _boolean(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _whole(value: int | None) -> str:
    return "" if value is None else str(value)


def _instant(at: datetime, tz_name: str) -> str:
    """ISO 8601 wall-clock time in tz_name with its UTC offset: 2026-11-10T09:00:00-05:00."""
    local = to_local(at, tz_name)
    return local.isoformat(timespec="seconds" if local.microsecond == 0 else "microseconds")


def _csv(columns: list[str], rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF line ends, quotes where needed
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def write_csv(columns: list[str], rows: Iterable[list[str]]) -> str:
    """A CSV file as the exports write them (RFC 4180), for the other writers of the app."""
    return _csv(columns, rows)


# --- Durability ----------------------------------------------------------------------------

def durability_cells(data: PatientData) -> list[list[str]]:
    """One row per analysed session (one per local date: the first session of the date gives
    the route); planned sessions are not analysed and not listed."""
    firsts = data.first_treatment_on()
    rows = []
    for s in data.analysis.treatments if data.analysis else []:
        rows.append(_durability_row(s, firsts[s.treatment_date]))
    return rows


def _durability_row(s: durability.TreatmentResult, treatment: Treatment) -> list[str]:
    return [
        s.treatment_date.isoformat(),
        treatment.route,
        plain_number(s.baseline),
        plain_number(s.reference),
        plain_number(s.nadir),
        plain_number(s.gain),
        _boolean(s.responded),
        _whole(s.wane_day),
        s.status,
        _whole(s.last_observed_day),
    ]


def durability_csv(data: PatientData) -> str:
    return _csv(DURABILITY_COLUMNS, durability_cells(data))


def clinic_durability_csv(patients: Iterable[PatientData]) -> str:
    """Every patient's sessions, each row led by patient_email."""
    rows = [[safe_text(d.patient.email), *row] for d in patients for row in durability_cells(d)]
    return _csv(["patient_email", *DURABILITY_COLUMNS], rows)


# --- Check-ins and sessions, in the import format --------------------------------------------

def _checkin_row(email: str, c: CheckIn) -> list[str]:
    return [
        safe_text(email),
        c.local_date.isoformat(),
        *(str(getattr(c, code)) for code in ITEM_CODES),
        *(_whole(getattr(c, f"se_{key}")) for key in SIDE_EFFECT_KEYS),
        safe_text(c.note),
    ]


def checkins_csv(patients: Iterable[PatientData]) -> str:
    """Check-ins (load with with_checkins=True) by patient, then date: `flask import-checkins` input."""
    return _csv(CHECKIN_COLUMNS, (_checkin_row(d.patient.email, c)
                                  for d in patients for c in sorted(d.checkins, key=lambda c: c.local_date)))


def _treatment_row(email: str, t: Treatment, tz_name: str) -> list[str]:
    return [safe_text(email), _instant(t.administered_at, tz_name), t.route, format_dose(t.dose_mg), safe_text(t.notes)]


def treatments_csv(patients: Iterable[PatientData], tz_name: str) -> str:
    """Every recorded session, planned ones too, by patient then time: `flask import-sessions`
    input. Times are given in tz_name (the clinic's zone) with the offset, so they are exact."""
    return _csv(TREATMENT_COLUMNS, (_treatment_row(d.patient.email, t, tz_name)
                                  for d in patients for t in d.treatments))
