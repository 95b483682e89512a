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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from . import analysis, durability, schedule, stored_analysis
from .access import patients_visible_to
from .clinic import get_clinic
from .extensions import db
from .instruments import SEVERE_SIDE_EFFECT, SIDE_EFFECTS
from .models import CheckIn, PatientStatus, User
from .timeutil import to_local, utcnow

ADHERENCE_WINDOWS = (14, 30)
SIDE_EFFECT_DAYS = 30
WANE_BY_DAY = 7
THREE_TREATMENT_DAYS = (1, 3)
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


def third_treatment_mean(totals: Mapping[date, int], result: durability.PatientAnalysis) -> float | None:
    """Mean daily total over days 1..3 after the third session, inside its interval."""
    third = result.treatments[2]
    lo, hi = THREE_TREATMENT_DAYS
    values = [totals[d] for n in range(lo, hi + 1)
              if (d := third.day(n)) <= third.interval_end and d in totals]
    return sum(values) / len(values) if values else None


def three_treatments(patients: Iterable[tuple[Mapping[date, int], durability.PatientAnalysis]],
                   mcid: float) -> ThreeTreatments:
    improved = evaluated = no_third = no_baseline = no_checkins = 0
    for totals, result in patients:
        if len(result.treatments) < 3:
            no_third += 1
        elif result.treatment_baseline is None:
            no_baseline += 1
        elif (mean := third_treatment_mean(totals, result)) is None:
            no_checkins += 1
        else:
            evaluated += 1
            improved += result.treatment_baseline - mean >= mcid - _EPSILON
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
    return [
        SideEffectRate(
            key, label,
            Share(sum(1 for r in rows if (r.get(key) or 0) >= 1), len(rows)),
            Share(sum(1 for r in rows if r.get(key) == SEVERE_SIDE_EFFECT), len(rows)),
        )
        for key, label in SIDE_EFFECTS
    ]


# --- The report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PatientDuration:
    patient: User
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
    censored: list[int]                      # censoring days of holding sessions (curve marks)
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


def build(viewer: User, now: datetime | None = None) -> Report:
    now = now or utcnow()
    clinic = get_clinic()
    settings = analysis.settings_for(clinic)
    patients = db.session.scalars(
        patients_visible_to(viewer).order_by(func.lower(User.last_name), func.lower(User.first_name), User.id)
    ).all()
    data = analysis.load(patients, now=now, settings=settings, analyse=False)
    for patient_id, found in stored_analysis.for_patients(patients, now=now, settings=settings).items():
        data[patient_id].analysis = found
    cohort = analysis.clinic_cohort(data)
    treatments = [s for d in data.values() for s in d.analysis.treatments]
    pairs = durability.durations(treatments)

    active = [p for p in patients if p.status == PatientStatus.ACTIVE.value]
    resumed = analysis.returns_to_active([p.id for p in active])
    windows = {days: [] for days in ADHERENCE_WINDOWS}
    lapsed = []
    for p in active:
        item = data[p.id]
        dates = set(item.totals)
        enrolled_on = to_local(p.created_at, p.timezone).date()
        start = start_date(enrolled_on, dates)
        for days in ADHERENCE_WINDOWS:
            share = Share(*schedule.adherence(dates, item.today, days, start=start))
            if share.of:
                windows[days].append(share.value)
        first_day = schedule.counting_from(p.timezone, p.created_at, resumed.get(p.id))
        if schedule.is_lapsed(dates, item.today, clinic.lapse_days, first_day=first_day):
            lapsed.append(p)

    side_rows = _recent_side_effects(data, now)
    return Report(
        scope="clinic" if viewer.is_admin else "panel",
        patients=len(patients),
        active_patients=len(active),
        mcid=settings.mcid,
        lapse_days=clinic.lapse_days,
        cohort=cohort,
        censored=sorted(t for t, event in pairs if not event),
        response=response_share(treatments),
        waned_by_7_km=1 - durability.survival_at(cohort.curve, WANE_BY_DAY) if pairs else None,
        waned_by_7_count=waned_by_count(treatments),
        durations=[PatientDuration(p, len(data[p.id].analysis.treatments), data[p.id].analysis.responding_treatments,
                                   data[p.id].analysis.median_duration)
                   for p in patients if data[p.id].analysis.treatments],
        adherence=[Adherence(days, sum(v) / len(v) if v else None, len(v)) for days, v in windows.items()],
        lapsed=len(lapsed),
        side_effects=side_effect_rates(side_rows),
        side_effect_checkins=len(side_rows),
        three_treatments=three_treatments(((d.totals, d.analysis) for d in data.values()), settings.mcid),
        events=sum(1 for _, event in pairs if event),
        at_risk=len(pairs),
    )


def _recent_side_effects(data: Mapping[int, analysis.PatientData], now: datetime) -> list[dict[str, int | None]]:
    """Side effects of the check-ins in each patient's last 30 local days: one query for all."""
    if not data:
        return []
    since = {pid: item.today - timedelta(days=SIDE_EFFECT_DAYS - 1) for pid, item in data.items()}
    keys = [key for key, _ in SIDE_EFFECTS]
    query = (select(CheckIn.patient_id, CheckIn.local_date, *(getattr(CheckIn, f"se_{k}") for k in keys))
             .where(CheckIn.patient_id.in_(list(data)), CheckIn.local_date >= min(since.values())))
    rows = []
    for patient_id, local_date, *levels in db.session.execute(query):
        if since[patient_id] <= local_date <= data[patient_id].today:
            rows.append(dict(zip(keys, levels)))
    return rows

