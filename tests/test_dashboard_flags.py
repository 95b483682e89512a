"""The triage dashboard's flags, columns and order as pure functions: hand-made patients, no database."""
import dataclasses

import pytest

from monitor import durability, schedule
from monitor.analysis import PatientData
from monitor.models import User
from monitor.dashboard import (
    FLAGS, WEIGHTS, attention_score, build_row, clean_search, matches, ordered,
    recent_side_effect, rise,
)
from monitor.schedule import missed_streak
from tests.factories import NEW_YORK, NOW, TODAY, at_local, day, unsaved_treatment

# NOW is 10:00 on TODAY in New York.


def make_patient(status="active", enrolled=day(-100), last_name="Archer", first_name="Alice", id=1) -> User:
    """A patient that is never stored, enrolled at noon on `enrolled` in New York."""
    created = at_local(enrolled, 12)
    return User(id=id, role="patient", first_name=first_name, last_name=last_name, timezone=NEW_YORK,
                status=status, created_at=created, password_hash="x")


def patient_data(totals: dict[int, int], sessions=(), patient=None) -> PatientData:
    """totals: {day offset: total}; sessions: day offsets, at noon New York time."""
    treatments = [unsaved_treatment(at_local(day(n), 12)) for n in sessions]
    data = PatientData(patient or make_patient(), TODAY, {day(n): t for n, t in totals.items()}, [], treatments)
    data.analysis = durability.analyse_patient(data.totals.items(), [data.treatment_date(t) for t in treatments], TODAY)
    return data


def row_of(data, *, cohort_median=None, side_effects=(), mcid=4, lapse_days=3):
    return build_row(data, now=NOW, mcid=mcid, lapse_days=lapse_days, cohort_median=cohort_median,
                     severe_side_effect_dates=side_effects)


def every_day(first: int, last: int, total: int = 8) -> dict[int, int]:
    return {n: total for n in range(first, last + 1)}


# --- Severe side effect in the last 7 days.

def test_severe_side_effect_six_days_ago_is_flagged():
    row = row_of(patient_data(every_day(-10, 0)), side_effects=[day(-6)])
    assert "side-effect" in row.flags
    assert row.side_effect_on == day(-6)


def test_severe_side_effect_seven_days_ago_is_not_flagged():
    row = row_of(patient_data(every_day(-10, 0)), side_effects=[day(-7)])
    assert "side-effect" not in row.flags
    assert row.side_effect_on is None


def test_recent_side_effect_gives_the_latest_date_in_the_window():
    assert recent_side_effect([day(-9), day(-5), day(-1)], TODAY) == day(-1)
    assert recent_side_effect([], TODAY) is None


# --- Latest total in the severe band.

def test_latest_total_of_15_is_severe():
    assert "severe" in row_of(patient_data({-1: 3, 0: 15})).flags


def test_latest_total_of_14_is_not_severe():
    assert "severe" not in row_of(patient_data({-1: 3, 0: 14})).flags


def test_an_earlier_severe_total_does_not_flag_when_the_latest_is_lower():
    row = row_of(patient_data({-2: 20, -1: 10}))
    assert "severe" not in row.flags
    assert (row.latest_date, row.latest_total, row.band.key) == (day(-1), 10, "moderate")


# --- The latest session: waning now, no response.

# SPEC 4's worked example with day 0 six days ago: N = 5 on day 2, T = 9, days 5 and 6 read 9 and 11.
WORKED = {-9: 15, -8: 16, -7: 14, -5: 6, -4: 5, -3: 7, -2: 8, -1: 9, 0: 11}


def test_latest_session_that_has_waned_is_waning_now():
    data = patient_data(WORKED, sessions=[-6])
    assert data.analysis.latest.status == durability.WANED
    assert "waning" in row_of(data).flags


def test_a_booster_that_holds_clears_waning_now():
    # The worked example's booster, given on day 7, reads 5, 4, 6 on its days 1..3: holding.
    totals = {n - 10: t for n, t in {-3: 15, -2: 16, -1: 14, 1: 6, 2: 5, 3: 7, 4: 8, 5: 9, 6: 11,
                                      8: 5, 9: 4, 10: 6}.items()}
    data = patient_data(totals, sessions=[-10, -3])
    assert [s.status for s in data.analysis.treatments] == [durability.WANED, durability.HOLDING]
    assert "waning" not in row_of(data).flags


def test_latest_session_without_enough_gain_is_no_response():
    data = patient_data({-7: 15, -6: 15, -5: 15, -3: 13, -2: 12, -1: 13, 0: 14}, sessions=[-4])
    assert data.analysis.latest.status == durability.NO_RESPONSE
    row = row_of(data)
    assert "no-response" in row.flags
    assert "waning" not in row.flags


def test_latest_session_that_responded_is_not_no_response():
    data = patient_data({-7: 15, -6: 15, -5: 15, -3: 6, -2: 5, -1: 6, 0: 6}, sessions=[-4])
    assert data.analysis.latest.status == durability.HOLDING
    assert "no-response" not in row_of(data).flags


def test_no_sessions_means_no_session_flags():
    row = row_of(patient_data(every_day(-5, 0)))
    assert not row.flags & {"waning", "no-response", "wane-expected"}
    assert row.days_since_treatment is None
    assert row.typical_duration is None


# --- Wane expected (the forecast for the current interval).

HOLDING_SINCE_DAY_MINUS_4 = {-7: 15, -6: 15, -5: 15, -3: 6, -2: 5, -1: 6, 0: 6}


def test_wane_expected_a_day_before_the_cohort_median_with_the_date():
    row = row_of(patient_data(HOLDING_SINCE_DAY_MINUS_4, sessions=[-4]), cohort_median=5)
    assert "wane-expected" in row.flags
    assert row.wane_expected_on == day(1)  # the session's day 5


def test_wane_not_expected_earlier_than_a_day_before_the_median():
    row = row_of(patient_data(HOLDING_SINCE_DAY_MINUS_4, sessions=[-4]), cohort_median=6)
    assert "wane-expected" not in row.flags
    assert row.wane_expected_on is None


def test_wane_not_expected_without_any_median():
    assert "wane-expected" not in row_of(patient_data(HOLDING_SINCE_DAY_MINUS_4, sessions=[-4])).flags


# --- Rising.

def test_rising_by_the_mcid_above_the_lowest_of_the_three_days_before():
    row = row_of(patient_data({-3: 5, -2: 7, -1: 8, 0: 9}))
    assert "rising" in row.flags
    assert row.rise == 4


def test_rising_by_less_than_the_mcid_is_not_flagged():
    row = row_of(patient_data({-3: 5, -2: 7, -1: 8, 0: 8}))
    assert "rising" not in row.flags
    assert row.rise == 3


def test_rising_follows_the_clinics_mcid():
    assert "rising" in row_of(patient_data({-1: 5, 0: 8}), mcid=3).flags
    assert "rising" not in row_of(patient_data({-1: 5, 0: 8}), mcid=4).flags


def test_rising_ignores_a_low_total_four_days_before():
    assert rise({day(-4): 2, day(-3): 6, day(-2): 6, day(-1): 6, day(0): 9}) == 3


def test_rising_counts_back_from_the_latest_check_in_not_from_today():
    # Latest check-in two days ago; its three days before are days -5..-3.
    assert rise({day(-5): 3, day(-4): 9, day(-2): 9}) == 6


def test_rising_needs_a_check_in_in_the_three_days_before():
    assert rise({day(-4): 2, day(0): 12}) is None
    assert rise({}) is None
    assert "rising" not in row_of(patient_data({-4: 2, 0: 12})).flags


# --- Missed yesterday and lapsed.

def test_checked_in_yesterday_is_not_missed():
    row = row_of(patient_data(every_day(-10, -1)))
    assert not row.flags & {"missed", "lapsed"}
    assert row.missed_days == 0


def test_no_check_in_yesterday_is_missed_even_after_checking_in_today():
    row = row_of(patient_data({**every_day(-10, -2), 0: 8}))
    assert "missed" in row.flags and "lapsed" not in row.flags
    assert row.missed_days == 1


def test_today_still_open_is_not_missed():
    assert missed_streak({day(-1)}, TODAY) == 0


def test_two_missed_days_are_not_lapsed_three_are():
    two = row_of(patient_data(every_day(-10, -3)))
    assert two.missed_days == 2 and "missed" in two.flags and "lapsed" not in two.flags
    three = row_of(patient_data(every_day(-10, -4)))
    assert three.missed_days == 3 and {"missed", "lapsed"} <= three.flags


def test_lapsed_follows_the_clinics_lapse_days():
    data = patient_data(every_day(-10, -4))
    assert "lapsed" not in row_of(data, lapse_days=4).flags
    assert "lapsed" in row_of(data, lapse_days=2).flags


def test_days_before_the_first_check_in_are_not_missed():
    assert missed_streak({day(0)}, TODAY) == 0            # first check-in today
    assert missed_streak(set(), TODAY) == 0               # never checked in
    row = row_of(patient_data({}, patient=make_patient(enrolled=day(-20))))
    assert not row.flags & {"missed", "lapsed"}


def test_days_before_enrolment_are_not_missed():
    # Imported earlier check-ins end ten days ago; the patient was enrolled two days ago.
    row = row_of(patient_data(every_day(-30, -10), patient=make_patient(enrolled=day(-2))))
    assert row.missed_days == 2
    assert "missed" in row.flags and "lapsed" not in row.flags
    assert missed_streak({day(-10)}, TODAY, first_day=day(-2)) == 2
    assert missed_streak({day(-10)}, TODAY, first_day=TODAY) == 0


def test_days_before_a_later_expected_start_are_not_missed():
    # Back from a pause four days ago: the pause is not missed days.
    data = patient_data(every_day(-30, -10), patient=make_patient(enrolled=day(-60)))
    assert row_of(data).missed_days == 9
    row = build_row(data, now=NOW, mcid=4, lapse_days=3, cohort_median=None, expected_from=day(-4))
    assert row.missed_days == 4 and "lapsed" in row.flags


@pytest.mark.parametrize("status", ["paused", "discharged"])
def test_paused_and_discharged_patients_are_never_missed_or_lapsed(status):
    row = row_of(patient_data(every_day(-30, -10), patient=make_patient(status=status)))
    assert not row.flags & {"missed", "lapsed"}
    assert row.missed_days == 0
    assert row.active is False


def test_paused_patients_keep_their_clinical_flags():
    row = row_of(patient_data({-1: 3, 0: 18}, patient=make_patient(status="paused")))
    assert "severe" in row.flags


# --- Columns.

def test_adherence_counts_the_14_days_up_to_yesterday_when_today_is_open():
    assert schedule.adherence({day(-14)}, TODAY, 14)[0] == 1
    assert schedule.adherence({day(n) for n in range(-20, 0)}, TODAY, 14)[0] == 14


def test_adherence_counts_up_to_today_once_checked_in_today():
    assert schedule.adherence({day(-14), day(0)}, TODAY, 14)[0] == 1  # day -14 falls out of the window
    row = row_of(patient_data({n: 5 for n in range(-13, 1, 2)}))  # every other day, today included
    assert row.adherence == 7
    assert row.adherence_percent == 50


def test_days_since_session_ignore_planned_sessions():
    row = row_of(patient_data(every_day(-10, 0), sessions=[-8, -3, 2]))
    assert row.days_since_treatment == 3


def test_trend_is_drawn_for_the_last_30_days():
    row = row_of(patient_data({-40: 12, -29: 14, -1: 6}))
    assert row.trend_checkins == 2
    assert 'aria-label="Trend of the last 30 days: from 14 to 6 (2 check-ins)"' in row.trend


# --- Order.

def test_each_flag_outweighs_all_the_flags_below_it_together():
    keys = [f.key for f in FLAGS]
    assert keys == ["side-effect", "severe", "waning", "lapsed", "no-response", "rising", "wane-expected", "missed"]
    for n, key in enumerate(keys):
        assert WEIGHTS[key] > sum(WEIGHTS[k] for k in keys[n + 1:])
    assert attention_score(set()) == 0


def test_rows_are_ordered_by_attention_then_last_name():
    base = row_of(patient_data({0: 5}))

    def with_flags(last_name, *flags, id):
        patient = make_patient(last_name=last_name, id=id)
        return dataclasses.replace(base, patient=patient, flags=frozenset(flags))

    rows = [
        with_flags("Quiet", id=1),
        with_flags("Missed", "missed", id=2),
        with_flags("Expected", "wane-expected", id=3),
        with_flags("Rising", "rising", "missed", id=4),
        with_flags("NoResponse", "no-response", id=5),
        with_flags("Lapsed", "lapsed", "missed", "rising", "wane-expected", id=6),
        with_flags("Waning", "waning", id=7),
        with_flags("Severe", "severe", id=8),
        with_flags("SideEffect", "side-effect", id=9),
        with_flags("aardvark", id=10),
        with_flags("Both", "side-effect", "severe", id=11),
        with_flags("bmissed", "missed", id=12),
    ]
    assert [r.patient.last_name for r in ordered(rows)] == [
        "Both", "SideEffect", "Severe", "Waning", "Lapsed", "NoResponse", "Rising", "Expected",
        "bmissed", "Missed", "aardvark", "Quiet",
    ]


# --- Search.

@pytest.mark.parametrize("text", ["ali", "ARCH", "alice archer", "Archer, Alice", "  alice   ARCHER ", ""])
def test_search_matches_a_case_insensitive_part_of_the_name(text):
    assert matches(make_patient(), text)


@pytest.mark.parametrize("text", ["bob", "alicea", "archer alicia", "example.test"])
def test_search_does_not_match_other_names(text):
    assert not matches(make_patient(), text)


def test_search_text_is_trimmed_and_limited():
    assert clean_search("  Alice \n Archer ") == "Alice Archer"
    assert len(clean_search("x" * 500)) == 80
    assert clean_search(None) == ""
