"""SPEC 4 on hand-made trajectories: the worked example and the awkward cases."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.durability import (
    HOLDING, INSUFFICIENT, NO_RESPONSE, WANED, Settings, analyse_patient, cohort, cohort_median, km_curve,
    km_median, local_dates, treatment_baseline, wane_expected,
)
from tests.factories import day

D0 = date(2026, 3, 2)  # day 0 of the trajectories below: day(n, D0)


def series(start: int, totals) -> list[tuple[date, int]]:
    """Totals on consecutive days from day `start`; None leaves a day without a check-in."""
    return [(day(start + i, D0), t) for i, t in enumerate(totals) if t is not None]


# SPEC 4's worked example: days -3..-1, 0, 1..3, 4..6, then a booster on day 7 and its days 1..3.
WORKED = series(-3, [15, 16, 14, None, 6, 5, 7, 8, 9, 11, None, 5, 4, 6])


def test_worked_example_first_session():
    a = analyse_patient(WORKED, [day(0, D0), day(7, D0)], today=day(10, D0))
    s = a.treatments[0]
    assert a.treatment_baseline == 15
    assert (s.baseline, s.reference, s.nadir, s.nadir_day, s.gain) == (15, 15, 5, 2, 10)
    assert s.responded is True
    assert s.threshold == 9
    assert (s.wane_day, s.status) == (5, WANED)
    assert s.interval_end == day(6, D0)
    assert s.wane_date == day(5, D0)


def test_worked_example_booster_measured_against_treatment_baseline():
    s = analyse_patient(WORKED, [day(0, D0), day(7, D0)], today=day(10, D0)).treatments[1]
    assert s.baseline == pytest.approx(28 / 3)  # 8, 9, 11: the first session's days 4..6
    assert s.reference == 15                    # R = B0, not the low B
    assert (s.nadir, s.nadir_day, s.gain, s.responded, s.threshold) == (4, 2, 11, True, 8)
    assert s.status == HOLDING and s.wane_day is None
    assert s.last_observed_day == 3


def test_a_single_high_day_is_not_confirmed():
    # T = 9; day 4 reads 12 but day 5 falls back, so the wane starts on day 6.
    data = series(-3, [15, 15, 15, None, 6, 5, 7, 12, 6, 10, 11])
    s = analyse_patient(data, [day(0, D0)], today=day(8, D0)).treatments[0]
    assert (s.status, s.wane_day) == (WANED, 6)


def test_missing_days_break_the_confirmation():
    # Day 5 has no check-in: days 4-5 and 5-6 cannot confirm; 6-7 can.
    data = series(-3, [15, 15, 15, None, 6, 5, 7, 10, None, 10, 10])
    s = analyse_patient(data, [day(0, D0)], today=day(8, D0)).treatments[0]
    assert (s.status, s.wane_day) == (WANED, 6)


def test_the_confirm_pair_may_not_cross_the_next_session():
    # Day 6 is high, day 7 (the booster's day 0) is high too, but day 7 is outside the interval.
    data = series(-3, [15, 15, 15, None, 6, 5, 7, 7, 7, 12, 12])
    first = analyse_patient(data, [day(0, D0), day(7, D0)], today=day(7, D0)).treatments[0]
    assert first.status == HOLDING
    assert first.last_observed_day == 6
    assert first.interval_end == day(6, D0)


def test_several_sessions_on_one_date_count_as_one():
    a = analyse_patient(WORKED, [day(0, D0), day(0, D0), day(7, D0)], today=day(10, D0))
    assert [s.treatment_date for s in a.treatments] == [day(0, D0), day(7, D0)]


def test_sessions_two_days_apart():
    # The first interval is days 0..1 only: its nadir can come only from day 1, and there is
    # no room for two confirming days after it.
    data = series(-3, [15, 15, 15, None, 6, 3, 4, 12, 12, 12])
    a = analyse_patient(data, [day(0, D0), day(2, D0)], today=day(6, D0))
    first, second = a.treatments
    assert (first.nadir, first.nadir_day, first.status) == (6, 1, HOLDING)
    assert first.interval_end == day(1, D0) and first.last_observed_day == 1
    # The second session's baseline days -3..-1 are days -1, 0, 1 of the first: 15, (none), 6.
    assert second.baseline == pytest.approx(10.5)
    assert second.reference == 15


def test_no_baseline_is_insufficient_data():
    data = series(1, [6, 5, 7, 12, 12])
    s = analyse_patient(data, [day(0, D0)], today=day(6, D0)).treatments[0]
    assert (s.baseline, s.reference, s.status) == (None, None, INSUFFICIENT)
    assert s.responded is None


def test_one_day_before_the_first_session_is_not_a_treatment_baseline():
    data = series(-1, [15, None, 6, 5])
    a = analyse_patient(data, [day(0, D0)], today=day(3, D0))
    assert a.treatment_baseline is None
    s = a.treatments[0]
    assert (s.baseline, s.reference, s.nadir) == (15, 15, 5)  # the session baseline still counts


def test_treatment_baseline_uses_only_the_seven_days_before_the_first_session():
    data = series(-9, [21, 21, 10, None, None, None, None, None, 14, None])
    assert treatment_baseline(dict(data), day(0, D0)) == 12  # days -7 (10) and -1 (14); -9, -8 are too early


def test_no_post_session_data_is_insufficient_data():
    data = series(-3, [15, 15, 15])
    s = analyse_patient(data, [day(0, D0)], today=day(5, D0)).treatments[0]
    assert (s.nadir, s.status, s.last_observed_day) == (None, INSUFFICIENT, None)


def test_session_today_is_insufficient_data_not_an_error():
    s = analyse_patient(series(-3, [15, 15, 15, 14]), [day(0, D0)], today=day(0, D0)).treatments[0]
    assert s.status == INSUFFICIENT and s.last_observed_day == 0


def test_zero_baseline_is_no_response():
    data = series(-3, [0, 0, 0, None, 0, 0, 0])
    s = analyse_patient(data, [day(0, D0)], today=day(3, D0)).treatments[0]
    assert (s.reference, s.gain, s.responded, s.status) == (0, 0, False, NO_RESPONSE)
    assert s.wane_day is None and s.threshold is None


def test_small_gain_is_no_response():
    data = series(-3, [12, 12, 12, None, 10, 9, 10])
    s = analyse_patient(data, [day(0, D0)], today=day(3, D0)).treatments[0]
    assert (s.gain, s.responded, s.status) == (3, False, NO_RESPONSE)


def test_response_by_ratio_only():
    # R = 6, N = 3: G = 3 is below the MCID of 4, but it halves the reference level.
    data = series(-3, [6, 6, 6, None, 4, 3, 4, 4, 5, 5])
    s = analyse_patient(data, [day(0, D0)], today=day(6, D0)).treatments[0]
    assert (s.gain, s.responded) == (3, True)
    assert s.threshold == 4.5  # 3 + min(4, 0.5 * 3)
    assert (s.status, s.wane_day) == (WANED, 5)


def test_ratio_just_below_half_is_no_response():
    data = series(-3, [7, 7, 7, None, 4, 4, 4])  # G = 3, 3/7 < 0.5
    assert analyse_patient(data, [day(0, D0)], today=day(3, D0)).treatments[0].status == NO_RESPONSE


def test_nadir_ties_take_the_earliest_day():
    data = series(-3, [15, 15, 15, None, 5, 5, 5, 9, 9])
    s = analyse_patient(data, [day(0, D0)], today=day(5, D0)).treatments[0]
    assert (s.nadir, s.nadir_day) == (5, 1)
    assert s.wane_day == 4  # the first day after the nadir day with a confirmed pair (T = 9)


def test_threshold_uses_the_mcid_cap_for_large_gains():
    data = series(-3, [20, 20, 20, None, 2, 2, 2, 5, 6, 6])
    s = analyse_patient(data, [day(0, D0)], today=day(6, D0)).treatments[0]
    assert s.threshold == 6  # 2 + min(4, 9)
    assert s.wane_day == 5


def test_totals_exactly_at_the_threshold_count_as_waned():
    data = series(-3, [15, 15, 15, None, 6, 5, 7, 9, 9])
    assert analyse_patient(data, [day(0, D0)], today=day(5, D0)).treatments[0].wane_day == 4


def test_clinic_settings_change_the_analysis():
    data = series(-3, [15, 15, 15, None, 6, 5, 7, 9, 9, 9])
    strict = Settings(mcid=6, confirm_days=3)
    s = analyse_patient(data, [day(0, D0)], today=day(6, D0), settings=strict).treatments[0]
    assert s.threshold == 10  # 5 + min(6, 5)
    assert s.status == HOLDING


def test_planned_sessions_after_today_are_not_analysed():
    a = analyse_patient(WORKED, [day(0, D0), day(30, D0)], today=day(6, D0))
    assert [s.treatment_date for s in a.treatments] == [day(0, D0)]
    assert a.treatments[0].interval_end == day(6, D0)


def test_no_sessions():
    a = analyse_patient(WORKED, [], today=day(10, D0))
    assert a.treatments == [] and a.median_duration is None and a.latest is None


def test_days_are_local_dates_across_daylight_saving_changes():
    """Sessions given as instants are dated in the patient's zone; day numbers are calendar days
    even across a 23-hour or 25-hour day."""
    ny = ZoneInfo("America/New_York")
    # Saturday 7 March 2026, 21:30 in New York is already Sunday 02:30 UTC; DST starts on the 8th.
    instants = [datetime(2026, 3, 8, 2, 30, tzinfo=timezone.utc),
                datetime(2026, 10, 31, 23, 30, tzinfo=ny).astimezone(timezone.utc)]
    assert local_dates(instants, "America/New_York") == [date(2026, 3, 7), date(2026, 10, 31)]
    spring = series(-3, [15, 15, 15, None, 6, 5, 7, 10, 10])  # D0 = 2 March; day 6 is 8 March
    s = analyse_patient([(d + timedelta(days=5), t) for d, t in spring], [date(2026, 3, 7)],
                        today=date(2026, 3, 12)).treatments[0]
    assert (s.wane_day, s.wane_date) == (4, date(2026, 3, 11))
    fall = [(date(2026, 10, 31) + timedelta(days=n), t) for n, t in
            [(-3, 15), (-2, 15), (-1, 15), (1, 6), (2, 5), (3, 7), (4, 10), (5, 10)]]
    s = analyse_patient(fall, [date(2026, 10, 31)], today=date(2026, 11, 6)).treatments[0]
    assert (s.wane_day, s.wane_date) == (4, date(2026, 11, 4))


# Kaplan-Meier


def test_km_with_censoring():
    # Censored at 3, events at 5, 6 and 8: S(5) = 2/3, S(6) = 1/3 -> median 6.
    curve = km_curve([(3, False), (5, True), (6, True), (8, True)])
    assert curve[0] == (0, 1.0)
    assert curve[1] == (5, pytest.approx(2 / 3))
    assert curve[2] == (6, pytest.approx(1 / 3))
    assert km_median(curve) == 6


def test_km_events_before_censorings_at_the_same_time():
    # The one censored at 4 was still at risk at 4: S(4) = 2/3 (not 1/2), S(7) = 0.
    curve = km_curve([(4, True), (4, False), (7, True)])
    assert curve[1] == (4, pytest.approx(2 / 3))
    assert curve[2] == (7, 0.0)
    assert km_median(curve) == 7


def test_km_median_unknown_while_most_still_hold():
    assert km_median(km_curve([(5, True), (9, False), (9, False)])) is None
    assert km_median(km_curve([])) is None


def test_patient_median_over_responding_sessions():
    # Three weekly sessions that wane on days 5, 4 and 6; a no-response session is ignored.
    data = (series(-3, [15, 15, 15]) +
            series(1, [5, 5, 5, 5, 10, 10, 10]) +      # session day 0: wanes day 5
            series(8, [5, 5, 5, 10, 10, 10]) +         # session day 7: wanes day 4
            series(15, [5, 5, 5, 5, 5, 10]) +          # session day 14: wanes day 6 (needs day 21)
            series(22, [13, 14, 13]))                  # session day 21: no response (G = 2 from 15)
    a = analyse_patient(data, [day(0, D0), day(7, D0), day(14, D0), day(21, D0)], today=day(24, D0))
    assert [s.status for s in a.treatments] == [WANED, WANED, HOLDING, NO_RESPONSE]
    assert [s.wane_day for s in a.treatments] == [5, 4, None, None]
    assert a.treatments[2].last_observed_day == 6
    # Durations: 4 (event), 5 (event), 6 (censored) -> S(4) = 2/3, S(5) = 1/3 -> median 5.
    assert a.median_duration == 5
    assert a.responding_treatments == 3


def test_cohort_curve_median_and_change_by_day():
    p1 = series(-3, [15, 15, 15, None, 6, 5, 7, 8, 9, 11])
    p2 = series(-3, [10, 10, 10, None, 4, 4, 4, 4, 4, 4])
    a1 = analyse_patient(p1, [day(0, D0)], today=day(6, D0))
    a2 = analyse_patient(p2, [day(0, D0)], today=day(6, D0))
    c = cohort([(dict(p1), a1), (dict(p2), a2)])
    assert (c.treatments, c.responding) == (2, 2)
    assert c.curve == [(0, 1.0), (5, 0.5)]
    assert c.median_duration == 5
    by_day = {x.day: x for x in c.change_by_day}
    assert [x.day for x in c.change_by_day] == list(range(-3, 15))
    assert by_day[2].n == 2 and by_day[2].mean == pytest.approx(((5 - 15) + (4 - 10)) / 2)
    assert by_day[2].ci_low < by_day[2].mean < by_day[2].ci_high
    assert by_day[0].n == 0 and by_day[0].mean is None
    assert by_day[10].n == 0
    assert cohort_median([a1, a2]) == 5  # the median alone, as the dashboard's fallback computes it
    assert cohort_median([a2]) is None and cohort_median([]) is None


def test_change_by_day_stops_at_the_next_session():
    data = series(-3, [15, 15, 15, None, 6, 5, 7, 8, 9, 11, 20, 5])
    a = analyse_patient(data, [day(0, D0), day(7, D0)], today=day(8, D0))
    c = cohort([(dict(data), a)])
    by_day = {x.day: x for x in c.change_by_day}
    # Day 7 of the first session is the second's day 0 and must not count for the first.
    assert by_day[7].n == 0
    assert by_day[0].n == 1 and by_day[0].mean == 20 - 15


# Forecast


def test_wane_expected_from_the_patients_own_median():
    data = (series(-3, [15, 15, 15]) + series(1, [5, 5, 5, 5, 10, 10, 10]) +
            series(8, [5, 5, 5, 5]))
    a = analyse_patient(data, [day(0, D0), day(7, D0)], today=day(11, D0))
    assert a.median_duration == 5
    assert a.latest.status == HOLDING
    assert wane_expected(a, day(11, D0), cohort_median=9) == day(12, D0)  # day 4 >= 5 - 1
    assert wane_expected(a, day(10, D0), cohort_median=9) is None     # day 3 < 4


def test_wane_expected_falls_back_to_the_cohort_median():
    data = series(-3, [15, 15, 15, None, 5, 5, 5, 5, 5, 5])
    a = analyse_patient(data, [day(0, D0)], today=day(6, D0))
    assert a.median_duration is None
    assert wane_expected(a, day(6, D0), cohort_median=7) == day(7, D0)
    assert wane_expected(a, day(6, D0), cohort_median=None) is None


def test_no_forecast_after_a_wane_or_without_response():
    waned = analyse_patient(series(-3, [15, 15, 15, None, 5, 5, 5, 10, 10]), [day(0, D0)], today=day(5, D0))
    assert waned.latest.status == WANED
    assert wane_expected(waned, day(5, D0), cohort_median=1) is None
    flat = analyse_patient(series(-3, [15, 15, 15, None, 14, 14, 14]), [day(0, D0)], today=day(3, D0))
    assert wane_expected(flat, day(3, D0), cohort_median=1) is None
