"""Time at the edges: instants are UTC, check-in dates are the patient's local calendar date.

Everything that needs "now" calls utcnow() so tests and the nudge runner's --now can move the clock."""
from collections.abc import Iterable
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_frozen: datetime | None = None


def utcnow() -> datetime:
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


def freeze(at: datetime | None) -> None:
    """Pin the clock (tests, --now). None releases it."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(timezone.utc) if at is not None else None


def local_today(tz_name: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(tz_name)).date()


def local_todays(zones: Iterable[str], now: datetime | None = None) -> dict[str, date]:
    """local_today() of each zone, worked out once per zone: a panel of hundreds of patients
    shares a handful of zones, and pages that list them need each one's date."""
    now = now or utcnow()
    return {zone: local_today(zone, now) for zone in set(zones)}


def to_local(instant: datetime, tz_name: str) -> datetime:
    return instant.astimezone(ZoneInfo(tz_name))


def is_valid_timezone(name: str) -> bool:
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a name too long
        return False
    return name in _zone_names()


_ZONES: list[str] | None = None


def _zone_names() -> list[str]:
    global _ZONES
    if _ZONES is None:
        # Canonical-looking names only: no "posix/", "right/" or legacy aliases like "EST5EDT".
        _ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("posix", "right", "Etc/"))) + ["UTC"]
    return _ZONES


def timezone_choices() -> list[str]:
    return list(_zone_names())
