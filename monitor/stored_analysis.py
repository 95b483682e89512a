"""The durability analysis kept in the database, so pages read it instead of recomputing every
patient's history on every view (SPEC 4; issue 9).

Writes that change a patient's analysis refresh it in their own transaction: a check-in saved,
replaced or imported (checkins.py), a treatment recorded or edited (treatments.py). What else
it depends on is stored with it and checked when it is read (for_patients()):

- the patient's time zone and the clinic's SPEC 4 settings: a change of either makes it stale;
- the date. Time alone changes the results only when a dated row enters the analysed past: a
  planned treatment's local date arriving ends the previous interval (or, after a zone change,
  a check-in dated ahead of the patient's new today). `valid_until` is the first such date.
  The latest interval runs "through today": it is stored open and closed at today when read.

A stale analysis is recomputed when read, so for_patients() always gives what
durability.analyse_patient run from scratch gives (tests/test_stored_analysis.py).

The clinic's typical duration (the fallback of "wane expected") is the Kaplan-Meier median of
every patient's stored duration pairs: no page re-reads the clinic's history."""
from __future__ import annotations

from dataclasses import astuple
from datetime import date, datetime

from sqlalchemy import delete, insert, select

from . import analysis, durability
from .extensions import db
from .models import Clinic, PatientAnalysisRow, Role, TreatmentResultRow, User
from .timeutil import local_today, utcnow

RESULT_FIELDS = ["baseline", "reference", "nadir", "nadir_day", "gain", "responded", "threshold", "wane_day",
                 "status", "last_observed_day"]


def settings_key(settings: durability.Settings) -> str:
    """The settings an analysis was computed with, as text (numbers as floats, so 4 and 4.0 agree)."""
    return repr(tuple(float(v) if isinstance(v, (int, float)) else v for v in astuple(settings)))


def clinic_settings() -> durability.Settings:
    """The clinic's SPEC 4 settings, or SPEC 4's defaults while no settings row exists (a write
    must not create it as a side effect)."""
    clinic = db.session.scalar(select(Clinic).order_by(Clinic.id).limit(1))
    return analysis.settings_for(clinic) if clinic is not None else durability.Settings()


def _pairs_text(pairs: list[tuple[int, bool]]) -> str:
    return ",".join(f"{time}:{int(event)}" for time, event in pairs)


def _pairs(text: str) -> list[tuple[int, bool]]:
    return [(int(time), event == "1") for time, _, event in (item.partition(":") for item in text.split(",") if item)]


def _valid_until(item: analysis.PatientData) -> date | None:
    """The first local date after today on which a dated row joins the analysis."""
    later = [d for t in item.treatments if (d := item.treatment_date(t)) > item.today]
    later += [d for d in item.totals if d > item.today]
    return min(later, default=None)


def _lock(patient_ids: list[int]) -> None:
    """Two requests refreshing one patient take turns (PostgreSQL row locks, in id order so two
    refreshes of several patients cannot deadlock). SQLite has one writer at a time already."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(User.id).where(User.id.in_(patient_ids)).order_by(User.id).with_for_update())


def refresh(patients: list[User], *, now: datetime | None = None,
            settings: durability.Settings | None = None) -> dict[int, durability.PatientAnalysis]:
    """Recompute these patients' analysis from their whole history and store it. Caller commits."""
    if not patients:
        return {}
    now = now or utcnow()
    settings = settings or clinic_settings()
    ids = sorted({p.id for p in patients})
    _lock(ids)
    data = analysis.load(patients, now=now, settings=settings)
    # ORM-enabled deletes: the session forgets the rows it had loaded, so a read after this
    # refresh in the same transaction sees the new ones (tests/test_stored_analysis.py).
    db.session.execute(delete(TreatmentResultRow).where(TreatmentResultRow.patient_id.in_(ids)))
    db.session.execute(delete(PatientAnalysisRow).where(PatientAnalysisRow.patient_id.in_(ids)))
    key = settings_key(settings)
    results, summaries = [], []
    for patient_id, item in data.items():
        found = item.analysis
        summaries.append(dict(
            patient_id=patient_id, computed_on=item.today, valid_until=_valid_until(item),
            timezone=item.patient.timezone, settings_key=key, treatment_baseline=found.treatment_baseline,
            median_duration=found.median_duration, responding_treatments=found.responding_treatments,
            duration_pairs=_pairs_text(durability.durations(found.treatments))))
        for n, result in enumerate(found.treatments):
            latest = n == len(found.treatments) - 1
            results.append(dict(patient_id=patient_id, treatment_date=result.treatment_date,
                                interval_end=None if latest else result.interval_end,
                                **{name: getattr(result, name) for name in RESULT_FIELDS}))
    db.session.execute(insert(PatientAnalysisRow), summaries)
    if results:
        db.session.execute(insert(TreatmentResultRow), results)
    return {patient_id: item.analysis for patient_id, item in data.items()}


def _is_current(row, zone: str, today: date, key: str) -> bool:
    """Whether a stored analysis (a PatientAnalysisRow, or a row of its columns) is what a fresh
    computation for this zone, local date and settings would give."""
    return (row is not None and row.timezone == zone and row.settings_key == key
            and row.computed_on <= today and (row.valid_until is None or today < row.valid_until))


def for_patients(patients: list[User], *, now: datetime | None = None, settings: durability.Settings | None = None,
                 latest_only: bool = False) -> dict[int, durability.PatientAnalysis]:
    """These patients' analysis as a fresh computation would give it, from the stored rows (two
    queries), recomputing only those that are stale. Recomputed ones are stored: the caller
    commits (a page's audit hook does).

    latest_only: each analysis's `treatments` holds the latest result alone (what the triage
    dashboard reads, via PatientAnalysis.latest), not a year of them."""
    if not patients:
        return {}
    now = now or utcnow()
    settings = settings or clinic_settings()
    key = settings_key(settings)
    ids = [p.id for p in patients]
    rows = {r.patient_id: r for r in db.session.scalars(
        select(PatientAnalysisRow).where(PatientAnalysisRow.patient_id.in_(ids)))}
    today = {p.id: local_today(p.timezone, now) for p in patients}
    stale = [p for p in patients if not _is_current(rows.get(p.id), p.timezone, today[p.id], key)]
    found = refresh(stale, now=now, settings=settings) if stale else {}
    fresh_ids = [i for i in ids if i not in found]
    results: dict[int, list[durability.TreatmentResult]] = {i: [] for i in fresh_ids}
    if fresh_ids:
        query = (select(TreatmentResultRow).where(TreatmentResultRow.patient_id.in_(fresh_ids))
                 .order_by(TreatmentResultRow.patient_id, TreatmentResultRow.treatment_date))
        if latest_only:
            query = query.where(TreatmentResultRow.interval_end.is_(None))  # only the latest is open
        for r in db.session.scalars(query):
            results[r.patient_id].append(durability.TreatmentResult(
                treatment_date=r.treatment_date, interval_end=r.interval_end or today[r.patient_id],
                **{name: getattr(r, name) for name in RESULT_FIELDS}))
    for patient_id in fresh_ids:
        row = rows[patient_id]
        found[patient_id] = durability.PatientAnalysis(
            treatment_baseline=row.treatment_baseline, treatments=results[patient_id],
            median_duration=row.median_duration, responding_treatments=row.responding_treatments)
    return found


def clinic_median_duration(settings: durability.Settings, now: datetime | None = None) -> float | None:
    """SPEC 4's cohort median: the Kaplan-Meier median wane day over every patient's responding
    treatments, clinic-wide, from the stored duration pairs (stale patients recomputed first).
    Plain columns, one query: a clinic's worth of stored summaries, never its history."""
    now = now or utcnow()
    key = settings_key(settings)
    stored = PatientAnalysisRow
    query = (select(User.id, User.timezone.label("zone"), stored.timezone, stored.settings_key, stored.computed_on,
                    stored.valid_until, stored.duration_pairs)
             .outerjoin(stored, stored.patient_id == User.id).where(User.role == Role.PATIENT.value))
    rows = db.session.execute(query).all()
    stale = [row.id for row in rows
             if not (row.settings_key is not None and _is_current(row, row.zone, local_today(row.zone, now), key))]
    if stale:
        refresh(db.session.scalars(select(User).where(User.id.in_(stale))).all(), now=now, settings=settings)
        rows = db.session.execute(query).all()
    pairs = [pair for row in rows if row.duration_pairs for pair in _pairs(row.duration_pairs)]
    return durability.km_median(durability.km_curve(pairs))
