"""Admin pages for the clinic (SPEC 6): its settings (SPEC 4's thresholds, the crisis line,
the clinic's zone), staff accounts, and which providers a patient belongs to. Each change is
audited with what changed; bad input gets a message naming the field and changes nothing."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from monitor import analysis
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import Clinic, User, UserSession
from tests.factories import add_checkins, add_treatment, at_local, day, deliver_mail, enrolled_long_ago, events, login, read_outbox
from tests.test_dashboard import page_of, row_html

SETTINGS = {
    "name": "Harbour Clinic", "phone": "(555) 010-0123", "timezone": "America/Chicago",
    "crisis_text": "Not monitored around the clock. In a crisis call or text 988, or 911.",
    "mcid": "5", "wane_fraction": "0.4", "confirm_days": "3",
    "baseline_window_start": "-4", "baseline_window_end": "-1",
    "nadir_window_start": "1", "nadir_window_end": "4", "lapse_days": "5",
}


@pytest.fixture
def admin(app, users):
    client = app.test_client()
    login(client, users.admin)
    return client


def clinic_row() -> Clinic:
    db.session.expire_all()
    return get_clinic()


# --- Clinic settings.

def test_the_settings_page_shows_the_current_values_with_labels(admin):
    html = admin.get("/admin/clinic").get_data(as_text=True)
    for label in ("Clinic name", "Crisis line text", "Smallest meaningful change (MCID), points", "Wane fraction",
                  "Days that confirm a wane", "Baseline window: first day", "Nadir window: last day",
                  "Missed days that make a patient lapsed"):
        assert f">{label}</label>" in html, label
    assert 'name="mcid" type="text" value="4"' in html and 'value="0.5' in html
    assert 'href="/admin/clinic"' in html  # in the admin's navigation


def test_saving_stores_every_setting_and_audits_what_changed(admin):
    r = admin.post("/admin/clinic", data=SETTINGS)
    assert r.status_code == 303 and r.headers["Location"] == "/admin/clinic"
    c = clinic_row()
    assert (c.name, c.phone, c.timezone, c.crisis_text) == (SETTINGS["name"], SETTINGS["phone"], "America/Chicago",
                                                            SETTINGS["crisis_text"])
    assert (c.mcid, c.wane_fraction, c.confirm_days, c.lapse_days) == (5, Decimal("0.4"), 3, 5)
    assert (c.baseline_window_start, c.baseline_window_end, c.nadir_window_start, c.nadir_window_end) == (-4, -1, 1, 4)
    details = [e.detail for e in events("clinic.setting_changed")]
    assert "mcid: 4 -> 5" in details and "lapse_days: 3 -> 5" in details and "confirm_days: 2 -> 3" in details
    assert "crisis_text: (text) -> (text)" in details
    assert not any(d.startswith("nadir_window_start") for d in details)  # unchanged
    assert len(details) == 10
    # The new wording is on every page, the analysis uses the new thresholds.
    page = admin.get("/admin/clinic").get_data(as_text=True)
    assert SETTINGS["crisis_text"] in page and "Harbour Clinic" in page
    settings = analysis.settings_for(c)
    assert (settings.mcid, settings.wane_fraction, settings.confirm_days) == (5, 0.4, 3)
    assert (settings.baseline_window, settings.nadir_window) == ((-4, -1), (1, 4))


def test_saving_the_same_values_changes_nothing(admin):
    admin.post("/admin/clinic", data=SETTINGS)
    admin.post("/admin/clinic", data=SETTINGS)
    assert len(events("clinic.setting_changed")) == 10


@pytest.mark.parametrize("field, value, message", [
    ("mcid", "0", "The MCID must be from 1 to 21."),
    ("mcid", "four", "The MCID must be a whole number from 1 to 21."),
    ("mcid", "", "Enter the MCID."),
    ("wane_fraction", "0", "The wane fraction must be a number above 0 and at most 1"),
    ("wane_fraction", "1.5", "The wane fraction must be a number above 0 and at most 1"),
    ("wane_fraction", "NaN", "The wane fraction must be a number above 0 and at most 1"),
    ("wane_fraction", "0.3333", "at most 3 decimal places"),
    ("confirm_days", "8", "Days that confirm a wane must be from 1 to 7."),
    ("baseline_window_start", "0", "The baseline window&#39;s first day must be from -14 to -1."),
    ("baseline_window_end", "-5", "The baseline window&#39;s last day cannot come before its first day."),
    ("nadir_window_end", "0", "The nadir window&#39;s last day must be from 1 to 14."),
    ("lapse_days", "31", "Missed days before lapsed must be from 1 to 30."),
    ("timezone", "Mars/Base", "Choose a time zone from the list."),
    ("crisis_text", "   ", "Enter the crisis line text: every patient page shows it."),
    ("crisis_text", "x" * 501, "The crisis line text must be at most 500 characters."),
    ("name", "", "Enter the clinic&#39;s name."),
])
def test_bad_values_are_refused_by_name_and_nothing_is_saved(admin, field, value, message):
    r = admin.post("/admin/clinic", data={**SETTINGS, field: value})
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    c = clinic_row()
    assert (c.name, c.mcid, c.lapse_days) == ("Our clinic", 4, 3)
    assert events("clinic.setting_changed") == []


def test_a_new_mcid_changes_the_dashboards_flags_at_once(admin, client, users):
    """Reference 15, nadir 10: a gain of 5 responds with the default MCID of 4, not with 6."""
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-7: 15, -6: 15, -5: 15, -3: 10, -2: 10, -1: 10, 0: 10})
    add_treatment(users.patient_a, at_local(day(-4)))
    login(client, users.provider_a)
    assert 'data-flag="no-response"' not in row_html(page_of(client), users.patient_a)
    admin.post("/admin/clinic", data={**SETTINGS, "mcid": "6", "baseline_window_start": "-3", "nadir_window_end": "3"})
    assert 'data-flag="no-response"' in row_html(page_of(client), users.patient_a)


# --- Staff.

def test_adding_a_provider_emails_an_invitation_and_audits_it(app, admin):
    r = admin.post("/admin/staff", data={"email": " New.Doc@Clinic.test ", "first_name": "Nia", "last_name": "Doc",
                                         "role": "provider"})
    assert r.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "new.doc@clinic.test"))
    assert (user.role, user.first_name, user.has_password) == ("provider", "Nia", False)
    assert "is queued for sending" in admin.get(r.headers["Location"]).get_data(as_text=True)
    deliver_mail()
    [message] = read_outbox(app)
    assert message["To"] == "new.doc@clinic.test"
    assert [e.detail for e in events("staff.created")] == ["provider"]
    assert events("account.invited")[0].target_id == user.id
    page = admin.get("/admin/staff").get_data(as_text=True)
    assert "Nia Doc" in page and "Invitation pending" in page


@pytest.mark.parametrize("data, message", [
    ({"email": "pa@clinic.test"}, "That email address already has an account."),
    ({"email": "not-an-address"}, "Enter an email address like name@example.com."),
    ({"role": "patient"}, "Choose provider or admin."),
    ({"first_name": ""}, "Enter their first name."),
])
def test_bad_staff_input_is_refused_and_creates_nobody(app, admin, data, message):
    before = db.session.scalar(select(db.func.count()).select_from(User))
    r = admin.post("/admin/staff", data={"email": "x@clinic.test", "first_name": "X", "last_name": "Y",
                                         "role": "provider", **data})
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(User)) == before
    deliver_mail()
    assert read_outbox(app) == []


def test_deactivating_a_provider_signs_them_out_everywhere_and_reactivating_lets_them_back(app, admin, users):
    provider = app.test_client()
    login(provider, users.provider_a)
    assert provider.get("/patients").status_code == 200
    r = admin.post(f"/admin/staff/{users.provider_a.id}/active", data={"active": "0"})
    assert r.status_code == 303
    assert provider.get("/patients").status_code == 302  # signed out
    assert provider.post("/login", data={"email": users.provider_a.email, "password": "x" * 12}).status_code == 200
    assert db.session.scalars(select(UserSession).where(UserSession.user_id == users.provider_a.id,
                                                        UserSession.ended_at.is_(None))).all() == []
    assert [e.target_id for e in events("staff.deactivated")] == [users.provider_a.id]
    admin.post(f"/admin/staff/{users.provider_a.id}/active", data={"active": "1"})
    login(provider, users.provider_a)
    assert provider.get("/patients").status_code == 200
    assert len(events("staff.reactivated")) == 1


def test_an_admin_cannot_deactivate_themselves(admin, users):
    r = admin.post(f"/admin/staff/{users.admin.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "You cannot deactivate your own account." in r.get_data(as_text=True)
    db.session.expire_all()
    assert users.admin.active is True
    assert events("staff.deactivated") == []


def test_staff_pages_are_404_for_patient_ids_and_unknown_ids(admin, users):
    assert admin.post(f"/admin/staff/{users.patient_a.id}/active", data={"active": "0"}).status_code == 404
    assert admin.post("/admin/staff/999999/invite").status_code == 404
    db.session.expire_all()
    assert users.patient_a.active is True


# --- Which providers a patient belongs to.

def test_an_admin_moves_a_patient_to_another_providers_panel(app, admin, client, users):
    r = admin.post(f"/patients/{users.patient_a.id}/care-team", data={"providers": [str(users.provider_b.id)]})
    assert r.status_code == 303
    db.session.expire_all()
    assert [p.id for p in users.patient_a.providers] == [users.provider_b.id]
    [event] = events("patient.care_team_changed")
    assert event.detail == f"providers [{users.provider_a.id}] -> [{users.provider_b.id}]"
    login(client, users.provider_a)
    assert client.get(f"/patients/{users.patient_a.id}").status_code == 404
    other = app.test_client()
    login(other, users.provider_b)
    assert other.get(f"/patients/{users.patient_a.id}").status_code == 200


def test_a_patient_always_keeps_at_least_one_provider(admin, users):
    r = admin.post(f"/patients/{users.patient_a.id}/care-team", data={}, follow_redirects=True)
    assert "Choose at least one provider" in r.get_data(as_text=True)
    r = admin.post(f"/patients/{users.patient_a.id}/care-team", data={"providers": ["nonsense"]}, follow_redirects=True)
    assert "Choose providers from the list." in r.get_data(as_text=True)
    r = admin.post(f"/patients/{users.patient_a.id}/care-team", data={"providers": [str(users.admin.id)]},
                   follow_redirects=True)
    assert "Choose providers from the list." in r.get_data(as_text=True)
    db.session.expire_all()
    assert [p.id for p in users.patient_a.providers] == [users.provider_a.id]
    assert events("patient.care_team_changed") == []


def test_a_provider_cannot_change_a_care_team_even_for_their_own_patient(client, users):
    login(client, users.provider_a)
    r = client.post(f"/patients/{users.patient_a.id}/care-team", data={"providers": [str(users.provider_b.id)]})
    assert r.status_code == 404
    db.session.expire_all()
    assert [p.id for p in users.patient_a.providers] == [users.provider_a.id]
    assert "Change providers" not in client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
