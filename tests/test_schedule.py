"""SPEC 5's dates as pure functions: reminder instants across both daylight-saving changes in
New York and London, the state of a local date, and missed days in a row. No app, no database."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor import schedule
from monitor.schedule import DONE, LATE, MISSED, NOT_EXPECTED, PENDING


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# --- Reminder instants.

@pytest.mark.parametrize("zone, day, at, expected", [
    # Ordinary days.
    ("America/New_York", date(2026, 11, 26), time(19, 0), "2026-11-27T00:00"),
    ("Europe/London", date(2026, 11, 26), time(19, 0), "2026-11-26T19:00"),
    ("Europe/London", date(2026, 7, 1), time(19, 0), "2026-07-01T18:00"),
    # New York springs forward on 8 March 2026 at 02:00 EST -> 03:00 EDT.
    ("America/New_York", date(2026, 3, 8), time(19, 0), "2026-03-08T23:00"),
    ("America/New_York", date(2026, 3, 8), time(1, 59), "2026-03-08T06:59"),
    ("America/New_York", date(2026, 3, 8), time(2, 0), "2026-03-08T07:00"),   # in the gap: 03:00 EDT
    ("America/New_York", date(2026, 3, 8), time(2, 30), "2026-03-08T07:00"),  # in the gap: 03:00 EDT
    ("America/New_York", date(2026, 3, 8), time(3, 0), "2026-03-08T07:00"),
    ("America/New_York", date(2026, 3, 8), time(3, 1), "2026-03-08T07:01"),
    # New York falls back on 1 November 2026 at 02:00 EDT -> 01:00 EST: 01:30 happens twice.
    ("America/New_York", date(2026, 11, 1), time(1, 30), "2026-11-01T05:30"),  # the first (EDT) one
    ("America/New_York", date(2026, 11, 1), time(19, 0), "2026-11-02T00:00"),
    # London springs forward on 29 March 2026 at 01:00 GMT -> 02:00 BST.
    ("Europe/London", date(2026, 3, 29), time(1, 30), "2026-03-29T01:00"),     # in the gap: 02:00 BST
    ("Europe/London", date(2026, 3, 29), time(19, 0), "2026-03-29T18:00"),
    # London falls back on 25 October 2026 at 02:00 BST -> 01:00 GMT: 01:30 happens twice.
    ("Europe/London", date(2026, 10, 25), time(1, 30), "2026-10-25T00:30"),    # the first (BST) one
    ("Europe/London", date(2026, 10, 25), time(19, 0), "2026-10-25T19:00"),
    # A half-hour change (Lord Howe Island, 4 October 2026, 02:00 -> 02:30).
    ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), "2026-10-03T15:30"),
])
def test_reminder_instant(zone, day, at, expected):
    assert schedule.reminder_instant(day, at, zone) == utc(expected)


def test_a_time_inside_the_spring_gap_moves_to_the_first_valid_instant_after_it():
    instant = schedule.reminder_instant(date(2026, 3, 8), time(2, 30), "America/New_York")
    local = instant.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute, local.tzname()) == (3, 0, "EDT")


def test_the_repeated_fall_back_hour_reminds_at_its_first_occurrence():
    first = schedule.reminder_instant(date(2026, 10, 25), time(1, 30), "Europe/London")
    assert first.astimezone(ZoneInfo("Europe/London")).tzname() == "BST"


def test_reminder_instants_of_consecutive_dates_are_a_day_apart_except_across_a_change():
    zone = "America/New_York"
    before, on, after = (schedule.reminder_instant(date(2026, 3, d), time(19, 0), zone) for d in (7, 8, 9))
    assert (on - before).total_seconds() == 23 * 3600  # the short day
    assert (after - on).total_seconds() == 24 * 3600


# --- The state of a local date.

NY = "America/New_York"
SEVEN = time(19, 0)


@pytest.mark.parametrize("now, day, checked_in, expected", [
    ("2026-11-26T23:59", date(2026, 11, 26), False, PENDING),  # 18:59 in New York
    ("2026-11-27T00:00", date(2026, 11, 26), False, LATE),     # 19:00
    ("2026-11-27T04:59", date(2026, 11, 26), False, LATE),     # 23:59
    ("2026-11-27T05:00", date(2026, 11, 26), False, MISSED),   # midnight: the date is over
    ("2026-11-27T05:00", date(2026, 11, 26), True, DONE),
    ("2026-11-26T15:00", date(2026, 11, 26), True, DONE),      # done before the reminder time
    ("2026-11-26T15:00", date(2026, 11, 27), False, PENDING),  # tomorrow
])
def test_day_state(now, day, checked_in, expected):
    assert schedule.day_state(day, utc(now), NY, SEVEN, checked_in=checked_in) == expected


def test_states_are_computed_in_the_patients_own_zone():
    now = utc("2026-11-26T20:00")  # 20:00 in London, 15:00 in New York
    day = date(2026, 11, 26)
    assert schedule.day_state(day, now, "Europe/London", SEVEN, checked_in=False) == LATE
    assert schedule.day_state(day, now, NY, SEVEN, checked_in=False) == PENDING


def test_paused_and_discharged_patients_are_never_late_or_missed():
    now = utc("2026-11-28T02:00")
    for day in (date(2026, 11, 26), date(2026, 11, 27)):
        assert schedule.day_state(day, now, NY, SEVEN, checked_in=False, active=False) == NOT_EXPECTED
    assert schedule.day_state(date(2026, 11, 26), now, NY, SEVEN, checked_in=True, active=False) == DONE


def test_a_zone_change_moves_the_reminder_instant_not_the_date_of_a_record():
    now = utc("2026-11-26T20:00")
    day = date(2026, 11, 26)
    # Late in London; after moving to Los Angeles (12:00 there) the same date is pending again,
    # which is why the nudge record, keyed by the date, is what prevents a second nudge.
    assert schedule.day_state(day, now, "Europe/London", SEVEN, checked_in=False) == LATE
    assert schedule.day_state(day, now, "America/Los_Angeles", SEVEN, checked_in=False) == PENDING
    # Moving east across midnight: in Tokyo it is already the 27th, and the 26th is over.
    assert schedule.local_date(now, "Asia/Tokyo") == date(2026, 11, 27)
    assert schedule.day_state(day, now, "Asia/Tokyo", SEVEN, checked_in=False) == MISSED


# --- Which date a run nudges.

NY, TOKYO, LONDON, LA = "America/New_York", "Asia/Tokyo", "Europe/London", "America/Los_Angeles"
SIX_PM_IN_NY = utc("2026-11-26T23:00")  # 18:00 on the 26th in New York, 08:00 on the 27th in Tokyo


def to_nudge(now, zone, previous=None, changed=None, at=SEVEN):
    return schedule.date_to_nudge(utc(now) if isinstance(now, str) else now, zone, at,
                                  previous_zone=previous, zone_changed_at=changed)


@pytest.mark.parametrize("now, expected", [
    ("2026-11-26T23:59", None),                 # 18:59 in New York
    ("2026-11-27T00:00", date(2026, 11, 26)),   # 19:00
    ("2026-11-27T04:59", date(2026, 11, 26)),   # 23:59
    ("2026-11-27T05:00", None),                 # midnight: the 26th is over, missed not nudged
    ("2026-11-27T23:59", None),
])
def test_without_a_zone_change_only_the_current_date_after_its_reminder(now, expected):
    assert to_nudge(now, NY) == expected


def test_moving_east_past_midnight_keeps_the_old_dates_reminder_at_its_instant():
    """New York at 18:00 to Tokyo (08:00 the next day): the 26th was never reminded."""
    assert schedule.carried_date(SIX_PM_IN_NY, NY, TOKYO, SEVEN) == (date(2026, 11, 26), utc("2026-11-27T00:00"))
    assert to_nudge("2026-11-26T23:30", TOKYO, NY, SIX_PM_IN_NY) is None                 # 18:30 New York time
    assert to_nudge("2026-11-27T00:00", TOKYO, NY, SIX_PM_IN_NY) == date(2026, 11, 26)   # 19:00 New York time
    assert to_nudge("2026-11-27T09:59", TOKYO, NY, SIX_PM_IN_NY) == date(2026, 11, 26)
    # At 19:00 in Tokyo the 27th's own reminder takes over; the 26th is not offered again after.
    assert to_nudge("2026-11-27T10:00", TOKYO, NY, SIX_PM_IN_NY) == date(2026, 11, 27)
    assert to_nudge("2026-11-27T15:00", TOKYO, NY, SIX_PM_IN_NY) is None                 # Tokyo's 28th
    assert to_nudge("2026-11-28T09:00", TOKYO, NY, SIX_PM_IN_NY) is None


@pytest.mark.parametrize("changed, old, new", [
    (utc("2026-11-27T01:00"), NY, TOKYO),     # 20:00 in New York: the 26th's reminder had come
    (utc("2026-11-26T20:00"), NY, LONDON),    # 15:00 -> 20:00 the same date: reminded at once instead
    (utc("2026-11-26T20:00"), LONDON, LA),    # moving west: the date comes round again, not skipped
    (utc("2026-11-26T10:00"), TOKYO, LA),     # 19:00 on the 26th in Tokyo -> 02:00 on the 26th in LA
])
def test_no_date_is_carried_when_none_would_be_skipped(changed, old, new):
    assert schedule.carried_date(changed, old, new, SEVEN) is None


def test_a_late_reminder_is_carried_by_a_short_hop_east_past_midnight():
    """Reminder 23:00: New York at 22:00 to London (03:00 on the 27th)."""
    changed, late = utc("2026-11-27T03:00"), time(23, 0)
    assert schedule.carried_date(changed, NY, LONDON, late) == (date(2026, 11, 26), utc("2026-11-27T04:00"))
    assert to_nudge("2026-11-27T03:59", LONDON, NY, changed, at=late) is None
    assert to_nudge("2026-11-27T04:00", LONDON, NY, changed, at=late) == date(2026, 11, 26)


def test_a_morning_reminder_already_past_carries_nothing():
    """Reminder 07:00: New York at 23:30 on the 25th (its 07:00 long past) to London on the 26th."""
    assert schedule.carried_date(utc("2026-11-26T04:30"), NY, LONDON, time(7, 0)) is None


# --- One answer per zone: what the nudge runner's database query relies on.

# Zones with the awkward changes: at midnight (Havana, Santiago), by half an hour (Lord Howe),
# backwards in winter (Dublin), at odd offsets (Kathmandu, St John's, Chatham), and the extremes.
AWKWARD_ZONES = ["America/New_York", "Europe/London", "America/Havana", "America/Santiago", "Australia/Lord_Howe",
                 "Europe/Dublin", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "Pacific/Kiritimati",
                 "Pacific/Pago_Pago", "Asia/Tokyo"]
# Instants near this year's changes in those zones, and an ordinary evening.
CHANGES = [utc(t) for t in ("2026-03-08T07:00", "2026-11-01T06:00", "2026-03-29T01:00", "2026-10-25T01:00",
                            "2026-03-08T05:00", "2026-11-01T05:00", "2026-04-05T03:00", "2026-09-06T04:00",
                            "2026-04-04T16:00", "2026-10-03T15:30", "2026-11-26T23:00")]
near_a_change = st.builds(lambda t, minutes: t + timedelta(minutes=minutes),
                          st.sampled_from(CHANGES), st.integers(-36 * 60, 36 * 60))
any_instant = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(timezone.utc))
any_time = st.one_of(st.times(), st.sampled_from([time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30),
                                                  time(19, 0), time(23, 59, 59, 999999)]))


@settings(max_examples=400, deadline=None)
@given(now=st.one_of(near_a_change, any_instant), zone=st.sampled_from(AWKWARD_ZONES), at=any_time)
@example(now=utc("2026-11-01T06:30"), zone="America/New_York", at=time(1, 45))  # 01:30 EST: 01:45 EDT has passed
@example(now=utc("2026-03-08T07:00"), zone="America/New_York", at=time(2, 30))  # the gap's end
def test_one_latest_reminder_time_per_zone_tells_exactly_who_is_late(now, zone, at):
    """A patient is late (date_to_nudge without a zone change) exactly when their reminder time
    is at most the zone's latest_reminder_passed, across gaps, repeated hours and midnights."""
    latest = schedule.latest_reminder_passed(now, zone)
    late = schedule.date_to_nudge(now, zone, at) is not None
    assert late == (latest is not None and at <= latest)


@settings(max_examples=400, deadline=None)
@given(changed=st.one_of(near_a_change, any_instant), old=st.sampled_from(AWKWARD_ZONES),
       new=st.sampled_from(AWKWARD_ZONES), at=any_time,
       later=st.one_of(st.integers(0, 6 * 60), st.integers(0, 10 * 24 * 60)))
@example(changed=SIX_PM_IN_NY, old=NY, new=TOKYO, at=SEVEN, later=0)
def test_a_zone_change_older_than_the_carry_limit_carries_no_date(changed, old, new, at, later):
    now = changed + schedule.CARRY_LIMIT + timedelta(minutes=later)
    assert to_nudge(now, new, old, changed, at=at) == to_nudge(now, new, at=at)


def test_a_carried_date_is_over_within_a_day_of_the_change():
    """Reminder 23:59: New York at 19:01 to London (00:01 on the 27th). The 26th is due at 04:59
    and stays so until 23:59 in London, when the 27th's own reminder takes over."""
    changed, at = utc("2026-11-27T00:01"), time(23, 59)
    assert to_nudge("2026-11-27T23:58:59", LONDON, NY, changed, at=at) == date(2026, 11, 26)
    assert to_nudge("2026-11-27T23:59", LONDON, NY, changed, at=at) == date(2026, 11, 27)
    assert utc("2026-11-27T23:59") - changed < timedelta(days=1) < schedule.CARRY_LIMIT


# --- Missed days in a row, lapsed.

MONDAY = date(2026, 11, 30)  # "today" in the tests below (factories.TODAY is the Thursday before)


def days(*numbers):
    return [date(2026, 11, n) for n in numbers]


@pytest.mark.parametrize("checkins, first_day, expected", [
    ([], None, 0),                          # never checked in: nothing missed yet
    (days(30), None, 0),                    # only today's: nothing before it is missed
    (days(29), None, 0),                    # yesterday done
    (days(28), None, 1),
    (days(26), None, 3),                    # 27, 28, 29
    (days(20, 26), None, 3),
    (days(26, 30), None, 3),                # today's check-in does not undo yesterday's streak
    (days(20), date(2026, 11, 28), 2),      # back from a pause on the 28th: 28, 29
    (days(20), date(2026, 11, 30), 0),      # back today
    (days(20), date(2026, 12, 5), 0),       # (a first day in the future counts nothing)
])
def test_missed_streak(checkins, first_day, expected):
    assert schedule.missed_streak(checkins, MONDAY, first_day) == expected


def test_lapsed_after_the_clinics_number_of_missed_days():
    assert not schedule.is_lapsed(days(27), MONDAY, 3)     # 2 missed
    assert schedule.is_lapsed(days(26), MONDAY, 3)         # 3 missed
    assert not schedule.is_lapsed(days(26), MONDAY, 4)     # clinic setting 4
    assert not schedule.is_lapsed(days(20), MONDAY, 3, active=False)  # paused: never lapsed


def test_counting_starts_on_the_local_date_of_the_latest_instant():
    created = utc("2026-11-26T02:00")   # 21:00 on the 25th in New York, 02:00 on the 26th in London
    resumed = utc("2026-11-28T12:00")
    assert schedule.counting_from(NY, created) == date(2026, 11, 25)
    assert schedule.counting_from("Europe/London", created) == date(2026, 11, 26)
    assert schedule.counting_from(NY, created, resumed) == date(2026, 11, 28)
    assert schedule.counting_from(NY, created, None) == date(2026, 11, 25)
    assert schedule.counting_from(NY) is None


def test_missed_days_across_a_daylight_saving_change_are_calendar_dates():
    # The 23-hour day of 8 March counts as one date like any other.
    assert schedule.missed_streak([date(2026, 3, 6)], date(2026, 3, 10)) == 3


# --- Adherence: counted as a range (the report adds it up for every patient of the clinic).

@given(offsets=st.sets(st.integers(-40, 2), max_size=30), days=st.integers(0, 35),
       start=st.none() | st.integers(-45, 3))
def test_adherence_counts_the_days_the_definition_lists(offsets, days, start):
    """The last `days` local days, ending today once there is a check-in today (else
    yesterday), leaving out days before `start`: listed day by day, as the definition reads."""
    today = date(2026, 3, 10)
    logged = {today + timedelta(days=n) for n in offsets}
    first_day = None if start is None else today + timedelta(days=start)
    end = today if today in logged else today - timedelta(days=1)
    listed = [end - timedelta(days=n) for n in range(days)]
    listed = [d for d in listed if first_day is None or d >= first_day]
    assert schedule.adherence(logged, today, days, start=first_day) == (sum(1 for d in listed if d in logged),
                                                                        len(listed))
