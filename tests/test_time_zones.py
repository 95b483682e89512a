"""Choosing a time zone (issue 13): the clinic's country's common zones first, from the tz
database's zone.tab, then every IANA zone, as optgroups of a plain <select> that needs no
JavaScript; the device's zone suggested by a script file (no inline script: the CSP holds);
the server still accepts any IANA zone and refuses anything else."""
import re

import pytest

from monitor import timeutil
from monitor.clinic import get_clinic
from monitor.extensions import db
from tests.factories import login


def test_the_clinics_country_comes_from_the_tz_database():
    assert timeutil.country_of("America/Chicago") == "US"
    assert timeutil.country_of("Europe/Berlin") == "DE"
    assert timeutil.country_of("UTC") is None


@pytest.mark.parametrize("clinic_zone, country, first, includes", [
    ("America/New_York", "United States", "America/New_York", {"America/Chicago", "America/Los_Angeles", "Pacific/Honolulu"}),
    ("America/Boise", "United States", "America/Boise", {"America/New_York", "America/Denver"}),  # the clinic's own first
    ("Australia/Perth", "Australia", "Australia/Sydney", {"Australia/Perth", "Australia/Brisbane"}),
    ("Europe/Berlin", "Germany", "Europe/Berlin", {"Europe/Busingen"}),
    ("UTC", "", "UTC", set()),
])
def test_common_zones_are_the_clinics_countrys(clinic_zone, country, first, includes):
    named, common = timeutil.common_zones(clinic_zone)
    zones = [zone for zone, _ in common]
    assert named == country and zones[0] == first and includes <= set(zones) and clinic_zone in zones
    assert len(zones) <= 13


def test_the_groups_hold_every_zone_once():
    groups = timeutil.timezone_groups("America/New_York")
    assert list(groups) == ["Common in United States", "All time zones (A–Z)"]
    values = [zone for choices in groups.values() for zone, _ in choices]
    assert sorted(values) == sorted(timeutil.timezone_choices())  # none lost, none twice
    assert ("America/Los_Angeles", "America/Los Angeles (Pacific)") in groups["Common in United States"]


def _select(html: str) -> str:
    start = re.search(r'<select[^>]*id="timezone"', html).start()
    return html[start:html.index("</select>", start)]


def test_the_enrolment_form_lists_the_common_zones_first_and_suggests_the_devices(client, users):
    get_clinic().timezone = "America/Chicago"
    db.session.commit()  # the clinic's zone, read by the next request
    login(client, users.provider_a)
    html = client.get("/patients/new").get_data(as_text=True)
    select = _select(html)
    assert select.index('<optgroup label="Common in United States">') < select.index('label="All time zones (A–Z)"')
    assert '<option selected value="America/Chicago">America/Chicago (Central)</option>' in select
    assert select.index('value="America/Los_Angeles"') < select.index('value="Asia/Tokyo"')
    assert len(re.findall(r"<option ", select)) == len(timeutil.timezone_choices())
    assert 'data-device-zone="default"' in select
    assert re.search(r'<script src="/static/js/timezone\.[\w.]*js" defer></script>', html)
    assert "<script>" not in html


def test_settings_offer_the_devices_zone_without_changing_the_saved_one(client, users):
    login(client, users.patient_a)
    select = _select(client.get("/me/settings").get_data(as_text=True))
    assert 'data-device-zone="offer"' in select
    assert '<option selected value="America/New_York">' in select


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Argentina/Buenos_Aires", "UTC"])
def test_any_iana_zone_from_the_full_list_is_accepted(client, users, zone):
    login(client, users.patient_a)
    response = client.post("/me/settings", data={"timezone": zone, "reminder_time": "19:00", "nudges": "on"})
    assert response.status_code == 303
    db.session.refresh(users.patient_a)
    assert users.patient_a.timezone == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "posix/Europe/Paris", "EST5EDT", "Europe/London "])
def test_anything_else_is_refused(client, users, zone):
    login(client, users.patient_a)
    response = client.post("/me/settings", data={"timezone": zone, "reminder_time": "19:00", "nudges": "on"})
    assert response.status_code == 400
    assert "Choose your time zone from the list." in response.get_data(as_text=True)
