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


# --- Choosing a time zone: the clinic's country first, then every zone (issue 13).
#
# The clinic's country comes from the tz database's own zone.tab (in the tzdata package, a
# dependency already), which lists each country's zones. Most countries have one to five;
# for the few with many, the zones most people live in are named here, with plain labels
# (zone.tab's own comments read "Central - ND (Mercer)").
MAIN_ZONES: dict[str, list[tuple[str, str]]] = {
    "US": [("America/New_York", "Eastern"), ("America/Chicago", "Central"), ("America/Denver", "Mountain"),
           ("America/Phoenix", "Arizona"), ("America/Los_Angeles", "Pacific"), ("America/Anchorage", "Alaska"),
           ("Pacific/Honolulu", "Hawaii")],
    "CA": [("America/St_Johns", "Newfoundland"), ("America/Halifax", "Atlantic"), ("America/Toronto", "Eastern"),
           ("America/Winnipeg", "Central"), ("America/Regina", "Saskatchewan"), ("America/Edmonton", "Mountain"),
           ("America/Vancouver", "Pacific")],
    "AU": [("Australia/Sydney", "New South Wales, ACT"), ("Australia/Melbourne", "Victoria"),
           ("Australia/Brisbane", "Queensland"), ("Australia/Adelaide", "South Australia"),
           ("Australia/Darwin", "Northern Territory"), ("Australia/Perth", "Western Australia"),
           ("Australia/Hobart", "Tasmania")],
}
COMMON_MOST = 12  # a country with more zones than this and no list above shows its first twelve


def _tzdata_table(name: str) -> list[list[str]]:
    from importlib.resources import files

    text = files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


_COUNTRIES: tuple[dict[str, str], dict[str, list[tuple[str, str]]], dict[str, str]] | None = None


def _countries():
    """(zone -> country code, country code -> [(zone, comment)], country code -> name), read once."""
    global _COUNTRIES
    if _COUNTRIES is None:
        country_of_zone, zones_of = {}, {}
        for row in _tzdata_table("zone.tab"):
            code, zone, comment = row[0], row[2], row[3] if len(row) > 3 else ""
            country_of_zone[zone] = code
            zones_of.setdefault(code, []).append((zone, comment))
        names = {row[0]: row[1] for row in _tzdata_table("iso3166.tab")}
        _COUNTRIES = (country_of_zone, zones_of, names)
    return _COUNTRIES


def country_of(zone: str) -> str | None:
    """The ISO country code whose zone this is (zone.tab), e.g. "US" for America/Chicago."""
    return _countries()[0].get(zone)


def zone_label(zone: str, note: str = "") -> str:
    return zone.replace("_", " ") + (f" ({note})" if note else "")


def common_zones(clinic_zone: str) -> tuple[str, list[tuple[str, str]]]:
    """The country of the clinic's zone and its common zones as (zone, label), the clinic's own
    zone among them; ("", [clinic zone]) when the zone names no country (UTC)."""
    country_of_zone, zones_of, names = _countries()
    code = country_of_zone.get(clinic_zone)
    if code is None:
        return "", [(clinic_zone, zone_label(clinic_zone))] if is_valid_timezone(clinic_zone) else []
    listed = MAIN_ZONES.get(code) or zones_of[code][:COMMON_MOST]
    if clinic_zone not in {zone for zone, _ in listed}:
        listed = [(clinic_zone, dict(zones_of[code]).get(clinic_zone, ""))] + list(listed)
    valid = set(_zone_names())
    return names.get(code, code), [(zone, zone_label(zone, note)) for zone, note in listed if zone in valid]


def timezone_groups(clinic_zone: str) -> dict[str, list[tuple[str, str]]]:
    """Choices for a time zone <select>: the clinic's country's common zones first, then every
    other zone, as optgroups (a WTForms SelectField renders a dict so), each a (value, label)."""
    country, common = common_zones(clinic_zone)
    shown = {zone for zone, _ in common}
    heading = f"Common in {country}" if country else "The clinic's time zone"
    return {heading: common, "All time zones (A–Z)": [(z, zone_label(z)) for z in _zone_names() if z not in shown]}
