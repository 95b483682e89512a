"""The durability report (SPEC 8): the measures a clinic cares about, over every patient an
admin may see or a provider's own panel.

build() reads in a fixed number of queries whatever the number of patients (the patients,
the clinic settings, check-in totals and sessions through monitor.analysis, and the last 30
days' side effects); the rest are pure functions over dates and totals that tests can call
without an app. Every day is the patient's own local calendar date.

Definitions, as the report page states them:
- Median benefit duration: Kaplan-Meier median of the wane day over responding sessions
  (waned sessions are events; holding ones are censored at their last observed day).
- Response share: responding sessions / sessions with a definite answer (responded or
  no-response; insufficient-data sessions are left out).
- Waned by day 7: the Kaplan-Meier estimate 1 - S(7) is the headline, as it allows for
  sessions still being followed; the simple count (responding sessions with a wane day of
  at most 7 / all responding sessions) is shown beside it and runs lower while sessions are
  recent, because those count as not waned.
- Adherence: for each active patient, the share of the last 14 (and 30) local days that have
  a check-in, averaged over the active patients. As on the dashboard, the window ends today
  once the patient has checked in today, else yesterday (an open day does not count against
  them). Days before a patient's start (the earlier of enrolment and the first check-in) are
  not counted; a patient with no counted days is left out.
- Lapsed: active patients with `clinic.lapse_days` or more missed days in a row up to
  yesterday, by the rule the dashboard and the digest use (monitor.schedule.missed_streak), so
  they always agree: days before enrolment, before the first check-in, or before the last
  return from a pause are not missed.
- Side-effect rates: per side effect, the share of check-ins in each patient's last 30
  local days (today included) reporting it at any level (mild or worse) and at severe. An
  unanswered side effect counts as not reported.
- Three treatments: among patients with a treatment baseline B0 and a third session (the
  third session date), the share whose mean total over days 1..3 after it (inside its
  interval, those present) is at least the MCID below B0. Patients without a third session,
  without B0, or without a check-in on those days yet are left out and counted.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, select

from . import analysis, durability, measures, roster, schedule, stored_analysis, write_version
from .measures import WANE_BY_DAY
from .access import patients_visible_to
from .clinic import get_clinic
from .extensions import db
from .sql import among, date_list, dates_of
from .instruments import SEVERE_SIDE_EFFECT, SIDE_EFFECTS
from .models import CheckIn, PatientStatus, User
from .roster import ListedPatient
from .timeutil import local_todays, to_local, utcnow

ADHERENCE_WINDOWS = (14, 30)
SIDE_EFFECT_DAYS = 30
# Every measure reads at most this many days back from a patient's today (the adherence window
# ends today or yesterday); _recent() adds what may lie further back.
WINDOW_DAYS = max(*ADHERENCE_WINDOWS, SIDE_EFFECT_DAYS) + 1
_EPSILON = 1e-9  # totals are whole numbers; means are thirds: compare without float noise


@dataclass(frozen=True)
class Share:
    count: int
    of: int

    @property
    def value(self) -> float | None:
        return self.count / self.of if self.of else None


# --- Pure measures -------------------------------------------------------------------------

def response_share(treatments: Iterable[durability.TreatmentResult]) -> Share:
    """Responding sessions among those with a definite answer (responded or no-response)."""
    judged = [s for s in treatments if s.responded is not None]
    return Share(sum(1 for s in judged if s.responded), len(judged))


def waned_by_count(treatments: Iterable[durability.TreatmentResult], day: int = WANE_BY_DAY) -> Share:
    """Responding sessions that waned on or before `day`, among all responding sessions."""
    responding = [s for s in treatments if s.responded]
    return Share(sum(1 for s in responding if s.status == durability.WANED and s.wane_day <= day), len(responding))


def start_date(enrolled_on: date, checkin_dates: Iterable[date]) -> date:
    """The first local date a patient could have checked in: enrolment, or an earlier
    (imported) check-in."""
    return min([enrolled_on, *checkin_dates])


@dataclass(frozen=True)
class ThreeTreatments:
    """SPEC 8: "over 70% improve with three treatments", checked on the clinic's own data."""

    improved: int = 0
    evaluated: int = 0
    no_third_treatment: int = 0
    no_baseline: int = 0
    no_checkins: int = 0    # a third session, but no check-in on its days 1..3 (yet)

    @property
    def share(self) -> Share:
        return Share(self.improved, self.evaluated)

    @property
    def excluded(self) -> int:
        return self.no_third_treatment + self.no_baseline + self.no_checkins


def three_treatments(patients: Iterable[tuple[Mapping[date, int], durability.PatientAnalysis]],
                     mcid: float) -> ThreeTreatments:
    """From whole histories (the definition the stored summaries are tested against)."""
    return three_treatments_of(((result.treatment_baseline, measures.summarise(totals, result))
                                for totals, result in patients), mcid)


def three_treatments_of(patients: Iterable[tuple[float | None, measures.PatientSummary]], mcid: float) -> ThreeTreatments:
    """patients: each one's treatment baseline B0 and summary."""
    improved = evaluated = no_third = no_baseline = no_checkins = 0
    for baseline, summary in patients:
        if summary.treatments < 3:
            no_third += 1
        elif baseline is None:
            no_baseline += 1
        elif (mean := summary.third_treatment_mean) is None:
            no_checkins += 1
        else:
            evaluated += 1
            improved += baseline - mean >= mcid - _EPSILON
    return ThreeTreatments(improved, evaluated, no_third, no_baseline, no_checkins)


@dataclass(frozen=True)
class SideEffectRate:
    key: str
    label: str
    any_level: Share
    severe: Share


def side_effect_rates(rows: Iterable[Mapping[str, int | None]]) -> list[SideEffectRate]:
    """rows: one mapping of side-effect key to level (0-3 or None) per check-in."""
    rows = list(rows)
    return side_effect_rates_of(
        len(rows),
        {key: sum(1 for r in rows if (r.get(key) or 0) >= 1) for key, _ in SIDE_EFFECTS},
        {key: sum(1 for r in rows if r.get(key) == SEVERE_SIDE_EFFECT) for key, _ in SIDE_EFFECTS})


def side_effect_rates_of(checkins: int, any_level: Mapping[str, int], severe: Mapping[str, int]) -> list[SideEffectRate]:
    """From counts: check-ins, and per side effect those reporting it at any level and severe."""
    return [SideEffectRate(key, label, Share(any_level[key], checkins), Share(severe[key], checkins))
            for key, label in SIDE_EFFECTS]


# --- The report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PatientDuration:
    patient: ListedPatient
    treatments: int
    responding: int
    median_duration: float | None


@dataclass(frozen=True)
class Adherence:
    days: int
    mean: float | None      # mean of the per-patient shares
    patients: int           # active patients with at least one counted day


@dataclass
class Report:
    scope: str                               # "clinic" (admin) or "panel" (provider)
    patients: int
    active_patients: int
    mcid: float
    lapse_days: int
    cohort: durability.Cohort
    censored: list[int]                      # the days holding sessions were censored on (curve marks)
    response: Share
    waned_by_7_km: float | None              # 1 - S(7); None without responding sessions
    waned_by_7_count: Share
    durations: list[PatientDuration]
    adherence: list[Adherence]
    lapsed: int
    side_effects: list[SideEffectRate]
    side_effect_checkins: int
    three_treatments: ThreeTreatments
    events: int = 0                          # waned sessions (Kaplan-Meier events)
    at_risk: int = 0                         # responding sessions in the Kaplan-Meier curve


@dataclass
class _Kept:
    """A report as the worker keeps it between views (write_version.Cache): it reads nothing
    finer than each patient's local date, so it stands until a write or a zone's midnight."""

    report: Report
    zone_dates: dict[str, date]   # the local date in each zone of the report's patients when built

    def current_at(self, now: datetime) -> bool:
        return local_todays(self.zone_dates, now) == self.zone_dates


def build(viewer: User, now: datetime | None = None) -> Report:
    """The report from each patient's stored summary (stored_analysis.summaries_for) and the
    last 30 days of check-ins: a fixed number of queries, none reading a whole history; kept
    by the worker until a write changes what it read. Raises stored_analysis.FiguresUpdating
    while a change of settings is being applied."""
    now = now or utcnow()
    clinic = get_clinic()
    settings = analysis.settings_for(clinic)
    # The viewer's role and the settings are read before the write version: they are part of
    # the key, so a report is never kept for other settings or another scope.
    key = (viewer.id, viewer.role, stored_analysis.settings_key(settings), clinic.lapse_days)
    return kept_reports().get(key, now, lambda: _build(viewer, now, clinic, settings)).report


def kept_reports() -> write_version.Cache[_Kept]:
    """This worker's kept reports (one cache per app)."""
    return current_app.extensions.setdefault("report.kept", write_version.Cache())


def _build(viewer: User, now: datetime, clinic, settings: durability.Settings) -> _Kept:
    visible = patients_visible_to(viewer)
    patients = roster.listed(visible.order_by(func.lower(User.last_name), func.lower(User.first_name), User.id))
    ids = visible.with_only_columns(User.id)
    stored = stored_analysis.summaries_for(patients, ids, now=now, settings=settings)
    counts = stored_analysis.count_pairs(item.duration_pairs for item in stored.values())
    by_day = stored_analysis.summed_changes(ids)
    responding = sum(item.responding_treatments for item in stored.values())
    cohort = durability.cohort_from_counts(counts, sum(item.summary.treatments for item in stored.values()),
                                           responding, by_day)
    recent = _recent(patients, now)

    active = [p for p in patients if p.status == PatientStatus.ACTIVE.value]
    resumed = analysis.returns_to_active([p.id for p in active])
    windows = {days: [] for days in ADHERENCE_WINDOWS}
    lapsed = []
    for p in active:
        item = recent[p.id]
        enrolled_on = to_local(p.created_at, p.timezone).date()
        start = start_date(enrolled_on, item.dates)
        for days in ADHERENCE_WINDOWS:
            share = Share(*schedule.adherence(item.dates, item.today, days, start=start))
            if share.of:
                windows[days].append(share.value)
        first_day = schedule.counting_from(p.timezone, p.created_at, resumed.get(p.id))
        if schedule.is_lapsed(item.dates, item.today, clinic.lapse_days, first_day=first_day):
            lapsed.append(p)

    checkins, any_level, severe = _side_effect_counts(patients, now)
    built = Report(
        scope="clinic" if viewer.is_admin else "panel",
        patients=len(patients),
        active_patients=len(active),
        mcid=settings.mcid,
        lapse_days=clinic.lapse_days,
        cohort=cohort,
        censored=sorted(t for t, event in counts if not event),
        response=Share(responding, sum(item.summary.judged for item in stored.values())),
        waned_by_7_km=1 - durability.survival_at(cohort.curve, WANE_BY_DAY) if counts else None,
        waned_by_7_count=Share(sum(item.summary.waned_by_day_7 for item in stored.values()), responding),
        durations=[PatientDuration(p, stored[p.id].summary.treatments, stored[p.id].responding_treatments,
                                   stored[p.id].median_duration)
                   for p in patients if stored[p.id].summary.treatments],
        # fsum: the mean does not depend on the order patients come in.
        adherence=[Adherence(days, math.fsum(v) / len(v) if v else None, len(v)) for days, v in windows.items()],
        lapsed=len(lapsed),
        side_effects=side_effect_rates_of(checkins, any_level, severe),
        side_effect_checkins=checkins,
        three_treatments=three_treatments_of(((item.treatment_baseline, item.summary) for item in stored.values()),
                                             settings.mcid),
        events=sum(n for (_, event), n in counts.items() if event),
        at_risk=sum(counts.values()),
    )
    return _Kept(built, local_todays((p.timezone for p in patients), now))


@dataclass
class _Recent:
    """What adherence and lapses read of one patient's check-ins."""

    today: date
    dates: set[date] = field(default_factory=set)


def _recent(patients: list[ListedPatient], now: datetime) -> dict[int, _Recent]:
    """The dates of the last WINDOW_DAYS of each active patient's check-ins (one query), plus,
    where the measures could look further back, the latest check-in before that window (one more):

    - missed_streak() counts from the latest check-in up to yesterday: when there is none in
      the window, the one before it;
    - start_date() is the earlier of enrolment and the first check-in: for a patient enrolled
      inside the window, whether any check-in comes before it.

    With those, the measures equal what the whole history gives (tests/test_stored_analysis.py)."""
    active = [p for p in patients if p.status == PatientStatus.ACTIVE.value]
    todays = local_todays((p.timezone for p in active), now)
    recent = {p.id: _Recent(todays[p.timezone]) for p in active}
    if not recent:
        return recent
    since = min(item.today for item in recent.values()) - timedelta(days=WINDOW_DAYS)
    # A month of the clinic's check-ins is tens of thousands of dates: read as one list per
    # patient (sql.date_list), on the connection rather than through the ORM session.
    for patient_id, dates in db.session.connection().execute(
            select(CheckIn.patient_id, date_list(CheckIn.local_date))
            .where(among(CheckIn.patient_id, recent), CheckIn.local_date >= since)
            .group_by(CheckIn.patient_id)).all():
        recent[patient_id].dates.update(dates_of(dates))
    further = [p.id for p in active
               if not any(d < recent[p.id].today for d in recent[p.id].dates)
               or to_local(p.created_at, p.timezone).date() > since]
    for patient_id, local_date in analysis.latest_before(CheckIn.local_date, CheckIn.patient_id, since,
                                                          further).items():
        recent[patient_id].dates.add(local_date)
    return recent


def _side_effect_counts(patients: list[ListedPatient], now: datetime) -> tuple[int, dict[str, int], dict[str, int]]:
    """Check-ins of each patient's last SIDE_EFFECT_DAYS local days (today included), and per
    side effect those reporting it at any level and at severe: counted by the database in one
    query (each patient's window by their zone's date)."""
    if not patients:
        return 0, {key: 0 for key, _ in SIDE_EFFECTS}, {key: 0 for key, _ in SIDE_EFFECTS}
    todays = local_todays((p.timezone for p in patients), now)
    today = case(todays, value=User.timezone)
    first = case({zone: day - timedelta(days=SIDE_EFFECT_DAYS - 1) for zone, day in todays.items()}, value=User.timezone)
    levels = {key: getattr(CheckIn, f"se_{key}") for key, _ in SIDE_EFFECTS}
    row = db.session.execute(
        # COUNT ... FILTER: a quarter quicker than a SUM of CASEs on SQLite over 54,000 rows.
        select(func.count(),
               *(func.count().filter(level >= 1) for level in levels.values()),
               *(func.count().filter(level == SEVERE_SIDE_EFFECT) for level in levels.values()))
        .select_from(CheckIn).join(User, User.id == CheckIn.patient_id)
        .where(among(CheckIn.patient_id, [p.id for p in patients]), CheckIn.local_date >= first,
               CheckIn.local_date <= today,
               # The same window as plain dates, widest over the zones: the per-zone bounds above
               # are worked out row by row, these let the (patient, date) index skip a year of
               # history (PostgreSQL otherwise read every check-in of the clinic: 0.3 s).
               CheckIn.local_date.between(min(todays.values()) - timedelta(days=SIDE_EFFECT_DAYS - 1),
                                          max(todays.values())))).one()
    n = len(levels)
    return row[0], dict(zip(levels, row[1:1 + n])), dict(zip(levels, row[1 + n:]))
