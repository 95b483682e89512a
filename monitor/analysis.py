"""The bridge between the database and the pure durability analysis (monitor.durability).

Loads check-in totals and treatment sessions for one or many patients in a fixed number of
queries, dates sessions in each patient's own time zone, and runs SPEC 4 with the clinic's
settings. No web code here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from . import durability
from .clinic import get_clinic
from .extensions import db
from .sql import among
from .models import CheckIn, Clinic, PatientStatus, PatientStatusChange, Treatment, User
from .timeutil import local_todays, utcnow


def settings_for(clinic: Clinic) -> durability.Settings:
    return durability.Settings(
        mcid=float(clinic.mcid),
        wane_fraction=float(clinic.wane_fraction),
        confirm_days=clinic.confirm_days,
        baseline_window=(clinic.baseline_window_start, clinic.baseline_window_end),
        nadir_window=(clinic.nadir_window_start, clinic.nadir_window_end),
    )


class TreatmentTime(NamedTuple):
    """What the analysis reads of a session: when it was. Lighter than a Treatment where a
    whole panel's or a year's worth of them are read and nothing else about them is shown."""

    administered_at: datetime


@dataclass
class PatientData:
    """What the analysis and the charts need of one patient, already in local dates."""

    patient: User
    today: date
    totals: dict[date, int] = field(default_factory=dict)
    checkins: list[CheckIn] = field(default_factory=list)
    # Past and planned sessions, in order; the first on each local date is the one analysed.
    treatments: list[Treatment] = field(default_factory=list)
    analysis: durability.PatientAnalysis | None = None

    def __post_init__(self):
        # The zone `today` was taken in, read once: a treatment's date is asked for many times
        # per patient, and `patient` may be Flask-Login's current_user proxy.
        self._zone = ZoneInfo(self.patient.timezone)

    def treatment_date(self, treatment: Treatment) -> date:
        return treatment.administered_at.astimezone(self._zone).date()

    def first_treatment_on(self) -> dict[date, Treatment]:
        firsts: dict[date, Treatment] = {}
        for t in self.treatments:
            firsts.setdefault(self.treatment_date(t), t)
        return firsts


def load(patients: list[User], *, since: date | None = None, now: datetime | None = None,
         settings: durability.Settings | None = None, with_checkins: bool = False,
         analyse: bool = True, treatments_since: datetime | None = None,
         times_only: bool = False) -> dict[int, PatientData]:
    """Check-ins and sessions of these patients in two queries, analysed unless `analyse` is
    False (the caller then takes the stored analysis, monitor.stored_analysis).

    `since` limits the check-ins read, `treatments_since` the sessions (the analysis of older
    sessions then lacks their data, so pass them only with analyse=False or when those are not
    shown). `with_checkins` keeps the full rows for tables; `times_only` reads sessions as
    TreatmentTime, not Treatment (the stored analysis's refresh, on every check-in)."""
    now = now or utcnow()
    settings = settings or settings_for(get_clinic())
    todays = local_todays((p.timezone for p in patients), now)
    data = {p.id: PatientData(p, todays[p.timezone]) for p in patients}
    if not data:
        return data
    ids = list(data)
    columns = (CheckIn,) if with_checkins else (CheckIn.patient_id, CheckIn.local_date, CheckIn.total)
    query = select(*columns).where(among(CheckIn.patient_id, ids)).order_by(CheckIn.patient_id, CheckIn.local_date)
    if since is not None:
        query = query.where(CheckIn.local_date >= since)
    if with_checkins:
        for checkin in db.session.scalars(query):
            item = data[checkin.patient_id]
            item.checkins.append(checkin)
            item.totals[checkin.local_date] = checkin.total
    else:
        # Plain rows on the session's connection: no ORM loading step for a year of them.
        for patient_id, local_date, total in db.session.connection().execute(query).all():
            data[patient_id].totals[local_date] = total
    columns = (Treatment.patient_id, Treatment.administered_at) if times_only else (Treatment,)
    treatments = select(*columns).where(among(Treatment.patient_id, ids)).order_by(Treatment.administered_at, Treatment.id)
    if treatments_since is not None:
        treatments = treatments.where(Treatment.administered_at >= treatments_since)
    if times_only:
        for patient_id, at in db.session.connection().execute(treatments).all():
            data[patient_id].treatments.append(TreatmentTime(at))
    else:
        for treatment in db.session.scalars(treatments):
            data[treatment.patient_id].treatments.append(treatment)
    if analyse:
        for item in data.values():
            dates = [item.treatment_date(t) for t in item.treatments]
            item.analysis = durability.analyse_patient(item.totals.items(), dates, item.today, settings)
    return data


def latest_before(column, patient_column, before, patient_ids, *, inclusive: bool = False) -> dict[int, object]:
    """Each patient's latest value of a column below `before` (at or below it when `inclusive`;
    a check-in's date, a session's time): a correlated MAX per patient, which both databases
    answer from the (patient, column) index in a few steps however long the history (a GROUP BY
    would read every row of it)."""
    bound = column <= before if inclusive else column < before
    latest = select(func.max(column)).where(patient_column == User.id, bound).scalar_subquery()
    return {patient_id: value for patient_id, value in
            db.session.connection().execute(select(User.id, latest).where(among(User.id, patient_ids))).all()
            if value is not None}


def returns_to_active(patient_ids: list[int] | None = None) -> dict[int, datetime]:
    """When each patient last returned to "active" (one query). Missed days count only from
    then (schedule.counting_from), so days paused between courses are never "missed"."""
    query = (select(PatientStatusChange.patient_id, func.max(PatientStatusChange.changed_at))
             .where(PatientStatusChange.status == PatientStatus.ACTIVE.value)
             .group_by(PatientStatusChange.patient_id))
    if patient_ids is not None:
        query = query.where(among(PatientStatusChange.patient_id, patient_ids))
    return dict(db.session.execute(query).all())


def load_one(patient: User, **kwargs) -> PatientData:
    return load([patient], **kwargs)[patient.id]
