"""Treatment sessions (SPEC 3): the rules for a valid session, and recording, editing and
listing them. Edits keep the earlier values as a TreatmentRevision.

No Flask request code here, so the staff form and the CSV import (SPEC 7) can refuse the same
things in the same words. Times arrive as the clinic's local wall-clock time and are stored as
UTC instants."""
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from . import stored_analysis
from .audit import record
from .extensions import db
from .instruments import ROUTE_LABELS
from .models import Treatment, TreatmentRevision, User
from .timeutil import local_today, utcnow

DOSE_MAX_MG = Decimal("10000")
DOSE_PLACES = Decimal("0.01")
SYSTOLIC_RANGE = (50, 260)
DIASTOLIC_RANGE = (30, 160)
DISSOCIATION_RANGE = (0, 100)
NOTES_MAX_LENGTH = 2000
EARLIEST_DATE = date(1990, 1, 1)
# Planned sessions may be entered ahead, but a date years away is a typo.
MAX_YEARS_AHEAD = 1


# --- The rules for a valid session. Each raises ValueError with a message for the person typing.

_LOCAL_DATETIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?")


def parse_local_datetime(text: str) -> datetime:
    """'2026-11-26T14:30' (what an input type=datetime-local sends) or '2026-11-26 14:30': a naive wall-clock time."""
    match = _LOCAL_DATETIME.fullmatch((text or "").strip())
    if not match:
        raise ValueError("Enter the date and time as YYYY-MM-DD HH:MM, for example 2026-11-26 14:30.")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        day_part = date(year, month, day)
    except ValueError:
        raise ValueError(f"There is no such date as {match.group(1)}-{match.group(2)}-{match.group(3)}.") from None
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"There is no such time as {match.group(4)}:{match.group(5)}.")
    return datetime(day_part.year, day_part.month, day_part.day, hour, minute, second)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def treatment_instant(local: datetime, tz_name: str, now: datetime | None = None) -> datetime:
    """The UTC instant of a session entered as local wall-clock time in tz_name.

    A time that does not exist (skipped by a DST change) is refused; an ambiguous one
    (repeated when clocks go back) means its first occurrence."""
    if local.tzinfo is not None:
        raise ValueError("expected a local wall-clock time without a zone")
    if local.date() < EARLIEST_DATE:
        raise ValueError(f"The date must be on or after {EARLIEST_DATE:%-d %B %Y}.")
    latest = _years_later(local_today(tz_name, now), MAX_YEARS_AHEAD)
    if local.date() > latest:
        raise ValueError(f"The date can be at most a year ahead (up to {latest:%-d %B %Y}).")
    zone = ZoneInfo(tz_name)
    aware = local.replace(tzinfo=zone, fold=0)  # fold=0: the first of two repeated times
    instant = aware.astimezone(timezone.utc)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        raise ValueError(
            f"{local:%H:%M} on {local:%-d %B %Y} does not exist in {tz_name}: the clocks "
            "went forward that night. Enter the time shown on the clock after the change."
        )
    return instant


def parse_dose(text: str) -> Decimal:
    """A dose in mg: positive, at most 2 decimal places, at most 10,000."""
    text = (text or "").strip()
    # Plain digits and one point only: "1,000" or "2,5" would be read differently by different people.
    if not re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text):
        raise ValueError("Enter the dose in mg as a number, like 25 or 37.5.")
    try:
        dose = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter the dose in mg as a number, like 25 or 37.5.") from None
    if dose <= 0:
        raise ValueError("The dose must be more than 0 mg.")
    # The maximum first: quantize() raises on a number with more digits than the context holds.
    if dose > DOSE_MAX_MG:
        raise ValueError(f"The dose must be at most {DOSE_MAX_MG:,} mg.")
    if dose != dose.quantize(DOSE_PLACES):
        raise ValueError("The dose can have at most 2 decimal places.")
    return dose.quantize(DOSE_PLACES)


def parse_whole_number(text: str, low: int, high: int, what: str, unit: str = "") -> int:
    text = (text or "").strip()
    suffix = f" {unit}" if unit else ""
    if not re.fullmatch(r"[+-]?\d{1,6}", text):
        raise ValueError(f"The {what} must be a whole number.")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"The {what} must be from {low} to {high}{suffix}.")
    return value


def parse_systolic(text: str) -> int:
    return parse_whole_number(text, *SYSTOLIC_RANGE, "systolic pressure", "mmHg")


def parse_diastolic(text: str) -> int:
    return parse_whole_number(text, *DIASTOLIC_RANGE, "diastolic pressure", "mmHg")


def parse_dissociation(text: str) -> int:
    return parse_whole_number(text, *DISSOCIATION_RANGE, "dissociation score")


def parse_route(text: str) -> str:
    if text not in ROUTE_LABELS:
        raise ValueError("Choose a route from the list.")
    return text


def blood_pressure_problem(systolic: int | None, diastolic: int | None) -> tuple[str, str] | None:
    """(which half, message) when a reading is incomplete or upside down; None when fine or absent."""
    if systolic is None and diastolic is None:
        return None
    if systolic is None:
        return "systolic", "Enter the systolic pressure too, or leave both empty."
    if diastolic is None:
        return "diastolic", "Enter the diastolic pressure too, or leave both empty."
    if systolic <= diastolic:
        return "systolic", "The systolic pressure must be higher than the diastolic."
    return None


# --- Storing sessions.

@dataclass
class TreatmentValues:
    """A session's clinical values, already validated; names match TreatmentFields' columns."""

    administered_at: datetime
    route: str
    dose_mg: Decimal
    bp_systolic_before: int | None = None
    bp_diastolic_before: int | None = None
    bp_systolic_after: int | None = None
    bp_diastolic_after: int | None = None
    dissociation_score: int | None = None
    notes: str | None = None

    @classmethod
    def of(cls, treatment) -> "TreatmentValues":
        return cls(**{name: getattr(treatment, name) for name in FIELD_NAMES})


FIELD_NAMES = [f.name for f in fields(TreatmentValues)]


def _apply(values: TreatmentValues, target) -> None:
    for name in FIELD_NAMES:
        setattr(target, name, getattr(values, name))


@dataclass
class SaveResult:
    treatment: Treatment
    outcome: str  # "created", "duplicate" (the same form submitted twice), "updated" or "unchanged"


def record_treatment(patient: User, values: TreatmentValues, *, recorded_by: User | None,
                     submission_key: str | None = None, source: str = "web",
                     now: datetime | None = None) -> SaveResult:
    """Store a new session for a patient the caller may see. Audited; caller commits."""
    now = now or utcnow()
    if submission_key:
        earlier = db.session.scalar(select(Treatment).where(Treatment.submission_key == submission_key))
        if earlier is not None:
            if earlier.patient_id == patient.id:
                return SaveResult(earlier, "duplicate")
            submission_key = None  # a key replayed from another patient's form blocks nothing
    treatment = Treatment(patient_id=patient.id, recorded_by_id=getattr(recorded_by, "id", None),
                          created_at=now, updated_at=now, submission_key=submission_key, source=source)
    _apply(values, treatment)
    if submission_key:
        try:
            with db.session.begin_nested():
                db.session.add(treatment)
        except IntegrityError:
            # The twin request committed first (the savepoint keeps the transaction usable).
            earlier = db.session.scalar(select(Treatment).where(Treatment.submission_key == submission_key))
            if earlier is not None and earlier.patient_id == patient.id:
                return SaveResult(earlier, "duplicate")
            raise
    else:
        db.session.add(treatment)
        db.session.flush()
    record("treatment.created", target_type="treatment", target_id=treatment.id, actor=recorded_by,
           detail=f"patient {patient.id}" + ("" if source == "web" else f", {source}"))
    stored_analysis.refresh([patient], now=now)
    return SaveResult(treatment, "created")


def update_treatment(treatment: Treatment, values: TreatmentValues, *, edited_by: User | None,
                     now: datetime | None = None) -> SaveResult:
    """Change a session, keeping its earlier values as a revision. Audited; caller commits.

    Submitting the same values again (a double-tapped save) changes nothing and adds no revision."""
    if TreatmentValues.of(treatment) == values:
        return SaveResult(treatment, "unchanged")
    now = now or utcnow()
    revision = TreatmentRevision(replaced_at=now, replaced_by_id=getattr(edited_by, "id", None))
    _apply(TreatmentValues.of(treatment), revision)
    treatment.revisions.append(revision)
    changed = [name for name in FIELD_NAMES if getattr(treatment, name) != getattr(values, name)]
    _apply(values, treatment)
    treatment.updated_at = now
    db.session.flush()
    record("treatment.updated", target_type="treatment", target_id=treatment.id, actor=edited_by,
           detail="changed: " + ", ".join(changed))
    stored_analysis.refresh([db.session.get(User, treatment.patient_id)], now=now)
    return SaveResult(treatment, "updated")


def find_treatment(patient: User, treatment_id: int, *, for_update: bool = False) -> Treatment | None:
    """A session of this patient only: an id belonging to someone else is not found."""
    query = select(Treatment).where(Treatment.id == treatment_id, Treatment.patient_id == patient.id)
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)


@dataclass
class TreatmentRow:
    treatment: Treatment
    edited: bool


def treatments_for(patient: User) -> list[TreatmentRow]:
    """The patient's sessions, newest (or furthest planned) first, each marked when it has been edited."""
    edited = exists().where(TreatmentRevision.treatment_id == Treatment.id)
    rows = db.session.execute(
        select(Treatment, edited.label("edited"))
        .where(Treatment.patient_id == patient.id)
        .order_by(Treatment.administered_at.desc(), Treatment.id.desc())
    ).all()
    return [TreatmentRow(treatment, bool(was_edited)) for treatment, was_edited in rows]


@dataclass
class RevisionRow:
    revision: TreatmentRevision
    editor: User | None  # who replaced these values (None once that account is deleted)


def revisions_of(treatment: Treatment) -> list[RevisionRow]:
    """Earlier versions, newest first, with who replaced each."""
    rows = db.session.execute(
        select(TreatmentRevision, User)
        .outerjoin(User, User.id == TreatmentRevision.replaced_by_id)
        .where(TreatmentRevision.treatment_id == treatment.id)
        .order_by(TreatmentRevision.replaced_at.desc(), TreatmentRevision.id.desc())
    ).all()
    return [RevisionRow(revision, editor) for revision, editor in rows]


def format_dose(dose: Decimal) -> str:
    """25.00 -> "25", 37.50 -> "37.5": how a clinician writes it."""
    text = f"{dose:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
