"""Saving daily check-ins (SPEC 2.1, 4): one per patient per local date; a resubmission
replaces it and keeps the earlier version as a revision."""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .instruments import ITEM_CODES, SIDE_EFFECT_KEYS, total_of
from .models import CheckIn, CheckInRevision, User
from .timeutil import local_today, utcnow

# Today and the previous three local dates may be entered from the phone.
BACKFILL_DAYS = 3


def allowed_dates(patient: User, now: datetime | None = None) -> list[date]:
    today = local_today(patient.timezone, now)
    return [today - timedelta(days=n) for n in range(BACKFILL_DAYS + 1)]


@dataclass
class SaveResult:
    checkin: CheckIn
    outcome: str  # "created", "replaced" or "duplicate" (the same form submitted twice)


def _copy_answers(source, target) -> None:
    for name in [*ITEM_CODES, "total", *(f"se_{k}" for k in SIDE_EFFECT_KEYS), "note",
                 "submitted_at", "late_entry", "source", "local_date"]:
        setattr(target, name, getattr(source, name))


def save_checkin(patient: User, local_date: date, answers: dict[str, int],
                 side_effects: dict[str, int | None], note: str | None, *,
                 submission_key: str | None = None, source: str = "web",
                 now: datetime | None = None) -> SaveResult:
    """Store a check-in for a date the caller has validated. Caller commits."""
    now = now or utcnow()
    total = total_of(answers)
    existing = db.session.scalar(
        select(CheckIn).where(CheckIn.patient_id == patient.id, CheckIn.local_date == local_date)
    )
    if existing is not None and submission_key and existing.submission_key == submission_key:
        return SaveResult(existing, "duplicate")
    values = dict(
        local_date=local_date, total=total, note=(note or None), submitted_at=now,
        late_entry=local_date < local_today(patient.timezone, now), source=source,
        submission_key=submission_key, **answers,
        **{f"se_{k}": side_effects.get(k) for k in SIDE_EFFECT_KEYS},
    )
    if existing is None:
        checkin = CheckIn(patient_id=patient.id, **values)
        try:
            # Added inside the savepoint: begin_nested() flushes pending objects before it starts.
            with db.session.begin_nested():
                db.session.add(checkin)
        except IntegrityError:
            # A concurrent request stored this date first: replace that one instead.
            existing = db.session.scalar(
                select(CheckIn).where(CheckIn.patient_id == patient.id, CheckIn.local_date == local_date)
            )
            if existing.submission_key and existing.submission_key == submission_key:
                return SaveResult(existing, "duplicate")
        else:
            return SaveResult(checkin, "created")
    revision = CheckInRevision(replaced_at=now)
    _copy_answers(existing, revision)
    existing.revisions.append(revision)
    for name, value in values.items():
        setattr(existing, name, value)
    return SaveResult(existing, "replaced")
