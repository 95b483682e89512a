"""The standard GAD-7 (SPEC 2.2): when it is due, its score, and saving it.

Asked at enrolment (the baseline, at the first sign-in) and whenever GAD7_INTERVAL_DAYS have
passed since the last one; shown after that day's daily check-in, never instead of it. A
patient may put it off for today ("later"); it is due again the next day. Kept apart from the
daily check-ins: the durability analysis never reads it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select

from .extensions import db
from .sql import among
from .instruments import GAD7_INTERVAL_DAYS, GAD7_MCID, ITEM_CODES, Band, gad7_severity, total_of
from .models import PatientStatus, StandardGad7, User
from .timeutil import utcnow
from .wording import plural


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


def describe_change(change: Change) -> str:
    """The change in words, with the MCID marked: "−5 points since the first (14 → 9): at least
    the MCID of 4". A minus sign (U+2212), not a hyphen, as in print."""
    points = change.points
    sign = "−" if points < 0 else "+" if points > 0 else ""
    amount = f"{sign}{plural(abs(points), 'point')}" if points else "No change"
    verdict = (f"at least the MCID of {GAD7_MCID}" if change.meaningful
               else f"less than the MCID of {GAD7_MCID}")
    return f"{amount} since the first ({change.first} → {change.latest}): {verdict}"


@dataclass(frozen=True)
class Summary:
    """A patient's first (baseline) and latest standard GAD-7: what the provider's pages show."""
    first_date: date
    first: int
    latest_date: date
    latest: int
    count: int

    @property
    def change(self) -> Change | None:
        """None while there is only the baseline."""
        return Change(self.first, self.latest) if self.count >= 2 else None

    @property
    def band(self) -> Band:
        return severity(self.latest)

    def change_text(self) -> str | None:
        return describe_change(self.change) if self.change else None


def scores_summary(rows: list[tuple[date, int]]) -> Summary | None:
    """The summary of (local date, total) pairs in date order; None for none."""
    if not rows:
        return None
    return Summary(rows[0][0], rows[0][1], rows[-1][0], rows[-1][1], len(rows))


def severity(total: int) -> Band:
    return gad7_severity(total)


# --- Storage.

class NotAllowed(ValueError):
    """A standard GAD-7 for a date it cannot be saved on; the message names the problem."""


def owed(patient: User, last_date: date | None, today: date) -> bool:
    """Whether the patient may answer one today: due by the rule, a "later" today aside (a
    patient who put it off may still come back to it the same day)."""
    return is_due(last_date, today, active=patient.status == PatientStatus.ACTIVE.value)


def offered(patient: User, last_date: date | None, today: date) -> bool:
    """Whether to lead the patient to it today: owed, and not put off today."""
    return is_due(last_date, today, deferred_on=patient.gad7_deferred_on,
                  active=patient.status == PatientStatus.ACTIVE.value)


def defer(patient: User, today: date) -> None:
    """"Later": not offered again on the patient's local `today`; due again the next day. The
    caller commits."""
    patient.gad7_deferred_on = today


def save(patient: User, local_date: date, answers: dict[str, int], difficulty: int | None, *,
         source: str = "web", now: datetime | None = None) -> StandardGad7:
    """Store one standard GAD-7 in the caller's transaction (the caller commits). One per local date:
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


def last_date(patient_id: int) -> date | None:
    """The local date of the patient's latest standard GAD-7, or None before the baseline."""
    return db.session.scalar(select(func.max(StandardGad7.local_date))
                             .where(StandardGad7.patient_id == patient_id))


def on(patient_id: int, local_date: date) -> StandardGad7 | None:
    return db.session.scalar(select(StandardGad7).where(StandardGad7.patient_id == patient_id,
                                                        StandardGad7.local_date == local_date))


def summaries(patient_ids: list[int]) -> dict[int, Summary]:
    """Each listed patient's first and latest standard GAD-7 with their count, in ONE query
    whatever the number of patients or of answers (window functions; SQLite 3.25+ and
    PostgreSQL). Patients without one are left out. Run even for no ids, so that a page's
    query count does not depend on its rows."""
    t = StandardGad7.__table__
    earliest = func.row_number().over(partition_by=t.c.patient_id, order_by=t.c.local_date.asc())
    newest = func.row_number().over(partition_by=t.c.patient_id, order_by=t.c.local_date.desc())
    ranked = (select(t.c.patient_id, t.c.local_date, t.c.total, earliest.label("earliest"),
                     newest.label("newest"), func.count().over(partition_by=t.c.patient_id).label("n"))
              .where(among(t.c.patient_id, patient_ids)).subquery())
    rows = db.session.connection().execute(
        select(ranked).where(or_(ranked.c.earliest == 1, ranked.c.newest == 1))
        .order_by(ranked.c.patient_id, ranked.c.local_date)).all()
    found: dict[int, list] = {}
    for patient_id, local_date, total, _, _, n in rows:
        found.setdefault(patient_id, []).append((local_date, total, n))
    return {patient_id: Summary(pair[0][0], pair[0][1], pair[-1][0], pair[-1][1], pair[0][2])
            for patient_id, pair in found.items()}
