"""The research export (issue 12, point 5): one clinic-wide CSV in which no patient can be
named, for an admin to hand to a researcher.

- Each patient is a study id: random (secrets), stored in study_ids on the patient's first
  research export and reused by every later one, so that two exports of this install can be
  joined, while nothing about the patient (id, email, enrolment order) can be worked out from
  it. Rows are ordered by study id, which is random too.
- No calendar dates: every date is a `day` counted from that patient's first treatment
  session (day 0; rows before it are negative). Dates are the patient's local dates, as in the
  durability analysis. A patient with no treatment session given yet has no day 0 and is left
  out, and so are planned (future) sessions.
- No free text (check-in notes, session notes), no time zone, no time of day, no name, email
  or id; blood pressure and the clinician's dissociation score are left out too.

Clinical rows only; what the columns mean is in README's "Research export" section."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .exports import plain_number, write_csv
from .extensions import db
from .sql import among
from .instruments import ITEM_CODES, SIDE_EFFECT_KEYS
from .models import CheckIn, Role, StandardGad7, StudyId, Treatment, User
from .timeutil import utcnow

ROW_TYPES = ("treatment", "standard_gad7", "checkin")
COLUMNS = ["study_id", "row_type", "day", *ITEM_CODES, "total", *(f"se_{k}" for k in SIDE_EFFECT_KEYS),
           "late_entry", "difficulty", "route", "dose_mg"]
STUDY_ID_BYTES = 6  # 48 random bits: a clash in a clinic's few thousand patients is about 1 in 10^7
_NEW_ID_ATTEMPTS = 5


def new_study_id() -> str:
    return "S" + secrets.token_hex(STUDY_ID_BYTES).upper()


def study_ids_for(patient_ids: list[int]) -> dict[int, str]:
    """Each patient's study id, made now for those who have none yet. Caller commits."""
    found = dict(db.session.execute(
        select(StudyId.patient_id, StudyId.study_id).where(among(StudyId.patient_id, patient_ids))).all())
    for patient_id in patient_ids:
        if patient_id in found:
            continue
        for _ in range(_NEW_ID_ATTEMPTS):
            study_id = new_study_id()
            try:
                with db.session.begin_nested():  # a savepoint: a clash leaves the transaction usable
                    db.session.add(StudyId(patient_id=patient_id, study_id=study_id, created_at=utcnow()))
                found[patient_id] = study_id
                break
            except IntegrityError:
                # Another export gave this patient an id first (or, rarely, the id was taken): reuse it.
                earlier = db.session.scalar(select(StudyId.study_id).where(StudyId.patient_id == patient_id))
                if earlier is not None:
                    found[patient_id] = earlier
                    break
        else:
            raise RuntimeError("could not make a unique study id")
    return found


@dataclass
class ResearchExport:
    text: str
    patient_ids: list[int]   # the patients in the file (for the audit log)
    left_out: int            # patients with no treatment session given yet


def _local_date(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def _bool(value: bool) -> str:
    return "true" if value else "false"


def research_export(now: datetime | None = None) -> ResearchExport:
    """The clinic-wide research CSV. Makes missing study ids: caller commits, with the audit."""
    now = now or utcnow()
    zones = {pid: ZoneInfo(tz) for pid, tz in db.session.execute(
        select(User.id, User.timezone).where(User.role == Role.PATIENT.value)).all()}
    firsts = dict(db.session.execute(
        select(Treatment.patient_id, func.min(Treatment.administered_at))
        .where(Treatment.administered_at <= now)
        .group_by(Treatment.patient_id)).all())
    # The aggregate comes back naive on SQLite: it is UTC, as every stored instant.
    anchors = {pid: _local_date(at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC")), zones[pid])
               for pid, at in firsts.items()}
    included = sorted(anchors)
    ids = study_ids_for(included)
    blank = {column: "" for column in COLUMNS}
    rows: list[tuple[str, int, int, dict]] = []

    def add(patient_id: int, row_type: str, day: date, values: dict) -> None:
        offset = (day - anchors[patient_id]).days
        rows.append((ids[patient_id], offset, ROW_TYPES.index(row_type),
                     {**blank, **values, "study_id": ids[patient_id], "row_type": row_type, "day": str(offset)}))

    if included:
        for t in db.session.execute(
                select(Treatment.patient_id, Treatment.administered_at, Treatment.route, Treatment.dose_mg)
                .where(among(Treatment.patient_id, included), Treatment.administered_at <= now)).all():
            add(t.patient_id, "treatment", _local_date(t.administered_at, zones[t.patient_id]),
                {"route": t.route, "dose_mg": plain_number(t.dose_mg)})
        for g in db.session.execute(
                select(StandardGad7.patient_id, StandardGad7.local_date, StandardGad7.total, StandardGad7.difficulty,
                       *(getattr(StandardGad7, c) for c in ITEM_CODES))
                .where(among(StandardGad7.patient_id, included))).all():
            add(g.patient_id, "standard_gad7", g.local_date,
                {**{c: str(getattr(g, c)) for c in ITEM_CODES}, "total": str(g.total),
                 "difficulty": "" if g.difficulty is None else str(g.difficulty)})
        se = [f"se_{k}" for k in SIDE_EFFECT_KEYS]
        for c in db.session.execute(
                select(CheckIn.patient_id, CheckIn.local_date, CheckIn.total, CheckIn.late_entry,
                       *(getattr(CheckIn, code) for code in [*ITEM_CODES, *se]))
                .where(among(CheckIn.patient_id, included))).all():
            add(c.patient_id, "checkin", c.local_date,
                {**{code: str(getattr(c, code)) for code in ITEM_CODES}, "total": str(c.total),
                 **{code: "" if getattr(c, code) is None else str(getattr(c, code)) for code in se},
                 "late_entry": _bool(c.late_entry)})
    rows.sort(key=lambda r: r[:3])
    text = write_csv(COLUMNS, ([r[3][column] for column in COLUMNS] for r in rows))
    return ResearchExport(text, included, len(zones) - len(included))


def research_filename(today: date) -> str:
    return f"monitor-research-{today.isoformat()}.csv"
