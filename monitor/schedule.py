"""SPEC 5 as pure functions: when a patient's reminder falls, the state of each local date,
and how many dates in a row were missed. No Flask, no SQL.

Zones are IANA names (or ZoneInfo objects), dates are the patient's own calendar dates, and
instants are aware datetimes. Everything is computed in the patient's *current* zone: a
patient who travels and changes their zone changes which instant "19:00 on their date" is,
but not which date a check-in or a nudge belongs to (both are keyed by the local date)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

PENDING = "pending"            # before the reminder time, no check-in yet
LATE = "late"                  # after the reminder time, no check-in yet: a nudge is due
DONE = "done"                  # checked in for that date
MISSED = "missed"              # the date is over without a check-in
NOT_EXPECTED = "not-expected"  # paused or discharged: no check-in is expected, nothing is missed

DEFAULT_REMINDER = time(19, 0)
DIGEST_TIME = time(8, 0)       # providers' digest, clinic time (SPEC 5)


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def local_date(instant: datetime, zone: str | ZoneInfo) -> date:
    """The calendar date in `zone` at this instant."""
    return instant.astimezone(_zone(zone)).date()


def reminder_instant(day: date, at: time, zone: str | ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time `at` on local date `day` in `zone`.

    A time that does not exist that day (inside a spring-forward gap, e.g. 02:30 in New York
    on the second Sunday of March) moves to the first valid instant after the gap (03:00 EDT).
    A time that happens twice (the fall-back hour) is its first occurrence."""
    tz = _zone(zone)
    wall = datetime.combine(day, at.replace(tzinfo=None))
    first = wall.replace(tzinfo=tz, fold=0)  # PEP 495: fold=0 is the earlier reading
    instant = first.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=0 reads the wall time with the offset from before the change and fold=1
    # with the offset from after it; the change itself lies between the two readings.
    other = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    return _first_instant_with_offset(min(instant, other), max(instant, other), tz)


def _first_instant_with_offset(lo: datetime, hi: datetime, tz: ZoneInfo) -> datetime:
    """The earliest instant in (lo, hi] whose offset in tz is hi's: the end of the gap."""
    target = hi.astimezone(tz).utcoffset()
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, timezone.utc).astimezone(tz).utcoffset() == target:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, timezone.utc)


def date_to_nudge(now: datetime, zone: str | ZoneInfo, reminder_at: time, *,
                  previous_zone: str | ZoneInfo | None = None, zone_changed_at: datetime | None = None) -> date | None:
    """The local date whose nudge is due at `now`, or None.

    Normally the current date, once its reminder time has passed; a date that is over is
    missed, not nudged. One exception keeps a zone change from skipping a date: a change that
    jumped past midnight (moving east late in the day, say 18:00 in New York to 08:00 the next
    morning in Tokyo) ended the old zone's date before its reminder came. That date is still
    nudged, at the instant its reminder was going to have (19:00 New York time), during the
    next date only and until that date's own reminder takes over."""
    today = local_date(now, zone)
    if now >= reminder_instant(today, reminder_at, zone):
        return today
    if previous_zone is None or zone_changed_at is None:
        return None
    carried = carried_date(zone_changed_at, previous_zone, zone, reminder_at)
    if carried is not None:
        day, due = carried
        if today == day + timedelta(days=1) and now >= due:
            return day
    return None


# How long after a zone change date_to_nudge can still carry a date. The change took the
# patient to the day after the carried date in the new zone, and the carried date is nudged
# only while that day lasts there: less than a day (26 hours in a zone that shifts by two)
# after the change. Older changes carry nothing, and two days is safely longer.
CARRY_LIMIT = timedelta(days=2)

_MICROSECONDS_A_DAY = 24 * 60 * 60 * 1_000_000


def latest_reminder_passed(now: datetime, zone: str | ZoneInfo) -> time | None:
    """The latest time of day whose reminder on the current local date in `zone` has come by
    `now` (None when even 00:00's has not): a patient of that zone is late for that date,
    date_to_nudge's usual case, exactly when their reminder time is at most this. One answer
    serves every patient of the zone.

    It holds because reminder_instant never decreases as the time of day grows (a time in a
    spring-forward gap moves to the end of the gap, a repeated time is its first occurrence),
    so the times that have passed are all those up to one. Found by bisection to the
    microsecond, the finest time a TIME column holds."""
    tz = _zone(zone)
    today = local_date(now, tz)

    def passed(microseconds: int) -> bool:
        return reminder_instant(today, _time_of_day(microseconds), tz) <= now

    low, high = 0, _MICROSECONDS_A_DAY - 1
    if not passed(low):
        return None
    if passed(high):
        return _time_of_day(high)
    while high - low > 1:  # passed(low) and not passed(high)
        middle = (low + high) // 2
        if passed(middle):
            low = middle
        else:
            high = middle
    return _time_of_day(low)


def _time_of_day(microseconds: int) -> time:
    seconds, micro = divmod(microseconds, 1_000_000)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


def carried_date(changed_at: datetime, old_zone: str | ZoneInfo, new_zone: str | ZoneInfo,
                 reminder_at: time) -> tuple[date, datetime] | None:
    """(date, reminder instant) of the date a zone change would have skipped, or None: the
    date current in the old zone when the change took the patient past midnight, if its
    reminder was still to come."""
    old_day = local_date(changed_at, old_zone)
    if local_date(changed_at, new_zone) <= old_day:
        return None  # same date or moved back a date: that date's own reminder still comes
    due = reminder_instant(old_day, reminder_at, old_zone)
    if due <= changed_at:
        return None  # its reminder had come before the change
    return old_day, due


def day_state(day: date, now: datetime, zone: str | ZoneInfo, reminder_at: time, *,
              checked_in: bool, active: bool = True) -> str:
    """The state of one local date of one patient as of `now` (SPEC 5)."""
    if checked_in:
        return DONE
    if not active:
        return NOT_EXPECTED
    today = local_date(now, zone)
    if day < today:
        return MISSED
    if day > today:
        return PENDING
    return LATE if now >= reminder_instant(day, reminder_at, zone) else PENDING


def counting_from(zone: str | ZoneInfo, *instants: datetime | None) -> date | None:
    """The first local date on which a check-in is expected: the date of the latest of these
    instants (account creation, the last return to "active"). Earlier dates are never missed."""
    known = [i for i in instants if i is not None]
    return local_date(max(known), zone) if known else None


def missed_streak(checkin_dates: Iterable[date], today: date, first_day: date | None = None) -> int:
    """Consecutive local dates without a check-in, ending yesterday (today is still open).

    Dates before the patient's first check-in, and before `first_day` (see counting_from), are
    not missed: a patient who has never checked in has missed nothing yet."""
    yesterday = today - timedelta(days=1)
    before = [d for d in checkin_dates if d <= yesterday]
    if not before:
        return 0
    last = max(before)
    if first_day is not None:
        last = max(last, first_day - timedelta(days=1))
    return max(0, (yesterday - last).days)


def is_lapsed(checkin_dates: Iterable[date], today: date, lapse_days: int, *,
              first_day: date | None = None, active: bool = True) -> bool:
    """Lapsed (SPEC 5): an active patient with at least `lapse_days` missed dates in a row."""
    return active and missed_streak(checkin_dates, today, first_day) >= lapse_days


def adherence(checkin_dates: Iterable[date], today: date, days: int, *,
              start: date | None = None) -> tuple[int, int]:
    """(days with a check-in, days counted) over the last `days` local days, leaving out days
    before `start`. The window ends today once there is a check-in today, else yesterday, so
    an open day does not count against the patient. The dashboard and the report both use it."""
    logged = set(checkin_dates)
    end = today if today in logged else today - timedelta(days=1)
    first = end - timedelta(days=days - 1)
    if start is not None and start > first:
        first = start
    # The days counted are first..end; a report adds this up for every patient of the clinic,
    # so it counts a range instead of listing its dates.
    return sum(1 for d in logged if first <= d <= end), max(0, (end - first).days + 1)
