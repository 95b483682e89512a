"""The standard GAD-7 (SPEC 2.2): when it is due, its score, and saving it.

Asked at enrolment (the baseline, at the first sign-in) and whenever GAD7_INTERVAL_DAYS have
passed since the last one; shown after that day's daily check-in, never instead of it. A
patient may put it off for today ("later"); it is due again the next day. Kept apart from the
daily check-ins: the durability analysis never reads it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from .extensions import db
from .instruments import GAD7_INTERVAL_DAYS, GAD7_MCID, ITEM_CODES, Band, gad7_severity, total_of
from .models import StandardGad7, User
from .timeutil import utcnow


# --- Pure rules.

def is_due(last_date: date | None, today: date, *, deferred_on: date | None = None, active: bool = True) -> bool:
    """Whether the standard GAD-7 is offered today: never yet (the baseline), or at least
    GAD7_INTERVAL_DAYS since the last one's local date; not when put off today, nor for a
    paused or discharged patient, who is not asked anything."""
    if not active or deferred_on == today:
        return False
    return last_date is None or (today - last_date).days >= GAD7_INTERVAL_DAYS


def next_due(last_date: date | None) -> date | None:
    """The first local date on which the next one is due after `last_date` (None: due now)."""
    return None if last_date is None else last_date + timedelta(days=GAD7_INTERVAL_DAYS)


@dataclass(frozen=True)
class Change:
    """A standard score against the patient's first (baseline) one."""
    first: int
    latest: int

    @property
    def points(self) -> int:
        return self.latest - self.first

    @property
    def meaningful(self) -> bool:
        """At least the MCID (4 points) either way."""
        return abs(self.points) >= GAD7_MCID

    @property
    def improved(self) -> bool:
        """Lower is better: at least the MCID below the baseline."""
        return self.points <= -GAD7_MCID


def change_from_baseline(totals: list[int]) -> Change | None:
    """The latest total against the first, from totals in date order; None with fewer than two."""
    return Change(totals[0], totals[-1]) if len(totals) >= 2 else None


def severity(total: int) -> Band:
    return gad7_severity(total)


# --- Storage.

class NotAllowed(ValueError):
    """A standard GAD-7 for a date it cannot be saved on; the message names the problem."""


def save(patient: User, local_date: date, answers: dict[str, int], difficulty: int | None, *,
         source: str = "web", now: datetime | None = None) -> StandardGad7:
    """Store one standard GAD-7 in the caller's transaction (it commits). One per local date:
    a second on the same date replaces the first's answers. Raises ValueError (from total_of)
    on a missing or out-of-range answer, and on a difficulty outside 0-3."""
    total = total_of(answers)
    if difficulty is not None and (isinstance(difficulty, bool) or difficulty not in range(4)):
        raise ValueError("difficulty must be a whole number from 0 to 3, or empty")
    now = now or utcnow()
    row = db.session.scalar(select(StandardGad7).where(StandardGad7.patient_id == patient.id,
                                                       StandardGad7.local_date == local_date))
    if row is None:
        row = StandardGad7(patient_id=patient.id, local_date=local_date)
        db.session.add(row)
    for code in ITEM_CODES:
        setattr(row, code, answers[code])
    row.total, row.difficulty, row.submitted_at, row.source = total, difficulty, now, source
    return row


def history(patient_id: int) -> list[StandardGad7]:
    """The patient's standard GAD-7s, oldest first."""
    return list(db.session.scalars(select(StandardGad7).where(StandardGad7.patient_id == patient_id)
                                   .order_by(StandardGad7.local_date)))
