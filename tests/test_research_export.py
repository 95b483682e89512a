"""The research export (issue 12 point 5): one clinic-wide CSV, each patient a random study id
kept across exports, each date a day since the patient's first treatment session, and nothing
that names anyone: no free text, no zone, no email, name, id or calendar date."""
import csv
import hashlib
import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from monitor import research
from monitor.extensions import db
from monitor.models import StudyId
from tests.factories import (
    NEW_YORK, add_checkin, add_patient, add_standard_gad7, add_treatment, at_local, day, events, listed_patients, login,
)

COLUMNS = ("study_id,row_type,day,q1,q2,q3,q4,q5,q6,q7,total,se_dissociation,se_dizziness,se_nausea,se_headache,"
           "se_drowsiness,se_bladder,se_vision,late_entry,difficulty,route,dose_mg")
URL = "/admin/exports/research.csv"


@pytest.fixture
def clinic(users):
    """Patient A (New York): first session 5 days ago, a booster, check-ins around them, a
    standard GAD-7, a planned session. Patient B (London): first session at 23:30 in New York,
    already the next day in London. Patient C: check-ins but no session yet."""
    a, b = users.patient_a, users.patient_b
    add_treatment(a, at_local(day(-5), 11), route="lozenge", dose="200", notes="Very anxious before")
    add_treatment(a, at_local(day(-1), 11), route="intramuscular", dose="37.5")
    add_treatment(a, at_local(day(6), 11), route="intravenous", dose="35")  # planned
    add_checkin(a, day(-7), 15, side_effects={"dissociation": 2}, note="Alice wrote this note")
    add_checkin(a, day(-5), 12, now=at_local(day(-5), 20))  # entered on its own day
    add_checkin(a, day(-2), 6, now=at_local(day(-1)))  # entered late
    add_standard_gad7(a, day(-6), 14, difficulty=3)
    add_treatment(b, at_local(day(-3), 23, 30, zone=NEW_YORK), route="intranasal", dose="56")
    add_checkin(b, day(-3), 10)
    c = add_patient("carol@example.test", first_name="Carol", last_name="Cole")
    add_checkin(c, day(-1), 8, note="Carol's note")
    return a, b, c


def export(client, users) -> str:
    login(client, users.admin)
    response = client.post(URL)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def parsed(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def stored_ids() -> dict[int, str]:
    return dict(db.session.execute(select(StudyId.patient_id, StudyId.study_id)).all())


def test_the_download_is_an_uncached_csv_named_by_date(client, users, clinic):
    login(client, users.admin)
    response = client.post(URL)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="monitor-research-2026-11-26.csv"'
    assert response.headers["Cache-Control"] == "no-store"


def test_the_columns(client, users, clinic):
    assert export(client, users).splitlines()[0] == COLUMNS


def test_rows_of_a_patient_count_days_from_their_first_session(client, users, clinic):
    a = clinic[0]
    rows = [r for r in parsed(export(client, users)) if r["study_id"] == stored_ids()[a.id]]
    assert [(r["row_type"], r["day"], r["total"], r["route"], r["dose_mg"]) for r in rows] == [
        ("checkin", "-2", "15", "", ""),
        ("standard_gad7", "-1", "14", "", ""),
        ("treatment", "0", "", "lozenge", "200"),
        ("checkin", "0", "12", "", ""),
        ("checkin", "3", "6", "", ""),
        ("treatment", "4", "", "intramuscular", "37.5"),
    ]
    first = rows[0]
    assert [first[f"q{n}"] for n in range(1, 8)] == ["3", "3", "3", "3", "3", "0", "0"]
    assert (first["se_dissociation"], first["se_nausea"]) == ("2", "")
    assert rows[1]["difficulty"] == "3"
    assert (rows[3]["late_entry"], rows[4]["late_entry"]) == ("false", "true")


def test_day_zero_is_the_patients_local_date_of_the_session(client, users, clinic):
    """Patient B's session was at 23:30 in New York: 04:30 the next day in London."""
    b = clinic[1]
    rows = [r for r in parsed(export(client, users)) if r["study_id"] == stored_ids()[b.id]]
    assert [(r["row_type"], r["day"]) for r in rows] == [("checkin", "-1"), ("treatment", "0")]


def test_planned_sessions_and_patients_without_a_session_are_left_out(client, users, clinic):
    a, b, c = clinic
    rows = parsed(export(client, users))
    assert "intravenous" not in {r["route"] for r in rows}
    assert c.id not in stored_ids()
    assert {r["study_id"] for r in rows} == {stored_ids()[a.id], stored_ids()[b.id]}


def test_nothing_in_the_file_names_anyone_or_dates_anything(client, users, clinic):
    text = export(client, users)
    lowered = text.lower()
    for word in ("alice", "archer", "bob", "baker", "carol", "@", "example", "note", "anxious", "new_york",
                 "america", "europe", "london"):
        assert word not in lowered
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", text)  # no date, no time of day
    assert {r["study_id"] for r in parsed(text)}.isdisjoint({str(p.id) for p in clinic})


def test_study_ids_are_stable_across_exports(client, users, clinic):
    first = parsed(export(client, users))
    ids = stored_ids()
    second = parsed(export(client, users))
    assert first == second
    assert stored_ids() == ids


def test_study_ids_are_random_not_derived_from_the_patient(client, users, clinic):
    export(client, users)
    ids = stored_ids()
    assert len(set(ids.values())) == len(ids)
    for patient in clinic[:2]:
        study_id = ids[patient.id]
        assert re.fullmatch(r"S[0-9A-F]{12}", study_id)
        for seed in (str(patient.id), patient.email):
            for digest in (hashlib.md5, hashlib.sha1, hashlib.sha256):
                assert study_id[1:].lower() not in digest(seed.encode()).hexdigest()
        assert str(patient.id) != study_id[1:].lstrip("0")


def test_study_ids_come_from_the_secrets_module(client, users, clinic, monkeypatch):
    made = iter(["A1A1A1A1A1A1", "B2B2B2B2B2B2"])
    monkeypatch.setattr(research, "secrets", SimpleNamespace(token_hex=lambda n: next(made).lower()))
    export(client, users)
    assert sorted(stored_ids().values()) == ["SA1A1A1A1A1A1", "SB2B2B2B2B2B2"]


def test_a_clash_of_random_ids_draws_again(client, users, clinic, monkeypatch):
    made = iter(["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(research, "secrets", SimpleNamespace(token_hex=lambda n: next(made)))
    export(client, users)
    assert sorted(stored_ids().values()) == ["SAAAAAAAAAAAA", "SBBBBBBBBBBBB"]


def test_rows_are_ordered_by_study_id_not_by_enrolment(client, users, clinic):
    study_ids = [r["study_id"] for r in parsed(export(client, users))]
    assert study_ids == sorted(study_ids)


def test_the_export_is_audited_with_every_patient_in_it(client, users, clinic):
    a, b, _ = clinic
    export(client, users)
    (event,) = events("export.research")
    assert event.actor_id == users.admin.id
    assert listed_patients(event) == sorted([a.id, b.id])
    assert "1 without a session left out" in event.detail


@pytest.mark.parametrize("principal", ["provider_a", "patient_a"])
def test_only_admins_may_export(client, users, clinic, principal):
    login(client, getattr(users, principal))
    assert client.post(URL).status_code == 404
    assert events("export.research") == [] and stored_ids() == {}


def test_a_get_changes_nothing(client, users, clinic):
    login(client, users.admin)
    assert client.get(URL).status_code == 405
    assert stored_ids() == {}


def test_the_clinic_page_offers_the_export(client, users):
    login(client, users.admin)
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert f'action="{URL}"' in page


def test_the_command_prints_the_same_file_and_audits_it(client, runner, users, clinic):
    web = export(client, users)
    result = runner.invoke(args=["export-research"])
    assert result.exit_code == 0
    assert result.output.replace("\r\n", "\n") == web.replace("\r\n", "\n")
    cli_event = events("export.research")[-1]
    assert cli_event.actor_id is None and cli_event.detail.startswith("cli")


def test_an_empty_clinic_gives_the_header_only(client, users):
    assert export(client, users).splitlines() == [COLUMNS]
