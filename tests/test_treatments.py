"""Recording, editing and listing treatment sessions (SPEC 3), through the staff pages and the service."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from monitor import treatments
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import Treatment, TreatmentRevision
from monitor.timeutil import freeze
from tests.factories import NOW, add_treatment, edit_treatment, events, form_key, login

GOOD = {
    "administered_at": "2026-11-20T10:00",
    "route": "lozenge",
    "dose_mg": "50",
    "bp_systolic_before": "128",
    "bp_diastolic_before": "82",
    "bp_systolic_after": "",
    "bp_diastolic_after": "",
    "dissociation_score": "",
    "notes": "",
}


@pytest.fixture
def new_york(app):
    clinic = get_clinic()
    clinic.timezone = "America/New_York"
    db.session.commit()


def new_url(patient):
    return f"/patients/{patient.id}/treatments/new"


def edit_url(patient, treatment):
    return f"/patients/{patient.id}/treatments/{treatment.id}/edit"


def post_new(client, patient, **changes):
    return client.post(new_url(patient), data={**GOOD, "submission_key": form_key("key-1"), **changes})


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# When the sessions stored before a test (by add_treatment) were given: 10:00 in New York.
SESSION_AT = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


# --- Recording.

def test_new_session_form_has_every_labelled_field(client, users):
    login(client, users.provider_a)
    page = client.get(new_url(users.patient_a)).get_data(as_text=True)
    for name in ("administered_at", "route", "dose_mg", "bp_systolic_before", "bp_diastolic_before",
                 "bp_systolic_after", "bp_diastolic_after", "dissociation_score", "notes"):
        assert f'<label for="{name}">' in page
    assert 'type="datetime-local"' in page
    assert "Clinician-rated dissociation score" in page
    assert 'name="submission_key" type="hidden" value="' in page


def test_recording_a_session_stores_it_in_utc_and_audits_it(client, users, new_york):
    login(client, users.provider_a)
    response = post_new(client, users.patient_a, dose_mg="37.5", bp_systolic_after="140",
                        bp_diastolic_after="90", dissociation_score="30", notes=" Calm afterwards ")
    assert response.status_code == 303
    treatment = db.session.scalar(select(Treatment))
    assert response.headers["Location"].endswith(f"/patients/{users.patient_a.id}#treatment-{treatment.id}")
    assert treatment.patient_id == users.patient_a.id
    assert treatment.recorded_by_id == users.provider_a.id
    assert treatment.administered_at == datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # 10:00 EST
    assert treatment.route == "lozenge"
    assert treatment.dose_mg == Decimal("37.5")
    assert (treatment.bp_systolic_before, treatment.bp_diastolic_before) == (128, 82)
    assert (treatment.bp_systolic_after, treatment.bp_diastolic_after) == (140, 90)
    assert treatment.dissociation_score == 30
    assert treatment.notes == "Calm afterwards"
    [event] = events("treatment.created")
    assert (event.actor_id, event.target_type, event.target_id) == (users.provider_a.id, "treatment", treatment.id)

    page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert "Fri 20 Nov 2026, 10:00 EST" in page and "Sublingual lozenge" in page and "37.5" in page


def test_optional_fields_may_be_left_empty(client, users):
    login(client, users.provider_a)
    response = post_new(client, users.patient_a, bp_systolic_before="", bp_diastolic_before="")
    assert response.status_code == 303
    treatment = db.session.scalar(select(Treatment))
    assert treatment.bp_systolic_before is None and treatment.dissociation_score is None and treatment.notes is None


def test_double_submit_records_one_session(client, users):
    login(client, users.provider_a)
    first = post_new(client, users.patient_a, submission_key=form_key("same-key"))
    second = post_new(client, users.patient_a, submission_key=form_key("same-key"))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Treatment) == 1
    assert len(events("treatment.created")) == 1


def test_each_fresh_form_records_its_own_session(client, users):
    login(client, users.provider_a)
    post_new(client, users.patient_a, submission_key=form_key("key-a"))
    post_new(client, users.patient_a, submission_key=form_key("key-b"))
    assert count(Treatment) == 2


def test_a_key_from_another_patients_form_does_not_swallow_the_session(client, users):
    login(client, users.admin)
    post_new(client, users.patient_a, submission_key=form_key("shared"))
    response = post_new(client, users.patient_b, submission_key=form_key("shared"))
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).where(Treatment.patient_id == users.patient_b.id)) == 1


def test_ambiguous_local_time_means_its_first_occurrence(client, users, new_york):
    login(client, users.provider_a)
    post_new(client, users.patient_a, administered_at="2026-11-01T01:30")  # clocks go back at 02:00 EDT
    assert db.session.scalar(select(Treatment)).administered_at == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)


def test_planned_session_up_to_a_year_ahead_is_accepted(client, users, new_york):
    login(client, users.provider_a)
    assert post_new(client, users.patient_a, administered_at="2027-11-26T23:00").status_code == 303
    assert count(Treatment) == 1


BAD_INPUT = [
    ({"administered_at": ""}, "Enter the date and time of the session."),
    ({"administered_at": "next tuesday"}, "Enter the date and time as YYYY-MM-DD HH:MM"),
    ({"administered_at": "2026-02-30T10:00"}, "There is no such date as 2026-02-30."),
    ({"administered_at": "2026-11-20T25:00"}, "There is no such time as 25:00."),
    ({"administered_at": "2026-03-08T02:30"}, "02:30 on 8 March 2026 does not exist in America/New_York"),
    ({"administered_at": "1989-12-31T10:00"}, "The date must be on or after 1 January 1990."),
    ({"administered_at": "2027-11-27T09:00"}, "The date can be at most a year ahead (up to 26 November 2027)."),
    ({"route": ""}, "Choose a route from the list."),
    ({"route": "rectal"}, "Choose a route from the list."),
    ({"dose_mg": ""}, "Enter the dose in mg."),
    ({"dose_mg": "0"}, "The dose must be more than 0 mg."),
    ({"dose_mg": "-1"}, "Enter the dose in mg as a number, like 25 or 37.5."),
    ({"dose_mg": "abc"}, "Enter the dose in mg as a number, like 25 or 37.5."),
    ({"dose_mg": "NaN"}, "Enter the dose in mg as a number, like 25 or 37.5."),
    ({"dose_mg": "1,000"}, "Enter the dose in mg as a number, like 25 or 37.5."),
    ({"dose_mg": "1.234"}, "The dose can have at most 2 decimal places."),
    ({"dose_mg": "10000.01"}, "The dose must be at most 10,000 mg."),
    ({"bp_diastolic_before": ""}, "Enter the diastolic pressure too, or leave both empty."),
    ({"bp_systolic_before": ""}, "Enter the systolic pressure too, or leave both empty."),
    ({"bp_systolic_after": "120"}, "Enter the diastolic pressure too, or leave both empty."),
    ({"bp_systolic_before": "270"}, "The systolic pressure must be from 50 to 260 mmHg."),
    ({"bp_systolic_before": "49"}, "The systolic pressure must be from 50 to 260 mmHg."),
    ({"bp_diastolic_before": "161"}, "The diastolic pressure must be from 30 to 160 mmHg."),
    ({"bp_diastolic_before": "12.5"}, "The diastolic pressure must be a whole number."),
    ({"bp_systolic_before": "80", "bp_diastolic_before": "80"}, "The systolic pressure must be higher than the diastolic."),
    ({"dissociation_score": "101"}, "The dissociation score must be from 0 to 100."),
    ({"dissociation_score": "-1"}, "The dissociation score must be from 0 to 100."),
    ({"dissociation_score": "lots"}, "The dissociation score must be a whole number."),
    ({"notes": "x" * 2001}, "The notes must be at most 2,000 characters."),
]


@pytest.mark.parametrize("changes, message", BAD_INPUT, ids=[f"{next(iter(c))}={next(iter(c.values()))[:12]!r}"
                                                            for c, _ in BAD_INPUT])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(client, users, new_york, changes, message):
    login(client, users.provider_a)
    response = post_new(client, users.patient_a, **changes)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page.replace("&#39;", "'")
    field = next(iter(changes))
    if message.startswith("Enter the systolic") or "higher than" in message:
        field = field.replace("diastolic", "systolic")
    elif message.startswith("Enter the diastolic"):
        field = field.replace("systolic", "diastolic")
    assert f'<a href="#{field}">' in page  # the summary links to the field by its label
    assert f'id="{field}-error"' in page
    assert count(Treatment) == 0
    assert events("treatment.created") == []


def test_refused_form_keeps_what_was_typed_and_its_key(client, users):
    login(client, users.provider_a)
    page = post_new(client, users.patient_a, dose_mg="1.234", notes="kept").get_data(as_text=True)
    assert 'value="1.234"' in page and "kept</textarea>" in page
    assert f'name="submission_key" type="hidden" value="{form_key("key-1")}"' in page


# --- Editing.

def test_edit_form_shows_the_stored_values_in_clinic_time(client, users, new_york):
    treatment = add_treatment(users.patient_a, SESSION_AT + timedelta(minutes=5), dose="37.50")
    login(client, users.provider_a)
    page = client.get(edit_url(users.patient_a, treatment)).get_data(as_text=True)
    assert 'value="2026-11-20T10:05"' in page
    assert 'value="37.5"' in page
    assert '<option selected value="lozenge">' in page or '<option value="lozenge" selected>' in page
    [event] = events("treatment.viewed")
    assert event.target_id == treatment.id


def test_editing_keeps_the_old_values_as_a_revision(client, users, new_york):
    treatment = add_treatment(users.patient_a, SESSION_AT)
    created_at = treatment.created_at
    freeze(datetime(2026, 11, 26, 16, 0, tzinfo=timezone.utc))
    login(client, users.provider_a)
    response = client.post(edit_url(users.patient_a, treatment),
                           data={**GOOD, "administered_at": "2026-11-20T11:00", "route": "intramuscular",
                                 "dose_mg": "60", "notes": "corrected"})
    assert response.status_code == 303
    db.session.expire_all()
    treatment = db.session.get(Treatment, treatment.id)
    assert treatment.dose_mg == Decimal("60") and treatment.route == "intramuscular"
    assert treatment.administered_at == datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
    assert treatment.notes == "corrected"
    assert treatment.created_at == created_at
    assert treatment.updated_at == datetime(2026, 11, 26, 16, 0, tzinfo=timezone.utc)
    [revision] = treatment.revisions
    assert revision.dose_mg == Decimal("50") and revision.route == "lozenge"
    assert revision.administered_at == datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    assert revision.notes is None
    assert revision.replaced_by_id == users.provider_a.id
    [event] = events("treatment.updated")
    assert (event.actor_id, event.target_id) == (users.provider_a.id, treatment.id)

    page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert '<span class="badge">edited</span>' in page
    history = client.get(edit_url(users.patient_a, treatment)).get_data(as_text=True)
    earlier = history[history.index("Earlier versions"):]
    assert "Fri 20 Nov 2026, 10:00 EST" in earlier and "Sublingual lozenge" in earlier
    assert '<td class="num">50</td>' in earlier and "by Paula Avery" in earlier


def test_saving_the_same_values_again_adds_no_revision(client, users, new_york):
    treatment = add_treatment(users.patient_a, SESSION_AT)
    login(client, users.provider_a)
    data = {**GOOD, "dose_mg": "75"}
    client.post(edit_url(users.patient_a, treatment), data=data)
    client.post(edit_url(users.patient_a, treatment), data=data)
    assert count(TreatmentRevision) == 1


def test_bad_edit_is_refused_and_changes_nothing(client, users):
    treatment = add_treatment(users.patient_a, SESSION_AT)
    login(client, users.provider_a)
    response = client.post(edit_url(users.patient_a, treatment), data={**GOOD, "dose_mg": "0"})
    assert response.status_code == 400
    assert "The dose must be more than 0 mg." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Treatment, treatment.id).dose_mg == Decimal("50")
    assert count(TreatmentRevision) == 0


# --- Reach.

def test_another_providers_patient_sessions_are_not_found(client, users):
    treatment = add_treatment(users.patient_b, SESSION_AT)
    login(client, users.provider_a)
    assert client.get(new_url(users.patient_b)).status_code == 404
    assert post_new(client, users.patient_b).status_code == 404
    assert client.get(edit_url(users.patient_b, treatment)).status_code == 404
    assert client.post(edit_url(users.patient_b, treatment), data={**GOOD, "dose_mg": "99"}).status_code == 404
    assert count(Treatment) == 1
    db.session.expire_all()
    assert db.session.get(Treatment, treatment.id).dose_mg == Decimal("50")


def test_a_session_id_of_another_patient_is_not_found_under_an_own_patient(client, users):
    treatment = add_treatment(users.patient_b, SESSION_AT)
    login(client, users.provider_a)
    url = f"/patients/{users.patient_a.id}/treatments/{treatment.id}/edit"
    assert client.get(url).status_code == 404
    assert client.post(url, data={**GOOD, "dose_mg": "99"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Treatment, treatment.id).dose_mg == Decimal("50")
    assert count(TreatmentRevision) == 0
    assert any(e.target_type == "treatment" for e in events("access.refused"))


def test_admin_may_record_for_any_patient(client, users):
    login(client, users.admin)
    assert post_new(client, users.patient_b).status_code == 303
    assert db.session.scalar(select(Treatment)).patient_id == users.patient_b.id


# --- The rules as plain functions.

@pytest.mark.parametrize("text, dose", [("25", "25.00"), ("37.5", "37.50"), (".5", "0.50"), ("10000", "10000.00"),
                                        ("1.230", "1.23")])
def test_parse_dose_accepts(text, dose):
    assert treatments.parse_dose(text) == Decimal(dose)


def test_session_instant_refuses_the_spring_gap_and_takes_the_first_of_the_autumn_repeat():
    with pytest.raises(ValueError, match="does not exist"):
        treatments.treatment_instant(datetime(2026, 3, 8, 2, 30), "America/New_York", NOW)
    assert treatments.treatment_instant(datetime(2026, 3, 8, 3, 0), "America/New_York", NOW) == \
        datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)
    assert treatments.treatment_instant(datetime(2026, 10, 25, 1, 30), "Europe/London", NOW) == \
        datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("systolic, diastolic, problem", [
    (None, None, None), (120, 80, None), (120, None, "diastolic"), (None, 80, "systolic"), (80, 90, "systolic"),
])
def test_blood_pressure_pairs(systolic, diastolic, problem):
    result = treatments.blood_pressure_problem(systolic, diastolic)
    assert (result[0] if result else None) == problem


def test_treatments_for_lists_newest_first_and_marks_edits(app, users):
    older = add_treatment(users.patient_a, datetime(2026, 11, 1, 15, 0, tzinfo=timezone.utc))
    newer = add_treatment(users.patient_a, SESSION_AT)
    add_treatment(users.patient_b, datetime(2026, 11, 21, 15, 0, tzinfo=timezone.utc))
    edit_treatment(older, route="oral", dose="40", edited_by=users.provider_a)
    rows = treatments.treatments_for(users.patient_a)
    assert [(r.treatment.id, r.edited) for r in rows] == [(newer.id, False), (older.id, True)]


def test_a_twin_request_that_committed_first_is_answered_with_its_session(app, users, monkeypatch):
    values = treatments.TreatmentValues(administered_at=datetime(2026, 11, 20, 15, tzinfo=timezone.utc),
                                        route="oral", dose_mg=Decimal("5"))
    first = treatments.record_treatment(users.patient_a, values, recorded_by=None, submission_key="twin")
    db.session.commit()
    # The twin's look-up ran before the first committed: it finds nothing and must rely on the unique key.
    real_scalar, looked = db.session.scalar, []

    def scalar_missing_once(statement, *args, **kwargs):
        if not looked:
            looked.append(statement)
            return None
        return real_scalar(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", scalar_missing_once)
    twin = treatments.record_treatment(users.patient_a, values, recorded_by=None, submission_key="twin")
    monkeypatch.undo()
    db.session.commit()  # the transaction is still usable after the refused insert
    assert (twin.outcome, twin.treatment.id) == ("duplicate", first.treatment.id)
    assert count(Treatment) == 1
