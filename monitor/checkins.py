"""Saving daily check-ins (SPEC 2.1, 4): one per patient per local date; a resubmission
replaces it and keeps the earlier version as a revision."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from itertools import islice

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import stored_analysis
from .extensions import db
from .instruments import ITEM_CODES, SIDE_EFFECT_KEYS, total_of
from .models import CheckIn, CheckInRevision, User
from .sql import insert_rows, reread_if_loaded
from .timeutil import local_today, utcnow

# Today and the previous three local dates may be entered from the phone.
BACKFILL_DAYS = 3


def allowed_dates(patient: User, now: datetime | None = None) -> list[date]:
    today = local_today(patient.timezone, now)
    return [today - timedelta(days=n) for n in range(BACKFILL_DAYS + 1)]


@dataclass
class SaveResult:
    checkin_id: int
    # "created", "replaced", "duplicate" (the same form submitted twice: nothing written) or
    # "conflict" (its key is stored with other answers or for another date: nothing written).
    outcome: str

    @property
    def checkin(self) -> CheckIn:
        """The stored check-in, loaded when asked for (the web form needs only the outcome)."""
        return db.session.get(CheckIn, self.checkin_id)


# What a revision keeps of the check-in it replaces.
KEPT = [*ITEM_CODES, "total", *(f"se_{k}" for k in SIDE_EFFECT_KEYS), "note", "submitted_at", "late_entry", "source",
        "local_date"]


def _copy_answers(source, target) -> None:
    for name in KEPT:
        setattr(target, name, getattr(source, name))


def _values(patient: User, local_date: date, answers: dict[str, int], side_effects: dict[str, int | None],
            note: str | None, *, now: datetime, source: str, submission_key: str | None) -> dict:
    """The columns of a check-in as the patient sent it at `now`."""
    return dict(
        local_date=local_date, total=total_of(answers), note=(note or None), submitted_at=now,
        late_entry=local_date < local_today(patient.timezone, now), source=source,
        submission_key=submission_key, **answers,
        **{f"se_{k}": side_effects.get(k) for k in SIDE_EFFECT_KEYS},
    )


def _replace(existing: CheckIn, values: dict, now: datetime) -> CheckInRevision:
    """Store new values over a loaded check-in, keeping the earlier ones as a revision."""
    # Added by id, not appended to existing.revisions: that would load every earlier revision.
    revision = CheckInRevision(checkin_id=existing.id, replaced_at=now, submission_key=existing.submission_key)
    _copy_answers(existing, revision)
    db.session.add(revision)
    for name, value in values.items():
        setattr(existing, name, value)
    return revision


# The phone's save, in Core statements built once (issue 9: no ORM objects on the hot path):
# one read, then an insert, or a revision and an update.
_checkins, _revisions = CheckIn.__table__, CheckInRevision.__table__
_FIND = select(_checkins).where(_checkins.c.patient_id == bindparam("p_id"), _checkins.c.local_date == bindparam("on"))
# The same read when a key came with the form: the date's check-in and any carrying the key.
_FIND_WITH_KEY = select(_checkins).where(
    _checkins.c.patient_id == bindparam("p_id"),
    or_(_checkins.c.local_date == bindparam("on"), _checkins.c.submission_key == bindparam("key")))
_KEEP_REVISION = insert(_revisions)
_FIND_REVISION_WITH_KEY = select(_revisions).where(_revisions.c.checkin_id == bindparam("c_id"),
                                                   _revisions.c.submission_key == bindparam("key")).limit(1)
_UPDATE = update(_checkins).where(_checkins.c.id == bindparam("c_id"))


@cache
def _insert_unless_stored_in(dialect: str):
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert_(_checkins).on_conflict_do_nothing(index_elements=["patient_id", "local_date"])
            .returning(_checkins.c.id))


def _insert_unless_stored(values: dict) -> int | None:
    """INSERT ... ON CONFLICT (patient_id, local_date) DO NOTHING: the new check-in's id, or None
    when a concurrent request stored this date first. One statement, where a savepoint around
    an insert that may fail costs three."""
    statement = _insert_unless_stored_in(db.session.get_bind().dialect.name)
    return db.session.execute(statement, values).scalar()


# What must match for a key seen before to count as the same check-in sent again.
_ANSWERED = [*ITEM_CODES, *(f"se_{k}" for k in SIDE_EFFECT_KEYS), "note", "local_date"]


def _repeat(stored, values: dict) -> str:
    """"duplicate" when a stored check-in carrying the key holds these very answers for this
    date; "conflict" when it holds others. A key reused for other answers is a client's bug or
    tampering, never a person's intent: taking it as a repeat would drop the new answers
    unseen, and taking it as new would break the guard, so neither is written."""
    same = all(getattr(stored, name) == values[name] for name in _ANSWERED)
    return "duplicate" if same else "conflict"


def save_checkin(patient: User, local_date: date, answers: dict[str, int],
                 side_effects: dict[str, int | None], note: str | None, *,
                 submission_key: str | None = None, source: str = "web",
                 now: datetime | None = None) -> SaveResult:
    """Store a check-in for a date the caller has validated. Caller commits.

    With a submission key already stored for this patient nothing is written: "duplicate"
    when it came with the same answers for the same date, else "conflict" (_repeat)."""
    now = now or utcnow()
    values = _values(patient, local_date, answers, side_effects, note, now=now, source=source,
                     submission_key=submission_key)
    if submission_key:
        rows = db.session.execute(_FIND_WITH_KEY, {"p_id": patient.id, "on": local_date,
                                                   "key": submission_key}).all()
        keyed = next((row for row in rows if row.submission_key == submission_key), None)
        if keyed is not None:
            return SaveResult(keyed.id, _repeat(keyed, values))
        existing = next((row for row in rows if row.local_date == local_date), None)
    else:
        existing = db.session.execute(_FIND, {"p_id": patient.id, "on": local_date}).first()
    # Read and worked out before the first write: on SQLite that takes the one write lock,
    # which every other check-in then waits for until this commits.
    plan = stored_analysis.plan_checkin(patient, local_date, values["total"], now=now)
    if existing is None:
        new_id = _insert_unless_stored({"patient_id": patient.id, **values})
        if new_id is not None:
            stored_analysis.apply_checkin(patient, plan, now=now)
            return SaveResult(new_id, "created")
        # A concurrent request stored this date first: replace that one instead.
        existing = db.session.execute(_FIND, {"p_id": patient.id, "on": local_date}).first()
        if submission_key and existing.submission_key == submission_key:
            return SaveResult(existing.id, _repeat(existing, values))
    if submission_key:
        # Sent, stored, then replaced by a newer version, and now sent again (a phone whose
        # answer was lost resends its queue): a repeat of that earlier version, never a
        # replacement of the newer one. Only a replacement pays for this read.
        earlier = db.session.execute(_FIND_REVISION_WITH_KEY, {"c_id": existing.id, "key": submission_key}).first()
        if earlier is not None:
            return SaveResult(existing.id, _repeat(earlier, values))
    db.session.execute(_KEEP_REVISION, {"checkin_id": existing.id, "replaced_at": now,
                                        "submission_key": existing.submission_key,
                                        **{name: getattr(existing, name) for name in KEPT}})
    db.session.execute(_UPDATE, {"c_id": existing.id, **values})
    reread_if_loaded(CheckIn, existing.id)
    stored_analysis.apply_checkin(patient, plan, now=now)
    return SaveResult(existing.id, "replaced")


# Rows per round trip when saving many: a few statements per thousand check-ins.
BATCH = 2000


def save_many(checkins: Iterable[tuple[User, date, dict[str, int], dict[str, int | None], str | None]], *,
              source: str, now: datetime | None = None) -> int:
    """Store many check-ins of validated, distinct (patient, date) pairs, as save_checkin would
    one by one (same values; a date that has a check-in is replaced and the earlier version kept),
    in a few statements per batch; how many replaced an earlier one. Caller commits.

    For the CSV import: a year of a clinic's history is a hundred thousand rows. The rows of a
    batch leave the session once written, so memory stays flat however long the file."""
    now = now or utcnow()
    replaced = 0
    patients: dict[int, User] = {}
    rows = iter(checkins)
    while batch := list(islice(rows, BATCH)):
        pairs = {(patient.id, local_date) for patient, local_date, *_ in batch}
        # A range per batch rather than a list of pairs: the (patient, date) index answers it
        # at once, where a long list of pairs is slow to plan. Extra rows are left out below.
        dates = [local_date for _, local_date in pairs]
        loaded = db.session.scalars(
            select(CheckIn).where(CheckIn.patient_id.in_({patient_id for patient_id, _ in pairs}),
                                  CheckIn.local_date.between(min(dates), max(dates)))).all()
        existing = {(c.patient_id, c.local_date): c for c in loaded if (c.patient_id, c.local_date) in pairs}
        new, revisions = [], []
        for patient, local_date, answers, side_effects, note in batch:
            patients[patient.id] = patient
            values = _values(patient, local_date, answers, side_effects, note, now=now, source=source,
                             submission_key=None)
            earlier = existing.get((patient.id, local_date))
            if earlier is None:
                new.append({"patient_id": patient.id, **values})
            else:
                revisions.append(_replace(earlier, values, now))
                replaced += 1
        # COPY on PostgreSQL, an executemany in C on SQLite: not the ORM's INSERT ... RETURNING,
        # which sent one multi-row statement per 1,000 rows whose 20,000 placeholders psycopg
        # parsed in Python (issue 9's import profile).
        insert_rows(CheckIn.__table__, new)
        db.session.flush()
        for row in [*loaded, *revisions]:
            db.session.expunge(row)
    stored_analysis.refresh(list(patients.values()), now=now)
    return replaced
