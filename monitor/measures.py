"""What the durability report (SPEC 8, monitor/report.py) needs of one patient's analysis,
as a summary that adds up across patients: stored with the analysis (stored_analysis.py), so
the report reads a row per patient instead of every history.

Pure functions: dates and totals in, numbers out."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from . import durability

WANE_BY_DAY = 7
THREE_TREATMENT_DAYS = (1, 3)


@dataclass(frozen=True)
class PatientSummary:
    treatments: int = 0                 # analysed sessions
    judged: int = 0                     # sessions with a definite answer (responded or no-response)
    waned_by_day_7: int = 0             # responding sessions that waned on or before WANE_BY_DAY
    third_treatment_mean: float | None = None  # see third_treatment_mean()
    # durability.change_sums(): the change from the reference level by day since session.
    change_by_day: dict[int, durability.Sums] = field(default_factory=dict)


def third_treatment_mean(totals: Mapping[date, int], result: durability.PatientAnalysis) -> float | None:
    """Mean daily total over days 1..3 after the third session, inside its interval; None
    without a third session or without a check-in on those days."""
    if len(result.treatments) < 3:
        return None
    third = result.treatments[2]
    lo, hi = THREE_TREATMENT_DAYS
    values = [totals[d] for n in range(lo, hi + 1)
              if (d := third.day(n)) <= third.interval_end and d in totals]
    return sum(values) / len(values) if values else None


def summarise(totals: Mapping[date, int], result: durability.PatientAnalysis) -> PatientSummary:
    return summary_of(result, [durability.change_days(totals, s) for s in result.treatments],
                      third_treatment_mean(totals, result))


def summary_of(result: durability.PatientAnalysis, changes: Sequence[Mapping[int, int]],
               third_mean: float | None) -> PatientSummary:
    """summarise() from each session's durability.change_days() and the third session's mean:
    what the stored analysis keeps, so a check-in redoes the summary without a year of totals."""
    treatments = result.treatments
    return PatientSummary(
        treatments=len(treatments),
        judged=sum(1 for s in treatments if s.responded is not None),
        waned_by_day_7=sum(1 for s in treatments
                           if s.responded and s.status == durability.WANED and s.wane_day <= WANE_BY_DAY),
        third_treatment_mean=third_mean,
        change_by_day=durability.change_sums_of(zip((s.reference for s in treatments), changes)),
    )
