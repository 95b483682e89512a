"""CSV exports (SPEC 7): durability, check-ins and sessions, per patient and per clinic, on the
web and from `flask export-durability`; who may download them, and the audit trail."""
import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from monitor import analysis, durability, exports
from monitor.extensions import db
from monitor.models import CheckIn, Treatment, User
from tests.factories import (
    TODAY, add_checkin, add_checkins, add_provider, add_treatment, at_local, day, events, listed_patients, login,
    unsaved_treatment,
)

HEADER = "session_date,route,baseline,reference,nadir,gain,responded,wane_day,status,last_observed_day"
FIRST = date(2026, 11, 10)    # the SPEC 4 worked example's first session (today is 26 Nov 2026)
BOOSTER = date(2026, 11, 17)  # its day 7

# SPEC 4's worked example, by day since the first session.
WORKED_EXAMPLE = {-3: 15, -2: 16, -1: 14, 1: 6, 2: 5, 3: 7, 4: 8, 5: 9, 6: 11, 8: 5, 9: 4, 10: 6}

# Day 0 of the first session: B = B0 = R = 15; N = 5 on day 2, G = 10; T = 9; W = 5 (days 5
# and 6 read 9 and 11); its interval ends on day 6, the last day with a check-in.
# The booster (day 7): B = mean(8, 9, 11) = 9.33, R = B0 = 15; N = 4, G = 11; T = 8; days 4..9
# of the booster have no check-ins, so it is holding, last seen on its day 3.
WORKED_EXAMPLE_CSV = (
    HEADER + "\r\n"
    "2026-11-10,lozenge,15,15,5,10,true,5,waned,6\r\n"
    "2026-11-17,intramuscular,9.33,15,4,11,true,,holding,3\r\n"
)


def worked_example(patient) -> None:
    """SPEC 4's worked example for a patient in New York (the clinic's zone, and patient_a's)."""
    for n, total in WORKED_EXAMPLE.items():
        add_checkin(patient, day(n, FIRST), total)
    add_treatment(patient, at_local(date(2026, 11, 10), 10, 0), route="lozenge", dose="56")
    # A second session the same local date counts as the same session: the first one's route.
    add_treatment(patient, at_local(date(2026, 11, 10), 16, 30), route="intravenous", dose="35.5")
    add_treatment(patient, at_local(date(2026, 11, 17), 9, 15), route="intramuscular", dose="50")
    add_treatment(patient, at_local(date(2026, 12, 3), 9, 0), route="lozenge", dose="56")  # planned: not analysed


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# --- Cells ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (15.0, "15"), (28 / 3, "9.33"), (46 / 3, "15.33"), (2.675, "2.68"), (0.005, "0.01"), (10, "10"),
    (-2.0, "-2"), (-0.001, "0"), (1e-7, "0"), (12345678.9, "12345678.9"), (100.0, "100"),
    (Decimal("35.50"), "35.5"), (None, ""),
])
def test_numbers_are_plain_decimals_rounded_to_two_places(value, text):
    assert exports.plain_number(value) == text


@pytest.mark.parametrize("text, cell", [
    ("=HYPERLINK(\"http://x.test\")", "'=HYPERLINK(\"http://x.test\")"),
    ("+1 mg extra", "'+1 mg extra"), ("-felt worse", "'-felt worse"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("Felt = fine", "Felt = fine"), ("", ""), (None, ""),
])
def test_free_text_starting_a_formula_is_quoted(text, cell):
    assert exports.safe_text(text) == cell


# --- Durability, without a database ------------------------------------------------------------

def _transient(sessions, totals, today=TODAY):
    """PatientData for objects that are never stored: exports.py needs no database."""
    patient = User(id=1, email="x@example.test", role="patient", timezone="America/New_York")
    treatments = [unsaved_treatment(at, route=route, dose="10") for at, route in sessions]
    data = analysis.PatientData(patient, today, dict(totals), [], treatments)
    data.analysis = durability.analyse_patient(
        totals.items(), [data.treatment_date(t) for t in treatments], today)
    return data


def test_durability_csv_of_the_spec_worked_example_without_a_database():
    totals = {FIRST + timedelta(days=d): t for d, t in WORKED_EXAMPLE.items()}
    data = _transient([(datetime(2026, 11, 10, 15, 0, tzinfo=timezone.utc), "lozenge"),
                       (datetime(2026, 11, 17, 14, 15, tzinfo=timezone.utc), "intramuscular")], totals)
    assert exports.durability_csv(data) == WORKED_EXAMPLE_CSV


def test_negative_gain_is_a_number_not_an_escaped_formula():
    # B = R = 5; N = 7: the session made things worse, G = -2.
    totals = {date(2026, 11, 7): 5, date(2026, 11, 8): 5, date(2026, 11, 11): 7}
    data = _transient([(datetime(2026, 11, 10, 15, 0, tzinfo=timezone.utc), "oral")], totals)
    assert exports.durability_csv(data).splitlines()[1] == "2026-11-10,oral,5,5,7,-2,false,,no-response,1"


def test_session_date_is_the_patients_local_date():
    # 03:30 UTC on 11 Nov is still 10 Nov in New York.
    data = _transient([(datetime(2026, 11, 11, 3, 30, tzinfo=timezone.utc), "oral")], {})
    assert exports.durability_csv(data).splitlines()[1].startswith("2026-11-10,oral,")


# --- Durability on the web and the command line ------------------------------------------------

def test_patient_durability_csv_matches_the_worked_example(client, users):
    worked_example(users.patient_a)
    login(client, users.provider_a)

    response = client.get(f"/patients/{users.patient_a.id}/export/durability.csv")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == WORKED_EXAMPLE_CSV


def test_undefined_values_are_empty_cells(client, users):
    bob = users.patient_b  # Europe/London; sessions at 12:00 UTC are on the same London date
    add_checkins(bob, {date(2026, 11, 7): 10, date(2026, 11, 8): 10, date(2026, 11, 9): 10,
                       date(2026, 11, 11): 8, date(2026, 11, 12): 9, date(2026, 11, 13): 9})
    for on in (date(2026, 11, 10), date(2026, 11, 20)):
        add_treatment(bob, datetime(on.year, on.month, on.day, 12, tzinfo=timezone.utc), route="oral", dose="100")
    login(client, users.provider_b)

    text = client.get(f"/patients/{bob.id}/export/durability.csv").get_data(as_text=True)

    assert text == (
        HEADER + "\r\n"
        # B = B0 = R = 10, N = 8, G = 2: below the MCID of 4 and below half of 10.
        "2026-11-10,oral,10,10,8,2,false,,no-response,3\r\n"
        # No check-ins on its days -3..-1 (no B) nor after it (no N): R = B0 = 10 only.
        "2026-11-20,oral,,10,,,,,insufficient-data,\r\n"
    )


def test_patient_without_sessions_gets_the_header_only(client, users):
    login(client, users.provider_a)
    text = client.get(f"/patients/{users.patient_a.id}/export/durability.csv").get_data(as_text=True)
    assert text == HEADER + "\r\n"


def test_export_is_an_uncached_attachment_named_without_the_patient(client, users):
    login(client, users.provider_a)
    for kind in ("durability", "checkins", "treatments"):
        response = client.get(f"/patients/{users.patient_a.id}/export/{kind}.csv")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        disposition = response.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="patient-{users.patient_a.id}-{kind}-2026-11-26.csv"'
        for private in ("alice", "Alice", "Archer", "example"):
            assert private not in disposition
        assert response.headers["Cache-Control"] == "no-store"


def test_exports_are_audited_with_the_patient_as_target(client, users):
    login(client, users.provider_a)
    for kind in ("durability", "checkins", "treatments"):
        client.get(f"/patients/{users.patient_a.id}/export/{kind}.csv")
        [event] = events(f"export.{kind}")
        assert (event.actor_id, event.target_type, event.target_id) == (users.provider_a.id, "patient",
                                                                        users.patient_a.id)


@pytest.mark.parametrize("kind", ["durability", "checkins", "treatments"])
def test_other_providers_patient_answers_404_and_is_audited_as_refused(client, users, kind):
    add_checkin(users.patient_a, date(2026, 11, 20), 9, note="private")
    login(client, users.provider_b)
    response = client.get(f"/patients/{users.patient_a.id}/export/{kind}.csv")
    assert response.status_code == 404
    assert "private" not in response.get_data(as_text=True)
    assert events(f"export.{kind}") == []
    assert [e.target_id for e in events("access.refused")] == [users.patient_a.id]


@pytest.mark.parametrize("kind", ["durability", "checkins", "treatments"])
def test_patients_get_404_even_for_their_own_exports(client, users, kind):
    login(client, users.patient_a)
    assert client.get(f"/patients/{users.patient_a.id}/export/{kind}.csv").status_code == 404
    assert client.get(f"/exports/{kind}.csv").status_code == 404


def test_missing_patient_answers_404(client, users):
    login(client, users.admin)
    assert client.get("/patients/99999/export/durability.csv").status_code == 404
    assert client.get(f"/patients/{users.provider_a.id}/export/durability.csv").status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, users):
    response = client.get(f"/patients/{users.patient_a.id}/export/durability.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_may_export_any_patient(client, users):
    worked_example(users.patient_a)
    login(client, users.admin)
    assert client.get(f"/patients/{users.patient_a.id}/export/durability.csv").get_data(as_text=True) \
        == WORKED_EXAMPLE_CSV


def test_cli_prints_the_durability_csv_and_audits_it(runner, users):
    worked_example(users.patient_a)

    result = runner.invoke(args=["export-durability", " Alice@Example.test "])

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.decode() == WORKED_EXAMPLE_CSV  # .stdout would turn \r\n into \n
    assert result.stderr == ""
    [event] = events("export.durability")
    assert (event.actor_id, event.target_type, event.target_id, event.detail) == (
        None, "patient", users.patient_a.id, "cli")


@pytest.mark.parametrize("email, message", [
    ("nobody@example.test", "Error: no account has the email nobody@example.test"),
    ("pa@clinic.test", "Error: pa@clinic.test is a staff account (provider), not a patient's"),
    ("admin@clinic.test", "Error: admin@clinic.test is a staff account (admin), not a patient's"),
])
def test_cli_refuses_an_unknown_email_or_a_staff_account(runner, users, email, message):
    result = runner.invoke(args=["export-durability", email])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == message
    assert events("export.durability") == []


# --- Check-ins and sessions: the import format, round trip ----------------------------------------

def test_checkins_csv_is_in_the_import_format(client, users):
    add_checkin(users.patient_a, date(2026, 11, 21), 12, side_effects={"dissociation": 1, "vision": 3},
                note='Said "floaty", then slept,\nwoke fine')
    add_checkin(users.patient_a, date(2026, 11, 20), 0)
    login(client, users.provider_a)

    text = client.get(f"/patients/{users.patient_a.id}/export/checkins.csv").get_data(as_text=True)

    assert text == (
        "patient_email,date,q1,q2,q3,q4,q5,q6,q7,se_dissociation,se_dizziness,se_nausea,se_headache,"
        "se_drowsiness,se_bladder,se_vision,note\r\n"
        "alice@example.test,2026-11-20,0,0,0,0,0,0,0,,,,,,,,\r\n"
        'alice@example.test,2026-11-21,3,3,3,3,0,0,0,1,,,,,,3,"Said ""floaty"", then slept,\nwoke fine"\r\n'
    )


def test_sessions_csv_is_in_the_import_format_with_utc_offsets(client, users):
    add_treatment(users.patient_a, at_local(date(2026, 11, 20), 9, 5), route="intramuscular", dose="35.50",
                  notes="BP fine")
    add_treatment(users.patient_a, at_local(date(2026, 7, 1), 14, 0), route="lozenge", dose="200")  # summer time
    login(client, users.provider_a)

    text = client.get(f"/patients/{users.patient_a.id}/export/treatments.csv").get_data(as_text=True)

    assert text == (
        "patient_email,datetime,route,dose_mg,notes\r\n"
        "alice@example.test,2026-07-01T14:00:00-04:00,lozenge,200,\r\n"
        "alice@example.test,2026-11-20T09:05:00-05:00,intramuscular,35.5,BP fine\r\n"
    )


def _checkin_values(patient) -> list[tuple]:
    rows = db.session.scalars(select(CheckIn).where(CheckIn.patient_id == patient.id).order_by(CheckIn.local_date))
    return [(c.local_date, c.total, c.answers(), c.side_effects(), c.note) for c in rows]


def _session_values(patient) -> list[tuple]:
    rows = db.session.scalars(select(Treatment).where(Treatment.patient_id == patient.id)
                              .order_by(Treatment.administered_at))
    return [(t.administered_at, t.route, t.dose_mg, t.notes) for t in rows]


def test_exported_checkins_and_sessions_import_back_unchanged(client, runner, users, tmp_path):
    alice = users.patient_a
    worked_example(alice)
    add_checkin(alice, date(2026, 11, 24), 17, side_effects={"nausea": 2, "headache": 0, "bladder": 3},
                note="Ünïcode, \"quotes\", commas\r\nand a second line")
    add_treatment(alice, at_local(date(2026, 11, 24), 13, 45), route="intranasal", dose="0.5",
                  notes="Spray; tolerated, \"ok\"")
    checkins_before, sessions_before = _checkin_values(alice), _session_values(alice)
    login(client, users.provider_a)
    checkins = client.get(f"/patients/{alice.id}/export/checkins.csv").get_data(as_text=True)
    sessions = client.get(f"/patients/{alice.id}/export/treatments.csv").get_data(as_text=True)
    # Empty the records (as in a new database), then import the files.
    db.session.execute(delete(CheckIn))
    db.session.execute(delete(Treatment))
    db.session.commit()
    (tmp_path / "checkins.csv").write_text(checkins, encoding="utf-8", newline="")
    (tmp_path / "sessions.csv").write_text(sessions, encoding="utf-8", newline="")

    imported_checkins = runner.invoke(args=["import-checkins", str(tmp_path / "checkins.csv")])
    imported_sessions = runner.invoke(args=["import-sessions", str(tmp_path / "sessions.csv")])

    assert imported_checkins.exit_code == 0, imported_checkins.output
    assert imported_sessions.exit_code == 0, imported_sessions.output
    db.session.expire_all()
    assert _checkin_values(alice) == checkins_before
    assert _session_values(alice) == sessions_before
    assert len(sessions_before) == 5 and len(checkins_before) == 13


def test_formula_text_is_quoted_in_exported_notes(client, users):
    add_checkin(users.patient_a, date(2026, 11, 20), 5, note="=cmd|' /C calc'!A0")
    add_checkin(users.patient_a, date(2026, 11, 21), 5, note="@SUM(1+1)")
    add_treatment(users.patient_a, at_local(date(2026, 11, 20), 9, 0), dose="56", notes="+2 mg top-up")
    add_treatment(users.patient_a, at_local(date(2026, 11, 22), 9, 0), dose="56", notes="-")
    login(client, users.provider_a)

    checkins = parse(client.get(f"/patients/{users.patient_a.id}/export/checkins.csv").get_data(as_text=True))
    sessions = parse(client.get(f"/patients/{users.patient_a.id}/export/treatments.csv").get_data(as_text=True))

    assert [r["note"] for r in checkins] == ["'=cmd|' /C calc'!A0", "'@SUM(1+1)"]
    assert [r["notes"] for r in sessions] == ["'+2 mg top-up", "'-"]


# --- Every visible patient ------------------------------------------------------------------

def test_clinic_durability_csv_leads_with_the_patient_email(client, users):
    worked_example(users.patient_a)
    add_treatment(users.patient_b, datetime(2026, 11, 20, 12, tzinfo=timezone.utc), route="oral", dose="100")
    login(client, users.admin)

    response = client.get("/exports/durability.csv")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="patients-durability-2026-11-26.csv"'
    assert response.get_data(as_text=True) == (
        "patient_email," + HEADER + "\r\n"
        "alice@example.test,2026-11-10,lozenge,15,15,5,10,true,5,waned,6\r\n"
        "alice@example.test,2026-11-17,intramuscular,9.33,15,4,11,true,,holding,3\r\n"
        "bob@example.test,2026-11-20,oral,,,,,,,insufficient-data,\r\n"
    )
    # One event for the file, listing every patient in it.
    [event] = events("export.durability")
    assert (event.target_type, event.target_id, event.detail) == (None, None, "all visible patients (2)")
    assert listed_patients(event) == sorted([users.patient_a.id, users.patient_b.id])


def test_provider_clinic_exports_hold_only_their_own_panel(client, users):
    add_checkin(users.patient_a, date(2026, 11, 20), 9)
    add_checkin(users.patient_b, date(2026, 11, 20), 14, note="bob's note")
    add_treatment(users.patient_a, at_local(date(2026, 11, 19), 9, 0), dose="56")
    add_treatment(users.patient_b, at_local(date(2026, 11, 19), 9, 0), dose="56")
    login(client, users.provider_a)

    for kind in ("durability", "checkins", "treatments"):
        response = client.get(f"/exports/{kind}.csv")
        assert response.status_code == 200
        rows = parse(response.get_data(as_text=True))
        assert rows and {r["patient_email"] for r in rows} == {"alice@example.test"}
        assert "bob" not in response.get_data(as_text=True)
        assert [listed_patients(e) for e in events(f"export.{kind}")] == [[users.patient_a.id]]


def test_clinic_export_for_an_empty_panel_is_the_header_and_still_audited(client, users):
    lonely = add_provider("lonely@clinic.test")
    login(client, lonely)
    assert client.get("/exports/durability.csv").get_data(as_text=True) == "patient_email," + HEADER + "\r\n"
    [event] = events("export.durability")
    assert event.actor_id == lonely.id and event.target_id is None
