"""CSV import of earlier records (SPEC 7): daily check-ins, treatment sessions and standard
GAD-7s (SPEC 2.2).

An import is all or nothing: every row is checked first, every problem is reported as
"line N: column: message" (N is the physical line in the file; the header is line 1), and
if there is any problem nothing is written. No click here, so the web can reuse it:
parse_*() returns rows or problems, write_*() adds the rows, import_*() does both and commits.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import digits, standard_gad7, treatments
from .accounts import find_by_email, normalise_email
from .audit import record
from .checkins import save_many
from .clinic import get_clinic
from .extensions import db
from .instruments import (GAD7_ANSWER_BY_LOINC, GAD7_DIFFICULTY_BY_LOINC, ITEM_CODES, ITEM_MAX, ITEM_MIN,
                          NOTE_MAX_LENGTH, ROUTES, SIDE_EFFECT_KEYS)
from .models import StandardGad7, Treatment, User
from .timeutil import local_today, utcnow

CHECKIN_REQUIRED = ["patient_email", "date", *ITEM_CODES]
CHECKIN_OPTIONAL = [*(f"se_{key}" for key in SIDE_EFFECT_KEYS), "note"]
TREATMENT_REQUIRED = ["patient_email", "datetime", "route", "dose_mg"]
TREATMENT_OPTIONAL = ["notes"]
GAD7_REQUIRED = ["patient_email", "date", *ITEM_CODES]
GAD7_OPTIONAL = ["difficulty"]

ROUTE_KEYS = [key for key, _ in ROUTES]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?", re.IGNORECASE
)
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


class UnreadableFile(Exception):
    """The file cannot be read as UTF-8 CSV text at all (missing, a directory, wrong encoding)."""


@dataclass(frozen=True)
class Problem:
    line: int | None  # physical line in the file; None for the file as a whole
    column: str | None
    message: str

    def __str__(self) -> str:
        parts = [f"line {self.line}" if self.line is not None else None, self.column, self.message]
        return ": ".join(p for p in parts if p)


class _RowProblems:
    """The problems of one line of a CSV file, collected as its cells are read, so that every
    bad cell of a line is reported, not only the first."""

    def __init__(self, line: int):
        self.line = line
        self.problems: list[Problem] = []

    def add(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def check(self, column: str, result: tuple):
        """The value of a (value, message) pair from a cell parser; the message is kept."""
        value, message = result
        if message:
            self.add(column, message)
        return value


@dataclass
class CheckInRow:
    line: int
    patient: User
    local_date: date
    answers: dict[str, int]
    side_effects: dict[str, int | None]
    note: str | None


@dataclass
class TreatmentImportRow:
    line: int
    patient: User
    administered_at: datetime  # aware, UTC
    route: str
    dose_mg: Decimal
    notes: str | None


@dataclass
class Gad7ImportRow:
    line: int
    patient: User
    local_date: date
    answers: dict[str, int]
    difficulty: int | None


@dataclass
class Parsed:
    """What parse_* found: the rows to write, or the problems that stop the import."""

    rows: list = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ImportSummary:
    noun: str  # "check-ins", "sessions" or "standard GAD-7s"
    count: int
    patients: int
    replaced: int = 0

    def message(self) -> str:
        text = f"Imported {_count(self.count, self.noun)} for {_count(self.patients, 'patients')}"
        if self.replaced:
            text += (" (1 replaced an earlier entry)" if self.replaced == 1
                     else f" ({self.replaced} replaced earlier entries)")
        return text + "."

    def audit_detail(self) -> str:
        # Counts only: the audit log holds no health information.
        text = f"{_count(self.count, self.noun)} for {_count(self.patients, 'patients')}"
        return text + (f", {self.replaced} replaced" if self.replaced else "")


def _count(n: int, plural: str) -> str:
    return f"{n} {plural[:-1] if n == 1 else plural}"


@dataclass
class ImportOutcome:
    problems: list[Problem]
    summary: ImportSummary | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


# --- Reading the file ----------------------------------------------------------------------

def _check_utf8(f: BinaryIO) -> None:
    """Raise UnreadableFile naming the line of the first byte that is not UTF-8; read in
    chunks, so a large file is never held in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    while chunk := f.read(1 << 20):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            data, bad = error.object, error.start  # any bytes held back from the last chunk, then this one
            line = lines + data.count(b"\n", 0, bad)
            raise UnreadableFile(
                f"line {line}: the file is not UTF-8 text (byte 0x{data[bad]:02x}); "
                "save it as \"CSV UTF-8\" and try again"
            ) from None
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UnreadableFile(f"line {lines}: the file ends in the middle of a character; "
                             "save it as \"CSV UTF-8\" and try again") from None


def read_csv_file(path: str | Path) -> TextIO:
    """The file as a text stream for the parsers, read from disk as needed (seekable, for an
    import's two passes). A UTF-8 byte-order mark (Excel's "CSV UTF-8") is fine."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            _check_utf8(f)
        # newline="": the csv module sees \r\n, \n and \r line ends as they are, and quoted
        # cells may hold line breaks.
        return path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: file not found") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a directory, not a file") from None
    except OSError as error:
        raise UnreadableFile(f"{path}: cannot read the file ({error.strerror})") from None


@dataclass
class _Table:
    columns: list[str]
    records: Iterator[tuple[int, dict[str, str]]]  # (physical line, column -> trimmed cell), read as needed


def _read_table(stream: Iterable[str], required: list[str], optional: list[str],
                problems: list[Problem]) -> _Table | None:
    """The header, and the rows as dicts one at a time, so a large file is never held as
    dicts all at once. Problems with the file's shape are added to problems as the rows are
    read; None when the header is unusable, as then no row can be read."""
    reader = csv.reader(stream)
    try:
        header, header_line = _first_nonblank(reader)
    except csv.Error as error:
        problems.append(Problem(reader.line_num, None, f"cannot read this line as CSV ({error}); stopped here"))
        return None
    if header is None:
        problems.append(Problem(None, None, "the file is empty"))
        return None
    columns = [cell.strip().lstrip("\ufeff").strip().lower() for cell in header]
    if not _header_ok(columns, header_line, required, optional, problems):
        return None
    return _Table(columns, _records(reader, columns, problems))


def _records(reader, columns: list[str], problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    while True:
        line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.append(Problem(reader.line_num, None, f"cannot read this line as CSV ({error}); stopped here"))
            return
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (often trailing, or ",,,," from a spreadsheet)
        if len(cells) != len(columns):
            problems.append(Problem(line, None, f"expected {len(columns)} cells, found {len(cells)}"))
            continue
        # NUL cannot be stored in PostgreSQL text, and no real record contains one.
        bad = [name for name, cell in zip(columns, cells) if "\x00" in cell]
        if bad:
            problems.extend(Problem(line, name, "contains a NUL character") for name in bad)
            continue
        yield line, {name: cell.strip() for name, cell in zip(columns, cells)}


def _first_nonblank(reader) -> tuple[list[str] | None, int]:
    for cells in reader:
        if any(cell.strip().lstrip("\ufeff") for cell in cells):
            return cells, reader.line_num
    return None, 0


def _header_ok(columns: list[str], line: int, required: list[str], optional: list[str],
               problems: list[Problem]) -> bool:
    before = len(problems)
    missing = [name for name in required if name not in columns]
    if missing:
        message = "missing columns: " + ", ".join(missing)
        if len(columns) == 1 and ";" in columns[0]:
            message += " (the columns seem to be separated by ';'; save the file with commas)"
        problems.append(Problem(line, None, message))
    known = set(required) | set(optional)
    unknown = [name or f"(column {i} has no name)" for i, name in enumerate(columns, 1) if name not in known]
    if unknown and not (len(columns) == 1 and missing):
        problems.append(Problem(line, None, "unknown columns: " + ", ".join(unknown)
                                + "; the columns allowed are " + ", ".join(required + optional)))
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        problems.append(Problem(line, None, "repeated columns: " + ", ".join(repeated)))
    return len(problems) == before


# --- Cell checks: each returns (value, message); message None when the cell is fine -------------

def _foreign_digits(text: str) -> str | None:
    """Digits of another script ("٣") are refused in every number, date and time (digits.py)."""
    return digits.problem(text, f"'{text}'")


# The cells nearly every row holds, answered without the checks below: an import reads every
# answer and side effect of every row twice (checked, then written), 2.8 million cells for a
# year of a clinic (issue 9's 100,000-row import).
_PLAIN_SCORES = {str(n): (n, None) for n in range(ITEM_MIN, ITEM_MAX + 1)}


def _score(text: str, *, required: bool) -> tuple[int | None, str | None]:
    if (plain := _PLAIN_SCORES.get(text)) is not None:
        return plain
    if text == "":
        return None, (f"missing (a whole number from {ITEM_MIN} to {ITEM_MAX} is required)" if required else None)
    if problem := _foreign_digits(text):
        return None, problem
    if not _WHOLE_NUMBER.fullmatch(text):
        return None, f"'{text}' is not a whole number (use {ITEM_MIN} to {ITEM_MAX})"
    value = int(text)
    if not ITEM_MIN <= value <= ITEM_MAX:
        return None, f"{value} is out of range (use {ITEM_MIN} to {ITEM_MAX})"
    return value, None


def _gad7_answer(text: str) -> tuple[int | None, str | None]:
    """A standard GAD-7 answer: 0-3, or its LOINC answer code (LA18938-3 read as 2, SPEC 2.2)."""
    if text.upper() in GAD7_ANSWER_BY_LOINC:
        return GAD7_ANSWER_BY_LOINC[text.upper()], None
    value, problem = _score(text, required=True)
    if problem and text and not _WHOLE_NUMBER.fullmatch(text) and not _foreign_digits(text):
        problem = (f"'{text}' is neither a whole number from {ITEM_MIN} to {ITEM_MAX} nor a GAD-7 answer code "
                   f"(use {', '.join(GAD7_ANSWER_BY_LOINC)})")
    return value, problem


def _gad7_difficulty(text: str) -> tuple[int | None, str | None]:
    """The difficulty question: its LOINC answer code, or empty (it is optional)."""
    if text == "":
        return None, None
    if text.upper() in GAD7_DIFFICULTY_BY_LOINC:
        return GAD7_DIFFICULTY_BY_LOINC[text.upper()], None
    return None, (f"'{text}' is not a difficulty answer code (use {', '.join(GAD7_DIFFICULTY_BY_LOINC)}, "
                  "or leave it empty)")


def _iso_date(text: str) -> tuple[date | None, str | None]:
    if text == "":
        return None, "missing (a date like 2026-03-31 is required)"
    if problem := _foreign_digits(text):
        return None, problem
    if not _ISO_DATE.fullmatch(text):
        return None, f"'{text}' is not a date in the form YYYY-MM-DD"
    try:
        return date.fromisoformat(text), None
    except ValueError:
        return None, f"'{text}' is an impossible date"


def _dose(text: str) -> tuple[Decimal | None, str | None]:
    """The staff form's rule (treatments.parse_dose): positive, 2 decimal places, at most 10,000 mg."""
    if text == "":
        return None, "missing (a dose in mg such as 56 or 0.5 is required)"
    if problem := _foreign_digits(text):
        return None, problem
    if text.startswith("-"):
        return None, "The dose must be more than 0 mg."  # parse_dose would only say "not a number"
    try:
        return treatments.parse_dose(text), None
    except ValueError as error:
        return None, str(error)


def _treatment_instant(text: str, clinic_tz: str, now: datetime) -> tuple[datetime | None, str | None]:
    """An ISO 8601 date and time as an aware UTC instant. Without a UTC offset it is the clinic's
    wall-clock time, converted by the staff form's rule (treatments.session_instant): a time
    skipped when the clocks go forward is refused; one repeated when they go back is its first
    occurrence (fold=0). Either way the date must lie in the window the form allows."""
    if text == "":
        return None, "missing (a date and time like 2026-03-31T10:30 is required)"
    if problem := _foreign_digits(text):
        return None, problem
    if _ISO_DATE.fullmatch(text):
        return None, f"'{text}' has no time of day; write it like {text}T10:30"
    if not _ISO_DATETIME.fullmatch(text):
        return None, f"'{text}' is not an ISO 8601 date and time like 2026-03-31T10:30 or 2026-03-31T10:30-04:00"
    try:
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None, f"'{text}' is an impossible date or time"
    try:
        if parsed.tzinfo is None:
            return treatments.treatment_instant(parsed, clinic_tz, now), None
        instant = parsed.astimezone(timezone.utc)
        # Only the date window applies: a real instant's clinic wall-clock time always exists.
        treatments.treatment_instant(instant.astimezone(ZoneInfo(clinic_tz)).replace(tzinfo=None), clinic_tz, now)
        return instant, None
    except ValueError as error:
        return None, str(error)


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


class _Patients:
    """Looks each email up once, and says why an email is not a patient's."""

    def __init__(self):
        self._cache: dict[str, User | None] = {}

    def find(self, text: str) -> tuple[User | None, str | None]:
        email = normalise_email(text)
        if not email:
            return None, "missing (the patient's account email is required)"
        if email not in self._cache:
            self._cache[email] = find_by_email(email)
        user = self._cache[email]
        if user is None:
            return None, "no account has this email"
        if not user.is_patient:
            return None, f"this is {_a(user.role)} account, not a patient's"
        return user, None


# --- Check-ins -----------------------------------------------------------------------------

def _checkin_rows(stream: Iterable[str], now: datetime, problems: list[Problem]) -> Iterator[CheckInRow]:
    """The valid rows of a check-in CSV, one at a time; every problem goes to `problems`."""
    table = _read_table(stream, CHECKIN_REQUIRED, CHECKIN_OPTIONAL, problems)
    if table is None:
        return
    patients = _Patients()
    # (patient, date) -> its line, keyed by one int: a hundred thousand rows' worth stays small.
    seen: dict[int, int] = {}
    for line, cells in table.records:
        row = _RowProblems(line)
        patient = row.check("patient_email", patients.find(cells["patient_email"]))
        day = row.check("date", _iso_date(cells["date"]))
        if patient is not None and day is not None:
            today = local_today(patient.timezone, now)
            key = patient.id << 20 | day.toordinal()  # ordinals stay below 2**20 until the year 2870
            if day > today:
                row.add("date", f"{day} is in the future for this patient (today is {today} in {patient.timezone})")
            elif key in seen:
                row.add("date", f"this patient and date are already on line {seen[key]}")
            else:
                seen[key] = line
        answers = {code: row.check(code, _score(cells[code], required=True)) for code in ITEM_CODES}
        side_effects = {
            key: row.check(f"se_{key}", _score(cells.get(f"se_{key}", ""), required=False))
            for key in SIDE_EFFECT_KEYS
        }
        note = cells.get("note", "") or None
        if note is not None and len(note) > NOTE_MAX_LENGTH:
            row.add("note", f"too long ({len(note):,} characters; at most {NOTE_MAX_LENGTH:,})")
        if row.problems:
            problems.extend(row.problems)
        else:
            yield CheckInRow(line, patient, day, answers, side_effects, note)


def parse_checkins(stream: Iterable[str], *, now: datetime | None = None) -> Parsed:
    """Validate a check-in CSV (a text stream opened with newline=""). Writes nothing."""
    parsed = Parsed()
    parsed.rows = list(_checkin_rows(stream, now or utcnow(), parsed.problems))
    return parsed


def write_checkins(rows: Iterable[CheckInRow], *, actor: User | None = None,
                   now: datetime | None = None) -> ImportSummary:
    """Store validated rows as they come; a date that already has a check-in is replaced and
    the earlier version kept as a revision (checkins.save_many). Adds one audit event. The
    caller commits."""
    now = now or utcnow()
    count, patients = 0, set()

    def entries():
        nonlocal count
        for row in rows:
            count += 1
            patients.add(row.patient.id)
            yield row.patient, row.local_date, row.answers, row.side_effects, row.note

    replaced = save_many(entries(), source="import", now=now)
    summary = ImportSummary("check-ins", count, len(patients), replaced)
    record("import.checkins", actor=actor, detail=summary.audit_detail())
    return summary


def import_checkins(stream: TextIO, *, actor: User | None = None, now: datetime | None = None) -> ImportOutcome:
    """Check every row first and write nothing when any is bad; else read the file again and
    write its rows as they are read. Two passes over a seekable stream, so a year of a clinic's
    history is never held in memory as rows. The caller commits when the outcome is ok."""
    now = now or utcnow()
    problems: list[Problem] = []
    rows = sum(1 for _ in _checkin_rows(stream, now, problems))
    if problems:
        return ImportOutcome(problems)
    if not rows:
        return ImportOutcome([Problem(None, None, "the file has a header but no rows")])
    stream.seek(0)
    summary = write_checkins(_checkin_rows(stream, now, problems), actor=actor, now=now)
    # The same file and clock: a second look finds what the first did (the caller rolls back if not).
    return ImportOutcome(problems, None if problems else summary)


# --- Standard GAD-7s (SPEC 2.2) -----------------------------------------------------------

def parse_gad7s(stream: Iterable[str], *, now: datetime | None = None) -> Parsed:
    """Validate a standard GAD-7 CSV (a text stream opened with newline=""). Writes nothing.
    As for check-ins: no future date, and a patient and date at most once in the file. Unlike
    a check-in, a date that already has a standard GAD-7 is refused, not replaced: a standard
    GAD-7 keeps no earlier versions, and a validated score must not be overwritten unseen
    (re-running an import is refused row by row, as for treatment sessions)."""
    now = now or utcnow()
    parsed = Parsed()
    table = _read_table(stream, GAD7_REQUIRED, GAD7_OPTIONAL, parsed.problems)
    if table is None:
        return parsed
    patients = _Patients()
    seen: dict[tuple[int, date], int] = {}
    recorded: dict[int, set[date]] = {}
    for line, cells in table.records:
        row = _RowProblems(line)
        patient = row.check("patient_email", patients.find(cells["patient_email"]))
        day = row.check("date", _iso_date(cells["date"]))
        if patient is not None and day is not None:
            today = local_today(patient.timezone, now)
            if patient.id not in recorded:
                recorded[patient.id] = set(db.session.scalars(
                    select(StandardGad7.local_date).where(StandardGad7.patient_id == patient.id)))
            if day > today:
                row.add("date", f"{day} is in the future for this patient (today is {today} in {patient.timezone})")
            elif day in recorded[patient.id]:
                row.add("date", "this patient already has a standard GAD-7 on this date")
            elif (patient.id, day) in seen:
                row.add("date", f"this patient and date are already on line {seen[patient.id, day]}")
            else:
                seen[patient.id, day] = line
        answers = {code: row.check(code, _gad7_answer(cells[code])) for code in ITEM_CODES}
        difficulty = row.check("difficulty", _gad7_difficulty(cells.get("difficulty", "")))
        if row.problems:
            parsed.problems.extend(row.problems)
        else:
            parsed.rows.append(Gad7ImportRow(line, patient, day, answers, difficulty))
    return parsed


def write_gad7s(rows: list[Gad7ImportRow], *, actor: User | None = None,
                now: datetime | None = None) -> ImportSummary:
    """Store validated rows through standard_gad7.save, as the web form does (parse_gad7s
    refused dates that already have one). Adds one audit event. The caller commits."""
    now = now or utcnow()
    patient_ids = {row.patient.id for row in rows}
    for row in rows:
        standard_gad7.save(row.patient, row.local_date, row.answers, row.difficulty, source="import", now=now)
    summary = ImportSummary("standard GAD-7s", len(rows), len(patient_ids), 0)
    record("import.standard_gad7s", actor=actor, detail=summary.audit_detail())
    return summary


def import_gad7s(stream: Iterable[str], *, actor: User | None = None, now: datetime | None = None) -> ImportOutcome:
    return _import(parse_gad7s, write_gad7s, stream, actor, now)


# --- Treatment sessions --------------------------------------------------------------------

def parse_treatments(stream: Iterable[str], *, now: datetime | None = None) -> Parsed:
    """Validate a treatment-session CSV (a text stream opened with newline=""). Writes nothing.

    Planned (future) sessions are accepted, up to a year ahead."""
    now = now or utcnow()
    parsed = Parsed()
    table = _read_table(stream, TREATMENT_REQUIRED, TREATMENT_OPTIONAL, parsed.problems)
    if table is None:
        return parsed
    clinic_tz = get_clinic().timezone
    patients = _Patients()
    seen: dict[tuple[int, datetime], int] = {}
    recorded: dict[int, set[datetime]] = {}
    for line, cells in table.records:
        row = _RowProblems(line)
        patient = row.check("patient_email", patients.find(cells["patient_email"]))
        instant = row.check("datetime", _treatment_instant(cells["datetime"], clinic_tz, now))
        route = cells["route"].lower()
        if route not in ROUTE_KEYS:
            message = "missing" if not route else f"'{cells['route']}' is not a route"
            row.add("route", f"{message} (use one of {', '.join(ROUTE_KEYS)})")
        dose = row.check("dose_mg", _dose(cells["dose_mg"]))
        if patient is not None and instant is not None:
            if patient.id not in recorded:
                recorded[patient.id] = _recorded_instants(patient)
            key = (patient.id, instant)
            if instant in recorded[patient.id]:
                # Same patient, same instant: re-running an import must not duplicate sessions.
                row.add("datetime", "a session for this patient at this time is already recorded")
            elif key in seen:
                row.add("datetime", f"this patient and time are already on line {seen[key]}")
            else:
                seen[key] = line
        notes = cells.get("notes", "") or None
        if notes is not None and len(notes) > treatments.NOTES_MAX_LENGTH:
            row.add("notes", f"too long ({len(notes):,} characters; at most {treatments.NOTES_MAX_LENGTH:,})")
        if row.problems:
            parsed.problems.extend(row.problems)
        else:
            parsed.rows.append(TreatmentImportRow(line, patient, instant, route, dose, notes))
    return parsed


def _recorded_instants(patient: User) -> set[datetime]:
    return set(db.session.scalars(select(Treatment.administered_at).where(Treatment.patient_id == patient.id)))


def write_treatments(rows: list[TreatmentImportRow], *, actor: User | None = None,
                   now: datetime | None = None) -> ImportSummary:
    """Store validated rows as treatment sessions, each through the web form's service
    (treatments.record_treatment, audited per session), plus one audit event for the file.
    The caller commits."""
    now = now or utcnow()
    for row in rows:
        values = treatments.TreatmentValues(administered_at=row.administered_at, route=row.route,
                                            dose_mg=row.dose_mg, notes=row.notes)
        treatments.record_treatment(row.patient, values, recorded_by=actor, source="import", now=now)
    summary = ImportSummary("sessions", len(rows), len({row.patient.id for row in rows}))
    record("import.treatments", actor=actor, detail=summary.audit_detail())
    return summary


def import_treatments(stream: Iterable[str], *, actor: User | None = None,
                    now: datetime | None = None) -> ImportOutcome:
    return _import(parse_treatments, write_treatments, stream, actor, now)


def _import(parse, write, stream, actor, now) -> ImportOutcome:
    """Parse; with any problem write nothing, else write every row. The caller commits when
    the outcome is ok, and rolls back otherwise (parsing may have added the clinic settings
    row: a refused file keeps nothing)."""
    parsed = parse(stream, now=now)
    if not parsed.ok:
        return ImportOutcome(parsed.problems)
    if not parsed.rows:
        return ImportOutcome([Problem(None, None, "the file has a header but no rows")])
    return ImportOutcome([], write(parsed.rows, actor=actor, now=now))
