"""The right of access (issue 12 point 4): a patient downloads their own record from the
settings page, as CSV files and as the FHIR Bundle; a provider downloads a patient's Bundle
from the patient's page. Who may, file names, caching, and the audit trail."""
import csv
import io
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.factories import (
    NEW_YORK, add_checkin, add_standard_gad7, add_treatment, at_local, day, events, login,
)

PARTS = ["checkins", "gad7", "treatments"]


@pytest.fixture
def record(users):
    a = users.patient_a
    add_checkin(a, day(-2), 9, side_effects={"headache": 2}, note="=SUM(A1) after the session")
    add_standard_gad7(a, day(-2), 11, difficulty=2)
    add_treatment(a, at_local(day(-3), 23, 30, zone=NEW_YORK), route="intramuscular", dose="37.5",
                  notes="Clinician's private remark")
    add_treatment(a, at_local(day(4)), route="lozenge", dose="200")  # planned
    add_checkin(users.patient_b, day(-1), 3, note="Bob's own note")
    return a


def rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def assert_private_attachment(response, filename: str, mimetype: str):
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.headers["Cache-Control"] == "no-store"


# --- The patient's own copy.

def test_the_settings_page_links_every_download(client, users):
    login(client, users.patient_a)
    page = client.get("/me/settings").get_data(as_text=True)
    for path in ("/me/record/checkins.csv", "/me/record/gad7.csv", "/me/record/treatments.csv", "/me/record/fhir.json"):
        assert f'href="{path}"' in page


def test_own_checkins_csv(client, users, record):
    login(client, users.patient_a)
    response = client.get("/me/record/checkins.csv")
    assert_private_attachment(response, "monitor-checkins-2026-11-26.csv", "text/csv")
    (row,) = rows(response)
    assert row["date"] == day(-2).isoformat() and row["total"] == "9" and row["se_headache"] == "2"
    assert row["note"] == "'=SUM(A1) after the session"  # a formula is written as text
    assert "Bob" not in response.get_data(as_text=True)


def test_own_standard_gad7_csv(client, users, record):
    login(client, users.patient_a)
    response = client.get("/me/record/gad7.csv")
    assert_private_attachment(response, "monitor-gad7-2026-11-26.csv", "text/csv")
    (row,) = rows(response)
    assert (row["date"], row["total"], row["severity"], row["difficulty"]) == \
        (day(-2).isoformat(), "11", "Moderate", "Very difficult")


def test_own_treatments_csv_holds_date_and_route_only_as_the_patient_sees_them(client, users, record):
    login(client, users.patient_a)
    response = client.get("/me/record/treatments.csv")
    assert_private_attachment(response, "monitor-treatments-2026-11-26.csv", "text/csv")
    assert rows(response) == [
        {"date": day(-3).isoformat(), "route": "Intramuscular", "status": "past"},
        {"date": day(4).isoformat(), "route": "Sublingual lozenge", "status": "planned"},
    ]
    text = response.get_data(as_text=True)
    assert "37.5" not in text and "private remark" not in text


def test_own_fhir_bundle(client, users, record):
    login(client, users.patient_a)
    response = client.get("/me/record/fhir.json")
    assert_private_attachment(response, "monitor-record-2026-11-26.json", "application/fhir+json")
    data = json.loads(response.get_data(as_text=True))
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    (patient,) = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient"]
    assert patient.telecom[0].value == users.patient_a.email
    assert "Bob" not in response.get_data(as_text=True)


def test_file_names_carry_no_name_email_or_id(client, users, record):
    login(client, users.patient_a)
    for path in [f"/me/record/{p}.csv" for p in PARTS] + ["/me/record/fhir.json"]:
        disposition = client.get(path).headers["Content-Disposition"]
        for word in ("alice", "archer", "example", str(users.patient_a.id) + "-"):
            assert word not in disposition.lower()


@pytest.mark.parametrize("part", PARTS)
def test_each_own_csv_is_audited_with_the_patient_as_target(client, users, record, part):
    login(client, users.patient_a)
    client.get(f"/me/record/{part}.csv")
    (event,) = events(f"export.own_{part}")
    assert (event.actor_id, event.target_type, event.target_id) == (users.patient_a.id, "patient", users.patient_a.id)


def test_own_bundle_is_audited(client, users, record):
    login(client, users.patient_a)
    client.get("/me/record/fhir.json")
    (event,) = events("export.own_fhir")
    assert (event.actor_id, event.target_type, event.target_id) == (users.patient_a.id, "patient", users.patient_a.id)


@pytest.mark.parametrize("principal", ["provider_a", "admin"])
@pytest.mark.parametrize("path", [f"/me/record/{p}.csv" for p in PARTS] + ["/me/record/fhir.json"])
def test_staff_have_no_own_record_and_get_404(client, users, principal, path):
    login(client, getattr(users, principal))
    assert client.get(path).status_code == 404
    assert events("access.refused")


def test_signed_out_visitors_are_sent_to_sign_in(client, users):
    response = client.get("/me/record/fhir.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- A provider's download of a patient's Bundle.

def test_the_patient_page_links_the_fhir_bundle(client, users):
    login(client, users.provider_a)
    page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert f'href="/patients/{users.patient_a.id}/export/fhir.json"' in page
    assert "FHIR Bundle" in page


@pytest.mark.parametrize("principal", ["provider_a", "admin"])
def test_the_provider_and_an_admin_download_the_bundle(client, users, record, principal):
    login(client, getattr(users, principal))
    response = client.get(f"/patients/{users.patient_a.id}/export/fhir.json")
    assert_private_attachment(response, f"patient-{users.patient_a.id}-fhir-2026-11-26.json", "application/fhir+json")
    bundle = Bundle.model_validate(json.loads(response.get_data(as_text=True)))
    kinds = sorted(e.resource.get_resource_type() for e in bundle.entry)
    assert kinds.count("MedicationAdministration") == 1  # the planned session is left out
    (event,) = events("export.fhir")
    assert (event.actor_id, event.target_type, event.target_id) == \
        (getattr(users, principal).id, "patient", users.patient_a.id)


def test_the_bundle_file_name_carries_no_name_or_email(client, users, record):
    login(client, users.provider_a)
    disposition = client.get(f"/patients/{users.patient_a.id}/export/fhir.json").headers["Content-Disposition"]
    assert "alice" not in disposition.lower() and "archer" not in disposition.lower()


@pytest.mark.parametrize("principal", ["provider_b", "patient_a", "patient_b"])
def test_anyone_else_gets_404_and_the_refusal_is_audited(client, users, record, principal):
    login(client, getattr(users, principal))
    assert client.get(f"/patients/{users.patient_a.id}/export/fhir.json").status_code == 404
    assert events("export.fhir") == []
    assert events("access.refused")


def test_a_missing_patient_answers_404(client, users):
    login(client, users.admin)
    assert client.get("/patients/99999/export/fhir.json").status_code == 404
