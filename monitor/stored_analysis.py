"""The durability analysis kept in the database, so pages read it instead of recomputing every
patient's history on every view (SPEC 4; issue 9).

Writes that change a patient's analysis refresh it in their own transaction: a check-in saved,
replaced or imported (checkins.py), a treatment recorded or edited (treatments.py). A check-in
from the phone recomputes only the sessions whose results read its date, worked out before it
takes the write lock (plan_checkin(), apply_checkin()); the others recompute the patient's
whole history (refresh()). What else the analysis depends on is stored with it and checked
when it is read (for_patients()):

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

import logging
import secrets
import threading
from collections import Counter
from dataclasses import astuple, dataclass, field
from datetime import date, datetime
from functools import cache

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from . import analysis, durability, measures
from .extensions import db
from .sql import among, reread_if_loaded
from .models import (CheckIn, ChangeSumRow, ClinicDurationCount, Clinic, PatientAnalysisRow, Role,
                     TreatmentResultRow, User)
from .timeutil import local_today, local_todays, utcnow

log = logging.getLogger(__name__)

# A page recomputes at most this many stale patients itself. More than that happens after a
# change of the clinic's settings (everyone is stale): refresh_stale() catches up in batches
# in the background, and pages say the figures are being updated (clinic_median_duration,
# report.build) rather than keeping a clinician waiting for the whole clinic.
INLINE_REFRESH_MAX = 100
# Patients per batch of refresh_stale(): each batch is one short write transaction, so check-ins
# arriving meanwhile wait a fraction of a second at most (SQLite has one writer at a time).
BATCH = 50

RESULT_FIELDS = ["baseline", "reference", "nadir", "nadir_day", "gain", "responded", "threshold", "wane_day",
                 "status", "last_observed_day"]


def settings_key(settings: durability.Settings) -> str:
    """The settings an analysis was computed with, as text (numbers as floats, so 4 and 4.0 agree)."""
    return repr(tuple(float(v) if isinstance(v, (int, float)) else v for v in astuple(settings)))


# Built once, as are the check-in's statements below: every check-in runs them, and building a
# statement costs about as much as running it (issue 9's profile). ORM columns, not the table's,
# so that a settings change not yet flushed in this session is flushed before the read.
_SETTINGS = (select(Clinic.mcid, Clinic.wane_fraction, Clinic.confirm_days, Clinic.baseline_window_start,
                    Clinic.baseline_window_end, Clinic.nadir_window_start, Clinic.nadir_window_end)
             .order_by(Clinic.id).limit(1))


def clinic_settings() -> durability.Settings:
    """The clinic's SPEC 4 settings, or SPEC 4's defaults while no settings row exists (a write
    must not create it as a side effect)."""
    clinic = db.session.execute(_SETTINGS).first()
    return analysis.settings_for(clinic) if clinic is not None else durability.Settings()


def _pairs_text(pairs: list[tuple[int, bool]]) -> str:
    return ",".join(f"{time}:{int(event)}" for time, event in pairs)


def _valid_until(item: analysis.PatientData) -> date | None:
    """The first local date after today on which a dated row joins the analysis."""
    later = [d for t in item.treatments if (d := item.treatment_date(t)) > item.today]
    later += [d for d in item.totals if d > item.today]
    return min(later, default=None)


_LOCK = select(User.id).where(User.id.in_(bindparam("ids", expanding=True))).order_by(User.id).with_for_update()


def _lock(patient_ids: list[int]) -> None:
    """Two requests refreshing one patient take turns (PostgreSQL row locks, in id order so two
    refreshes of several patients cannot deadlock). SQLite has one writer at a time already."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_LOCK, {"ids": patient_ids})


def refresh(patients: list[User], *, now: datetime | None = None,
            settings: durability.Settings | None = None) -> dict[int, durability.PatientAnalysis]:
    """Recompute these patients' analysis from their whole history and store it. Caller commits."""
    if not patients:
        return {}
    now = now or utcnow()
    settings = settings or clinic_settings()
    ids = sorted({p.id for p in patients})
    _lock(ids)
    data = analysis.load(patients, now=now, settings=settings, times_only=True)
    old_pairs = Counter(count_pairs(db.session.scalars(
        select(PatientAnalysisRow.duration_pairs).where(PatientAnalysisRow.patient_id.in_(ids)))))
    # ORM-enabled delete: the session forgets a summary row it had loaded, so a read after this
    # refresh in the same transaction sees the new one (tests/test_stored_analysis.py).
    db.session.execute(delete(PatientAnalysisRow).where(PatientAnalysisRow.patient_id.in_(ids)))
    key = settings_key(settings)
    results, summaries, sums, new_pairs = [], [], [], Counter()
    for patient_id, item in data.items():
        found = item.analysis
        pairs = durability.durations(found.treatments)
        new_pairs.update(pairs)
        changes = [durability.change_days(item.totals, s) for s in found.treatments]
        summary = measures.summary_of(found, changes, measures.third_treatment_mean(item.totals, found))
        summaries.append(dict(
            patient_id=patient_id, version=_new_version(), computed_on=item.today, valid_until=_valid_until(item),
            timezone=item.patient.timezone, settings_key=key, treatment_baseline=found.treatment_baseline,
            **_summary_columns(found, summary)))
        sums += _sum_rows(patient_id, summary.change_by_day).values()
        results += _result_rows(patient_id, found.treatments, changes)
    # render_nulls: one multi-row INSERT, however the rows' empty values fall (the ORM otherwise
    # leaves out None values and splits the rows into batches by which are None).
    db.session.execute(insert(PatientAnalysisRow).execution_options(render_nulls=True), summaries)
    _write_changes(TreatmentResultRow.__table__, ("patient_id", "treatment_date"), ids, results)
    _write_changes(ChangeSumRow.__table__, ("patient_id", "day"), ids, sums)
    new_pairs.subtract(old_pairs)
    _add_counts({pair: n for pair, n in new_pairs.items() if n})
    return {patient_id: item.analysis for patient_id, item in data.items()}


def _summary_columns(found: durability.PatientAnalysis, summary: measures.PatientSummary) -> dict:
    """The columns of a PatientAnalysisRow that follow from the sessions' results."""
    pairs = durability.durations(found.treatments)
    return dict(median_duration=found.median_duration, responding_treatments=found.responding_treatments,
                duration_pairs=_pairs_text(pairs), pair_count=len(pairs), treatments=summary.treatments,
                judged_treatments=summary.judged, waned_by_day_7=summary.waned_by_day_7,
                third_treatment_mean=summary.third_treatment_mean)


def _sum_rows(patient_id: int, change_by_day: dict[int, durability.Sums]) -> dict[int, dict]:
    """ChangeSumRow values by day."""
    return {day: dict(patient_id=patient_id, day=day, n=x.n, total=x.total, squares=x.squares)
            for day, x in change_by_day.items()}


def _result_rows(patient_id: int, treatments: list[durability.TreatmentResult], changes: list[dict[int, int]],
                 only: list[int] | None = None) -> list[dict]:
    """TreatmentResultRow values (of the sessions numbered `only`, or all): the latest is
    stored open (interval_end None, "through today")."""
    return [dict(patient_id=patient_id, treatment_date=treatments[n].treatment_date,
                 interval_end=None if n == len(treatments) - 1 else treatments[n].interval_end,
                 **{name: getattr(treatments[n], name) for name in RESULT_FIELDS},
                 change_totals=",".join(f"{day}:{total}" for day, total in changes[n].items()))
            for n in (range(len(treatments)) if only is None else only)]


def _parse_totals(text: str) -> dict[int, int]:
    return {int(day): int(total) for day, _, total in (item.partition(":") for item in text.split(",") if item)}


_summaries, _results, _sums = PatientAnalysisRow.__table__, TreatmentResultRow.__table__, ChangeSumRow.__table__
_SUMMARY = select(_summaries).where(_summaries.c.patient_id == bindparam("p_id"))
_RESULTS = select(_results).where(_results.c.patient_id == bindparam("p_id")).order_by(_results.c.treatment_date)
_TOTALS_BETWEEN = select(CheckIn.local_date, CheckIn.total).where(
    CheckIn.patient_id == bindparam("p_id"), CheckIn.local_date.between(bindparam("first"), bindparam("last")))
# The summary row's columns come with the parameters; written only while it is the version read.
_WRITE_SUMMARY = update(_summaries).where(_summaries.c.patient_id == bindparam("p_id"),
                                          _summaries.c.version == bindparam("read_version"))
_DROP_RESULTS = _results.delete().where(_results.c.patient_id == bindparam("p_id"),
                                        _results.c.treatment_date.in_(bindparam("dates", expanding=True)))
_DROP_SUMS = _sums.delete().where(_sums.c.patient_id == bindparam("p_id"),
                                  _sums.c.day.in_(bindparam("days", expanding=True)))


@dataclass
class CheckinPlan:
    """What a check-in changes in its patient's stored analysis, worked out before the check-in
    is written (plan_checkin) and written after it (apply_checkin)."""

    settings: durability.Settings
    version: str | None = None   # the stored analysis's version token when read; None: recompute it whole
    summary: dict = field(default_factory=dict)           # the PatientAnalysisRow columns to set
    changed_results: list[dict] = field(default_factory=list)  # TreatmentResultRow rows to replace
    # change_sums: the patient's days to delete, rows to insert
    sums: tuple[list[int], list[dict]] = field(default_factory=lambda: ([], []))
    pair_delta: dict[tuple[int, bool], int] = field(default_factory=dict)  # for the clinic's duration counts


def plan_checkin(patient: User, day: date, total: int, *, now: datetime | None = None) -> CheckinPlan:
    """A check-in of `total` dated `day`, about to be saved: how the patient's stored analysis
    changes, by recomputing only the sessions whose result reads that date (usually one; two
    when the date is in the next session's baseline window) from the check-ins of their days
    and the other sessions' stored results, instead of a year of history.

    Only reads, before the check-in takes SQLite's one write lock: every evening check-in holds
    that lock for its writes alone (issue 9). A plan without a version when the whole analysis
    must be recomputed instead: it is not current, it predates migration 0012, or the date feeds every session
    (the treatment baseline's days). apply_checkin() writes the plan only if the analysis is
    still the version read here; the result is what refresh() would store
    (tests/test_stored_analysis.py)."""
    now = now or utcnow()
    settings = clinic_settings()
    today = local_today(patient.timezone, now)
    # The summary row first: its version, checked when the plan is written, covers everything
    # read after it (a write in between changes the version).
    row = db.session.execute(_SUMMARY, {"p_id": patient.id}).first()
    if (row is None or row.version is None or day > today
            or not _is_current(row, patient.timezone, today, settings_key(settings))):
        return CheckinPlan(settings)
    stored = db.session.execute(_RESULTS, {"p_id": patient.id}).all()
    if any(r.change_totals is None for r in stored):
        return CheckinPlan(settings)
    dates = [r.treatment_date for r in stored]
    ends = [r.interval_end or today for r in stored]
    touched = durability.treatments_reading(day, dates, ends, settings)
    if touched is None:
        return CheckinPlan(settings)
    totals = {}
    if touched:
        spans = [durability.reads(dates[n], ends[n], settings) for n in touched]
        totals = dict(db.session.connection().execute(_TOTALS_BETWEEN, {
            "p_id": patient.id, "first": min(first for first, _ in spans), "last": max(last for _, last in spans)}).all())
    totals[day] = total
    treatments = [durability.TreatmentResult(treatment_date=r.treatment_date, interval_end=end,
                                             **{name: getattr(r, name) for name in RESULT_FIELDS})
                  for r, end in zip(stored, ends)]
    changes = [_parse_totals(r.change_totals) for r in stored]
    old = _sum_rows(patient.id, durability.change_sums_of(zip((t.reference for t in treatments), changes)))
    for n in touched:
        treatments[n] = durability.analyse_treatment(totals, dates[n], ends[n], row.treatment_baseline, settings)
        changes[n] = durability.change_days(totals, treatments[n])
    found = durability.patient_analysis(row.treatment_baseline, treatments)
    third_mean = measures.third_treatment_mean(totals, found) if 2 in touched else row.third_treatment_mean
    summary = measures.summary_of(found, changes, third_mean)
    changed = [new for n, new in zip(touched, _result_rows(patient.id, treatments, changes, touched))
               if tuple(new.values()) != tuple(stored[n]._mapping[c] for c in new)]
    sums = _sum_rows(patient.id, summary.change_by_day)
    delta = Counter(durability.durations(treatments))
    delta.subtract(count_pairs([row.duration_pairs]))
    return CheckinPlan(
        settings, version=row.version, summary=dict(computed_on=today, **_summary_columns(found, summary)),
        changed_results=changed,
        sums=([d for d in old if sums.get(d) != old[d]], [r for d, r in sums.items() if old.get(d) != r]),
        pair_delta={pair: n for pair, n in delta.items() if n})


def apply_checkin(patient: User, plan: CheckinPlan, *, now: datetime | None = None) -> None:
    """Write a plan_checkin() plan, after the check-in itself: unless the stored analysis
    changed since the plan read it (another write of this patient in between), then, as for a
    plan without a version, the whole analysis is recomputed. Caller commits."""
    _lock([patient.id])
    if plan.version is not None:
        written = db.session.execute(_WRITE_SUMMARY, {"p_id": patient.id, "read_version": plan.version,
                                                      "version": _new_version(), **plan.summary})
        if written.rowcount == 1:
            reread_if_loaded(PatientAnalysisRow, patient.id)
            if plan.changed_results:
                db.session.execute(_DROP_RESULTS, {"p_id": patient.id,
                                                   "dates": [r["treatment_date"] for r in plan.changed_results]})
                db.session.execute(_results.insert(), plan.changed_results)
            gone, new = plan.sums
            if gone:
                db.session.execute(_DROP_SUMS, {"p_id": patient.id, "days": gone})
            if new:
                db.session.execute(_sums.insert(), new)
            _add_counts(plan.pair_delta)
            return
    refresh([patient], now=now, settings=plan.settings)


def _new_version() -> str:
    return secrets.token_hex(8)


def _write_changes(table, key: tuple[str, str], patient_ids: list[int], rows: list[dict]) -> None:
    """Make these patients' rows of `table` exactly `rows`, writing only what differs: a
    check-in usually changes one or two of a year's 52 session results, and rewriting them all
    held SQLite's single write lock through every evening check-in (issue 9)."""
    columns = [table.c[name] for name in rows[0]] if rows else list(table.c)
    stored = {tuple(row[:2]): tuple(row) for row in db.session.execute(
        select(*(table.c[name] for name in key), *(c for c in columns if c.name not in key))
        .where(table.c.patient_id.in_(patient_ids)))}
    wanted = {}
    for row in rows:
        values = (row[key[0]], row[key[1]], *(row[c.name] for c in columns if c.name not in key))
        wanted[values[:2]] = values
    gone = [k for k, values in stored.items() if wanted.get(k) != values]
    new = [dict(zip([*key, *(c.name for c in columns if c.name not in key)], values))
           for k, values in wanted.items() if stored.get(k) != values]
    if gone:
        db.session.execute(table.delete().where(tuple_(table.c[key[0]], table.c[key[1]]).in_(gone)))
    if new:
        db.session.execute(table.insert(), new)


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
    stored = PatientAnalysisRow
    rows = {r.patient_id: r for r in db.session.execute(
        select(stored.patient_id, stored.timezone, stored.settings_key, stored.computed_on, stored.valid_until,
               stored.treatment_baseline, stored.median_duration, stored.responding_treatments)
        .where(among(stored.patient_id, ids)))}
    todays = local_todays((p.timezone for p in patients), now)
    today = {p.id: todays[p.timezone] for p in patients}
    stale = [p for p in patients if not _is_current(rows.get(p.id), p.timezone, today[p.id], key)]
    if len(stale) > INLINE_REFRESH_MAX:
        # After a change of settings: computed for this page, not stored (refresh_stale() is
        # storing them; a page holding the write lock for a whole panel would stall check-ins).
        found = {pid: item.analysis for pid, item in analysis.load(stale, now=now, settings=settings).items()}
    else:
        found = refresh(stale, now=now, settings=settings) if stale else {}
    fresh_ids = [i for i in ids if i not in found]
    results: dict[int, list[durability.TreatmentResult]] = {i: [] for i in fresh_ids}
    if fresh_ids:
        result = TreatmentResultRow
        query = (select(result.patient_id, result.treatment_date, result.interval_end,
                        *(getattr(result, name) for name in RESULT_FIELDS))
                 .where(among(result.patient_id, fresh_ids)))
        if latest_only:
            # Only the latest is open: one row a patient, found through the partial index of
            # open rows (ordering by date too would have the databases walk every row instead).
            query = query.where(result.interval_end.is_(None)).order_by(result.patient_id)
        else:
            query = query.order_by(result.patient_id, result.treatment_date)
        # The columns in TreatmentResult's own order (a test says so): positional, for a panel of rows.
        for patient_id, treatment_date, interval_end, *fields in db.session.connection().execute(query).all():
            results[patient_id].append(durability.TreatmentResult(
                treatment_date, interval_end or today[patient_id], *fields))
    for patient_id in fresh_ids:
        row = rows[patient_id]
        found[patient_id] = durability.PatientAnalysis(
            treatment_baseline=row.treatment_baseline, treatments=results[patient_id],
            median_duration=row.median_duration, responding_treatments=row.responding_treatments)
    return found


def _add_counts(delta: dict[tuple[int, bool], int]) -> None:
    """Add to the clinic's duration counts, in (day, waned) order: two refreshes touching the
    same counts lock them in the same order, so they wait rather than deadlock (PostgreSQL)."""
    if not delta:
        return
    db.session.execute(_add_counts_in(db.session.get_bind().dialect.name),
                       [{"day": day, "waned": waned, "count": n} for (day, waned), n in sorted(delta.items())])


@cache
def _add_counts_in(dialect: str):
    table = ClinicDurationCount.__table__
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return stmt.on_conflict_do_update(index_elements=[table.c.day, table.c.waned],
                                      set_={"count": table.c.count + stmt.excluded.count})


def _stale_condition(key: str, todays: dict[str, date]):
    """SQL for "this patient's stored analysis is missing or not what a fresh computation
    would give now" (_is_current(), evaluated by the database; `todays` maps every patient
    zone to its local date)."""
    stored = PatientAnalysisRow
    today = case(todays, value=User.timezone)
    return or_(stored.patient_id.is_(None), stored.settings_key != key, stored.timezone != User.timezone,
               stored.computed_on > today, and_(stored.valid_until.is_not(None), stored.valid_until <= today))


def stale_patient_ids(settings: durability.Settings, now: datetime | None = None, *, limit: int | None = None,
                      patients: list[User] | None = None) -> list[int]:
    """Patients (these, or every patient) whose stored analysis must be recomputed before it is
    read: the stale ids, normally none (and first the zones in use, when no patients are given)."""
    now = now or utcnow()
    if patients is None:
        zones = db.session.scalars(select(User.timezone).where(User.role == Role.PATIENT.value).distinct()).all()
        chosen = User.role == Role.PATIENT.value
    else:
        zones, chosen = {p.timezone for p in patients}, among(User.id, [p.id for p in patients])
    if not zones:
        return []
    query = (select(User.id).outerjoin(PatientAnalysisRow, PatientAnalysisRow.patient_id == User.id)
             .where(chosen, _stale_condition(settings_key(settings), local_todays(zones, now)))
             .order_by(User.id))
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def refresh_stale(*, now: datetime | None = None, settings: durability.Settings | None = None,
                  batch: int = BATCH, commit=None) -> int:
    """Bring every stale patient's analysis up to date, `batch` patients at a time, calling
    `commit` after each batch (the command and the background refresh commit; a page does not).
    Returns how many were refreshed."""
    settings = settings or clinic_settings()
    done = 0
    while ids := stale_patient_ids(settings, now, limit=batch):
        refresh(db.session.scalars(select(User).where(User.id.in_(ids))).all(), now=now, settings=settings)
        done += len(ids)
        if commit is not None:
            commit()  # a batch at a time: short write transactions, and progress kept if stopped
    return done


def refresh_in_background(app) -> threading.Thread:
    """refresh_stale() in a thread of this process, after a change of the clinic's settings:
    the admin's request returns at once, and pages say the figures are being updated until it
    is done. If the process stops first, pages still recompute what they show, and
    `flask --app monitor refresh-analysis` finishes the rest."""
    def work():
        with app.app_context():
            try:
                done = refresh_stale(commit=db.session.commit)
                log.info("stored analyses refreshed after a change of settings: %s patients", done)
            except Exception:  # noqa: BLE001 (a thread has no caller to raise to)
                db.session.rollback()
                log.exception("refreshing the stored analyses failed; run `flask --app monitor refresh-analysis`")
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name="analysis-refresh", daemon=True)
    thread.start()
    return thread


def _ensure_counts_match() -> None:
    """The duration counts are kept in step by refresh(); should anything else ever remove an
    analysis row, the totals disagree and the counts are rebuilt from the rows."""
    stored, counted = db.session.execute(select(
        select(func.coalesce(func.sum(PatientAnalysisRow.pair_count), 0)).scalar_subquery(),
        select(func.coalesce(func.sum(ClinicDurationCount.count), 0)).scalar_subquery())).one()
    if stored == counted:
        return
    log.warning("clinic duration counts out of step (%s stored pairs, %s counted): rebuilt", stored, counted)
    db.session.execute(delete(ClinicDurationCount))
    _add_counts(count_pairs(db.session.scalars(select(PatientAnalysisRow.duration_pairs))))


class FiguresUpdating(Exception):
    """More patients are stale than a page recomputes (INLINE_REFRESH_MAX): after a change of
    the clinic's settings, while refresh_stale() catches up. Pages say the figures are being
    updated instead of showing clinic-wide figures that a fresh computation would not give."""

    def __init__(self, stale: int):
        super().__init__(f"{stale} patients' figures are being updated")
        self.stale = stale


def _make_current(settings: durability.Settings, now: datetime, patients: list[User] | None = None) -> None:
    """Recompute the stale analyses of these patients (or of every patient) before they are
    read; FiguresUpdating when more are stale than a page recomputes."""
    stale = stale_patient_ids(settings, now, limit=INLINE_REFRESH_MAX + 1, patients=patients)
    if len(stale) > INLINE_REFRESH_MAX:
        raise FiguresUpdating(len(stale_patient_ids(settings, now, patients=patients)))
    if stale:
        refresh(db.session.scalars(select(User).where(User.id.in_(stale))).all(), now=now, settings=settings)


def clinic_median_duration(settings: durability.Settings, now: datetime | None = None) -> float | None:
    """SPEC 4's cohort median: the Kaplan-Meier median wane day over every patient's responding
    treatments, clinic-wide, from the duration counts (stale patients recomputed first).
    Raises FiguresUpdating while too many patients are stale to recompute here."""
    now = now or utcnow()
    _make_current(settings, now)
    _ensure_counts_match()
    counts = {(day, waned): n for day, waned, n in db.session.execute(
        select(ClinicDurationCount.day, ClinicDurationCount.waned, ClinicDurationCount.count)
        .where(ClinicDurationCount.count > 0))}
    return durability.km_median(durability.km_curve_from_counts(counts))


def updating(settings: durability.Settings | None = None) -> bool:
    """Whether stored figures are being brought up to date after a change of the clinic's
    settings (some were computed with other settings): the banner pages show."""
    settings = settings or clinic_settings()
    return db.session.scalar(select(
        select(PatientAnalysisRow.patient_id).where(PatientAnalysisRow.settings_key != settings_key(settings))
        .exists())) or False


@dataclass(frozen=True)
class Stored:
    """What the clinic report reads of one patient's stored analysis."""

    treatment_baseline: float | None
    median_duration: float | None
    responding_treatments: int
    duration_pairs: str    # durability.durations() as text: count_pairs() adds them up
    summary: measures.PatientSummary   # without change_by_day: summed_changes() adds those up in SQL


def count_pairs(texts) -> dict[tuple[int, bool], int]:
    """Stored duration pairs of many patients counted by (day, waned): counted as text first,
    which is far quicker than a tuple per pair for a clinic's worth of sessions."""
    tokens = Counter()
    for text in texts:
        if text:
            tokens.update(text.split(","))
    return {(int(time), event == "1"): n for token, n in tokens.items() for time, _, event in [token.partition(":")]}


def summaries_for(patients: list[User], patient_ids, *, now: datetime | None = None,
                  settings: durability.Settings | None = None) -> dict[int, Stored]:
    """These patients' stored summaries, current (stale ones recomputed first; FiguresUpdating
    when there are too many): one query after the check, whatever their histories.
    `patient_ids`: a SELECT of their ids (or a list)."""
    if not patients:
        return {}
    now = now or utcnow()
    settings = settings or clinic_settings()
    _make_current(settings, now, patients)
    stored = PatientAnalysisRow
    found = {}
    for row in db.session.connection().execute(select(
            stored.patient_id, stored.treatment_baseline, stored.median_duration, stored.responding_treatments,
            stored.duration_pairs, stored.treatments, stored.judged_treatments, stored.waned_by_day_7,
            stored.third_treatment_mean).where(among(stored.patient_id, patient_ids))):
        found[row.patient_id] = Stored(
            row.treatment_baseline, row.median_duration, row.responding_treatments, row.duration_pairs,
            measures.PatientSummary(row.treatments, row.judged_treatments, row.waned_by_day_7,
                                    row.third_treatment_mean))
    return found


def summed_changes(patient_ids) -> dict[int, durability.Sums]:
    """The change from the reference level by day since session, summed over these patients
    (a SELECT of their ids, or a list) by the database: one row a day comes back."""
    return {day: durability.Sums(n, total, squares) for day, n, total, squares in db.session.execute(
        select(ChangeSumRow.day, func.sum(ChangeSumRow.n), func.sum(ChangeSumRow.total), func.sum(ChangeSumRow.squares))
        .where(among(ChangeSumRow.patient_id, patient_ids)).group_by(ChangeSumRow.day))}
