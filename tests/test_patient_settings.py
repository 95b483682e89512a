"""The patient's settings page (SPEC 5): time zone, reminder time, reminder emails."""
import re
from datetime import date, time, timedelta

import pytest

from monitor import nudges
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import User
from tests.factories import NOW, add_patient, events, login, own_scripts
from tests.test_nudges import EVENING, nudge_rows

VALID = {"timezone": "Europe/London", "reminder_time": "08:30", "nudges": "off"}


def fresh(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


@pytest.fixture
def alice(app, client):
    user = add_patient("alice@example.test", first_name="Alice")
    login(client, user)
    return user


def test_the_page_shows_the_current_settings(app, client, alice):
    page = client.get("/me/settings").get_data(as_text=True)
    assert '<option selected value="America/New_York">' in page
    assert 'type="time"' in page and 'value="19:00"' in page
    assert 'name="nudges" value="on" checked' in page
    for label in ('<label for="timezone">Time zone</label>', '<label for="reminder_time">Reminder time</label>',
                  "<legend>Reminder emails</legend>"):
        assert label in page
    # Works without JavaScript: the one script only suggests the device's time zone (issue 13).
    assert own_scripts(page) == [re.search(r'<script src="/static/js/timezone\.[\w.]*js" defer>', page)[0]]


def test_a_patient_with_no_valid_zone_sees_the_clinics_as_the_default(app, client, alice):
    get_clinic().timezone = "America/Chicago"
    alice.timezone = "Nowhere/Special"
    db.session.commit()
    assert '<option selected value="America/Chicago">' in client.get("/me/settings").get_data(as_text=True)


def test_the_nav_links_to_settings(app, client, alice):
    assert 'href="/me/settings">Settings</a>' in client.get("/me").get_data(as_text=True)


def test_saving_stores_the_settings_and_audits_which_changed(app, client, alice):
    response = client.post("/me/settings", data=VALID)
    assert response.status_code == 303 and response.headers["Location"] == "/me/settings"
    user = fresh(alice)
    assert (user.timezone, user.reminder_time, user.email_opt_out) == ("Europe/London", time(8, 30), True)
    [event] = events("settings.changed")
    assert event.detail == "timezone, reminder_time, email_opt_out"
    assert "Your settings are saved." in client.get("/me/settings").get_data(as_text=True)


def test_a_new_zone_remembers_the_one_left_and_when(app, client, alice):
    """nudges.py needs both, so that a change past midnight does not skip a date's reminder."""
    client.post("/me/settings", data=VALID)
    user = fresh(alice)
    assert (user.previous_timezone, user.timezone_changed_at) == ("America/New_York", NOW)
    client.post("/me/settings", data={**VALID, "reminder_time": "09:00"})  # the zone is the same
    assert (fresh(alice).previous_timezone, fresh(alice).timezone_changed_at) == ("America/New_York", NOW)


def test_saving_the_same_values_changes_nothing(app, client, alice):
    client.post("/me/settings", data={"timezone": "America/New_York", "reminder_time": "19:00", "nudges": "on"})
    assert events("settings.changed") == []


@pytest.mark.parametrize("value, expected", [("7:05", time(7, 5)), ("19:00:00", time(19, 0)), ("00:00", time(0, 0)),
                                             (" 23:59 ", time(23, 59))])
def test_reminder_times_a_browser_may_send(app, client, alice, value, expected):
    assert client.post("/me/settings", data={**VALID, "reminder_time": value}).status_code == 303
    assert fresh(alice).reminder_time == expected


@pytest.mark.parametrize("field, value, message", [
    ("timezone", "Mars/Olympus_Mons", "Choose your time zone from the list."),
    ("timezone", "", "Choose your time zone from the list."),
    ("timezone", "EST5EDT", "Choose your time zone from the list."),
    ("reminder_time", "25:00", "Enter a time from 00:00 to 23:59, for example 19:00."),
    ("reminder_time", "19:60", "Enter a time from 00:00 to 23:59, for example 19:00."),
    ("reminder_time", "7pm", "Enter the time as hours and minutes on a 24-hour clock, for example 19:00."),
    ("reminder_time", "19", "Enter the time as hours and minutes on a 24-hour clock, for example 19:00."),
    ("reminder_time", "", "Enter a reminder time, for example 19:00."),
    ("nudges", "maybe", "Choose whether you want reminder emails."),
    ("nudges", None, "Choose whether you want reminder emails."),
    ("reminder_time", None, "Enter a reminder time, for example 19:00."),
])
def test_bad_values_are_refused_with_a_clear_message_and_nothing_stored(app, client, alice, field, value, message):
    data = {**VALID, field: value}
    if value is None:
        del data[field]
    response = client.post("/me/settings", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page or f'id="{field}-error"' in page or 'id="nudges-error"' in page
    user = fresh(alice)
    assert (user.timezone, user.reminder_time, user.email_opt_out) == ("America/New_York", time(19, 0), False)


def test_staff_have_no_settings_page_here(app, client, users):
    login(client, users.provider_a)
    assert client.get("/me/settings").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    response = client.get("/me/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_new_reminder_time_moves_todays_nudge(app, client, alice, smtp):
    client.post("/me/settings", data={**VALID, "timezone": "America/New_York", "reminder_time": "21:30",
                                      "nudges": "on"})
    nudges.run(EVENING)                              # 20:00: not yet
    assert smtp.recipients == []
    nudges.run(EVENING + timedelta(minutes=90))      # 21:30
    assert smtp.recipients == ["alice@example.test"]


def test_changing_zone_after_todays_nudge_brings_no_second_one(app, client, alice, smtp):
    nudges.run(EVENING)                              # 20:00 in New York: nudged
    client.post("/me/settings", data={"timezone": "America/Los_Angeles", "reminder_time": "19:00",
                                      "nudges": "on"})  # 17:00 in Los Angeles, same date
    for hours in (2, 3, 4):                          # 19:00, 20:00, 21:00 in Los Angeles
        nudges.run(EVENING + timedelta(hours=hours))
    assert smtp.recipients == ["alice@example.test"]
    assert [r.local_date for r in nudge_rows(alice)] == [date(2026, 11, 26)]


def test_a_new_zone_brings_the_stored_analysis_into_it_at_once(app, client, alice):
    """Every date of the durability analysis is a local date: the change stores it anew."""
    from monitor.models import PatientAnalysisRow
    client.post("/me/settings", data=VALID)
    db.session.expire_all()
    row = db.session.get(PatientAnalysisRow, alice.id)
    assert row is not None and row.timezone == "Europe/London"
