"""SPEC 4, "when does the benefit wane?", as pure functions.

Dates in, results out: no Flask, no SQL. Every day here is the patient's local calendar date
(the caller converts session instants with the patient's time zone), so daylight-saving
changes cannot shift a day. "Day d" of a session is d calendar days after its date.

Read this next to SPEC.md section 4; the names are the SPEC's:
baseline B, treatment baseline B0, reference level R, nadir N, gain G, threshold T, wane day W.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WANED = "waned"
HOLDING = "holding"
NO_RESPONSE = "no-response"
INSUFFICIENT = "insufficient-data"

# A session also counts as a response when the gain is at least half the reference level
# (a 50% reduction, the usual response criterion); SPEC 4 fixes this ratio, it is not the
# clinic's wane fraction.
RESPONSE_RATIO = 0.5


@dataclass(frozen=True)
class Settings:
    """The clinic's thresholds, with SPEC 4's defaults."""

    mcid: float = 4
    wane_fraction: float = 0.5
    confirm_days: int = 2
    baseline_window: tuple[int, int] = (-3, -1)
    nadir_window: tuple[int, int] = (1, 3)
    treatment_baseline_days: int = 7
    treatment_baseline_min: int = 2


@dataclass(frozen=True)
class TreatmentResult:
    treatment_date: date
    interval_end: date          # the day before the next session, or today for the latest
    baseline: float | None      # B
    reference: float | None     # R
    nadir: int | None           # N
    nadir_day: int | None
    gain: float | None          # G
    responded: bool | None      # None when the data are insufficient to judge
    threshold: float | None     # T
    wane_day: int | None        # W
    status: str
    last_observed_day: int | None  # the interval's last day with a check-in

    def day(self, d: int) -> date:
        return self.treatment_date + timedelta(days=d)

    @property
    def wane_date(self) -> date | None:
        return None if self.wane_day is None else self.day(self.wane_day)


@dataclass(frozen=True)
class PatientAnalysis:
    treatment_baseline: float | None   # B0
    treatments: list[TreatmentResult]
    median_duration: float | None      # Kaplan-Meier median of W over responding sessions
    responding_treatments: int

    @property
    def latest(self) -> TreatmentResult | None:
        return self.treatments[-1] if self.treatments else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def treatment_days(treatment_dates: Iterable[date], today: date) -> list[date]:
    """Sessions that have happened, one per local date (several on a date count as one),
    in order. Planned sessions after today are not analysed."""
    return sorted({d for d in treatment_dates if d <= today})


def treatment_baseline(totals: Mapping[date, int], first_treatment: date, settings: Settings = Settings()) -> float | None:
    """B0: mean of the daily totals on the 7 days before the first session, when at least 2 exist."""
    values = [totals[first_treatment - timedelta(days=n)]
              for n in range(1, settings.treatment_baseline_days + 1)
              if first_treatment - timedelta(days=n) in totals]
    return _mean(values) if len(values) >= settings.treatment_baseline_min else None


def analyse_treatment(totals: Mapping[date, int], treatment_date: date, interval_end: date,
                    b0: float | None, settings: Settings = Settings()) -> TreatmentResult:
    """One session's baseline, reference, nadir, gain, response and wane day (SPEC 4)."""
    def total_on(d: int) -> int | None:
        return totals.get(treatment_date + timedelta(days=d))

    last_day = (interval_end - treatment_date).days
    observed = [d for d in range(0, last_day + 1) if total_on(d) is not None]
    last_observed = observed[-1] if observed else None

    lo, hi = settings.baseline_window
    baseline = _mean([t for d in range(lo, hi + 1) if (t := total_on(d)) is not None])
    candidates = [x for x in (baseline, b0) if x is not None]
    reference = max(candidates) if candidates else None

    lo, hi = settings.nadir_window
    nadir = nadir_day = None
    for d in range(lo, min(hi, last_day) + 1):
        t = total_on(d)
        if t is not None and (nadir is None or t < nadir):  # strict: the earliest day wins a tie
            nadir, nadir_day = t, d

    def result(status, **values):
        base = dict(treatment_date=treatment_date, interval_end=interval_end, baseline=baseline,
                    reference=reference, nadir=nadir, nadir_day=nadir_day, gain=None, responded=None,
                    threshold=None, wane_day=None, last_observed_day=last_observed)
        base.update(values)
        return TreatmentResult(status=status, **base)

    if reference is None or nadir is None:
        return result(INSUFFICIENT)
    gain = reference - nadir
    responded = gain >= settings.mcid or (reference > 0 and gain / reference >= RESPONSE_RATIO)
    if not responded:
        return result(NO_RESPONSE, gain=gain, responded=False)
    threshold = nadir + min(settings.mcid, settings.wane_fraction * gain)
    confirm = settings.confirm_days
    for d in range(nadir_day + 1, last_day - confirm + 2):
        window = [total_on(d + k) for k in range(confirm)]
        if all(t is not None and t >= threshold for t in window):
            return result(WANED, gain=gain, responded=True, threshold=threshold, wane_day=d)
    return result(HOLDING, gain=gain, responded=True, threshold=threshold)


def analyse_patient(checkins: Iterable[tuple[date, int]], treatment_dates: Iterable[date], today: date,
                    settings: Settings = Settings()) -> PatientAnalysis:
    """Every session of one patient, their treatment baseline and typical benefit duration."""
    totals = dict(checkins)
    days = treatment_days(treatment_dates, today)
    if not days:
        return PatientAnalysis(None, [], None, 0)
    b0 = treatment_baseline(totals, days[0], settings)
    ends = [nxt - timedelta(days=1) for nxt in days[1:]] + [today]
    return patient_analysis(b0, [analyse_treatment(totals, d, end, b0, settings) for d, end in zip(days, ends)])


def patient_analysis(b0: float | None, treatments: list[TreatmentResult]) -> PatientAnalysis:
    """A patient's analysis from their sessions' results: the typical duration and the count
    of responding sessions follow from those alone."""
    return PatientAnalysis(
        treatment_baseline=b0,
        treatments=treatments,
        median_duration=km_median(km_curve(durations(treatments))),
        responding_treatments=sum(1 for s in treatments if s.responded),
    )


def reads(treatment_date: date, interval_end: date, settings: Settings = Settings()) -> tuple[date, date]:
    """The first and last date whose check-in this session's result reads: its baseline
    window, its interval (nadir, wane) and its days of the change from the reference level
    (change_days). A check-in dated outside cannot change the session's result."""
    first = min(settings.baseline_window[0], CHANGE_DAYS.start, 0)
    return (treatment_date + timedelta(days=first),
            max(interval_end, treatment_date + timedelta(days=settings.baseline_window[1])))


def treatments_reading(day: date, treatment_dates: Sequence[date], interval_ends: Sequence[date],
                     settings: Settings = Settings()) -> list[int] | None:
    """Which sessions' results a check-in dated `day` can change (their indexes), so that a
    check-in recomputes those alone (stored_analysis.refresh_checkin). None when it can change
    every session: a date among the treatment baseline's days feeds every reference level."""
    if not treatment_dates:
        return []
    first = treatment_dates[0]
    if first - timedelta(days=settings.treatment_baseline_days) <= day < first:
        return None
    return [n for n, (d, end) in enumerate(zip(treatment_dates, interval_ends))
            if (span := reads(d, end, settings))[0] <= day <= span[1]]


def durations(treatments: Iterable[TreatmentResult]) -> list[tuple[int, bool]]:
    """(time, event) pairs for survival analysis: waned sessions are events at W,
    holding sessions are censored at their last observed day."""
    pairs = []
    for s in treatments:
        if s.status == WANED:
            pairs.append((s.wane_day, True))
        elif s.status == HOLDING and s.last_observed_day is not None:
            pairs.append((s.last_observed_day, False))
    return pairs


def km_curve(pairs: Iterable[tuple[int, bool]]) -> list[tuple[int, float]]:
    """Kaplan-Meier estimate of "still holding": [(0, 1.0), (t, S(t)) at each event time].

    At a time with both events and censorings, the events are counted first (the usual convention)."""
    counts: dict[tuple[int, bool], int] = {}
    for time, event in pairs:
        counts[(time, bool(event))] = counts.get((time, bool(event)), 0) + 1
    return km_curve_from_counts(counts)


def km_curve_from_counts(counts: Mapping[tuple[int, bool], int]) -> list[tuple[int, float]]:
    """km_curve() of the pairs counted by (time, event): what a clinic-wide tally stores
    (stored_analysis.clinic_median_duration), without a clinic's worth of pairs in memory."""
    at_risk = sum(counts.values())
    survival = 1.0
    curve = [(0, 1.0)]
    for t in sorted({time for time, _ in counts}):
        events, censored = counts.get((t, True), 0), counts.get((t, False), 0)
        if events:
            survival *= 1 - events / at_risk
            curve.append((t, survival))
        at_risk -= events + censored
    return curve


def survival_at(curve: Sequence[tuple[int, float]], day: int) -> float:
    """S(day), the share still holding on that day, from a km_curve step curve."""
    value = 1.0
    for t, s in curve:
        if t > day:
            break
        value = s
    return value


def km_median(curve: Sequence[tuple[int, float]]) -> float | None:
    """The first time at which "still holding" falls to 50% or below; None while it has not."""
    for t, s in curve:
        if s <= 0.5 + 1e-12:
            return t
    return None


CHANGE_DAYS = range(-3, 15)  # the days since session of the cohort chart


@dataclass(frozen=True)
class DayChange:
    day: int
    n: int
    mean: float | None
    ci_low: float | None    # 95% confidence interval of the mean (normal approximation)
    ci_high: float | None


@dataclass(frozen=True)
class Cohort:
    curve: list[tuple[int, float]]
    median_duration: float | None
    treatments: int
    responding: int
    change_by_day: list[DayChange] = field(default_factory=list)


def change_days(totals: Mapping[date, int], s: TreatmentResult, days: range = CHANGE_DAYS) -> dict[int, int]:
    """One session's totals by day since session on the days of the change from the reference
    level. Days after the session count only inside its interval, so the next session's effect
    is not mixed in."""
    found = {}
    for d in days:
        if d >= 0 and s.day(d) > s.interval_end:
            break
        t = totals.get(s.day(d))
        if t is not None:
            found[d] = t
    return found


def change_from_reference(totals: Mapping[date, int], treatments: Iterable[TreatmentResult],
                          days: range = CHANGE_DAYS) -> dict[int, list[float]]:
    """Per day since session, the totals minus that session's reference level R."""
    return _changes((s.reference, change_days(totals, s, days)) for s in treatments)


def _changes(sessions: Iterable[tuple[float | None, Mapping[int, int]]], days: range = CHANGE_DAYS) -> dict[int, list[float]]:
    by_day: dict[int, list[float]] = {d: [] for d in days}
    for reference, totals_by_day in sessions:
        if reference is None:
            continue
        for d, t in totals_by_day.items():
            by_day[d].append(t - reference)
    return by_day


@dataclass(frozen=True)
class Sums:
    """n, the sum and the sum of squares of some values: what a mean and its confidence
    interval need, and what adds up across patients without keeping the values."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    @classmethod
    def of(cls, values: Sequence[float]) -> "Sums":
        return cls(len(values), math.fsum(values), math.fsum(v * v for v in values))

    def __add__(self, other: "Sums") -> "Sums":
        return Sums(self.n + other.n, self.total + other.total, self.squares + other.squares)


def change_sums(totals: Mapping[date, int], treatments: Iterable[TreatmentResult]) -> dict[int, Sums]:
    """change_from_reference() summed per day (days with values only)."""
    return change_sums_of((s.reference, change_days(totals, s)) for s in treatments)


def change_sums_of(sessions: Iterable[tuple[float | None, Mapping[int, int]]]) -> dict[int, Sums]:
    """change_sums() from each session's reference level and change_days(): what the stored
    analysis keeps of every session, so a check-in need not read a year to redo the sums. The
    same in any order of sessions: Sums.of adds with math.fsum, which rounds once."""
    return {d: Sums.of(values) for d, values in _changes(sessions).items() if values}


def day_change(day: int, sums: Sums) -> DayChange:
    """The mean change on a day since session, with a 95% confidence interval (normal
    approximation) once there are two values."""
    n = sums.n
    if n == 0:
        return DayChange(day, 0, None, None, None)
    mean = sums.total / n
    if n < 2:
        return DayChange(day, 1, mean, None, None)
    variance = max(0.0, (sums.squares - sums.total * sums.total / n) / (n - 1))
    half = 1.96 * math.sqrt(variance) / math.sqrt(n)
    return DayChange(day, n, mean, mean - half, mean + half)


def cohort_from_counts(counts: Mapping[tuple[int, bool], int], treatments: int, responding: int,
                       sums_by_day: Mapping[int, Sums]) -> Cohort:
    """cohort() from its parts: duration pairs counted by (time, event), the sessions, and the
    change from the reference level summed by day."""
    curve = km_curve_from_counts(counts)
    return Cohort(curve, km_median(curve), treatments, responding,
                  [day_change(d, sums_by_day.get(d, Sums())) for d in CHANGE_DAYS])


def cohort(patients: Iterable[tuple[Mapping[date, int], PatientAnalysis]]) -> Cohort:
    """The clinic's Kaplan-Meier curve over all responding sessions, its median, and the mean
    change from the reference level by day since session (days -3..14)."""
    pairs: list[tuple[int, bool]] = []
    treatments = responding = 0
    by_day: dict[int, Sums] = {}
    for totals, analysis in patients:
        pairs += durations(analysis.treatments)
        treatments += len(analysis.treatments)
        responding += analysis.responding_treatments
        for d, sums in change_sums(totals, analysis.treatments).items():
            by_day[d] = by_day.get(d, Sums()) + sums
    counts: dict[tuple[int, bool], int] = {}
    for time, event in pairs:
        counts[(time, bool(event))] = counts.get((time, bool(event)), 0) + 1
    return cohort_from_counts(counts, treatments, responding, by_day)


def cohort_median(analyses: Iterable[PatientAnalysis]) -> float | None:
    """The cohort's Kaplan-Meier median alone (cohort() without the by-day means)."""
    return km_median(km_curve(pair for a in analyses for pair in durations(a.treatments)))


def expected_wane_on(analysis: PatientAnalysis, cohort_median: float | None) -> date | None:
    """When the latest session's benefit is expected to wear off, while it still holds: its
    date plus the typical duration (the patient's own median, else the clinic's)."""
    latest = analysis.latest
    median = analysis.median_duration if analysis.median_duration is not None else cohort_median
    if latest is None or median is None or latest.status != HOLDING:
        return None
    return latest.treatment_date + timedelta(days=math.ceil(median))


def wane_expected(analysis: PatientAnalysis, today: date, cohort_median: float | None) -> date | None:
    """The forecast for the current interval: the expected wane date when the latest session
    responded, has not waned, and it is at most a day before the typical duration (the
    patient's own median, else the clinic's)."""
    expected = expected_wane_on(analysis, cohort_median)
    median = analysis.median_duration if analysis.median_duration is not None else cohort_median
    if expected is not None and (today - analysis.latest.treatment_date).days >= median - 1:
        return expected
    return None


def local_dates(instants: Iterable, tz_name: str) -> list[date]:
    """Session instants (aware datetimes) as the patient's local calendar dates."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz_name)
    return [i.astimezone(zone).date() for i in instants]
