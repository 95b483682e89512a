"""flask import-checkins / import-sessions (SPEC 7): all rows or none, every problem by line."""
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import CheckIn, Treatment
from tests.factories import add_checkin, add_patient, events

CHECKIN_HEADER = "patient_email,date,q1,q2,q3,q4,q5,q6,q7"
SESSION_HEADER = "patient_email,datetime,route,dose_mg"


def write(tmp_path, text: str | bytes, name: str = "import.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def run_import(runner, tmp_path, command: str, text: str | bytes):
    return runner.invoke(args=[command, str(write(tmp_path, text))])


def import_checkins(runner, tmp_path, text):
    return run_import(runner, tmp_path, "import-checkins", text)


def import_treatments(runner, tmp_path, text):
    return run_import(runner, tmp_path, "import-sessions", text)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def checkin_of(patient, day: date) -> CheckIn | None:
    return db.session.scalar(select(CheckIn).where(CheckIn.patient_id == patient.id, CheckIn.local_date == day))


def assert_refused(result, *messages: str):
    assert result.exit_code == 1, result.output
    for message in messages:
        assert message in result.stderr
    assert "Nothing was imported" in result.stderr


# --- Check-ins -----------------------------------------------------------------------------

def test_imports_checkins_with_optional_columns(runner, tmp_path, users):
    text = (
        CHECKIN_HEADER + ",se_dissociation,se_nausea,note\r\n"
        "alice@example.test,2026-11-20,1,2,3,0,1,2,3,1,,Felt floaty after the session\r\n"
        "ALICE@example.test ,2026-11-21,0,0,1,0,0,0,0,,,\r\n"
        "bob@example.test,2026-11-26,3,3,3,3,3,3,3,0,3," + "n" * 1000 + "\r\n"
    )

    result = import_checkins(runner, tmp_path, text)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Imported 3 check-ins for 2 patients."
    first = checkin_of(users.patient_a, date(2026, 11, 20))
    assert first.answers() == {"q1": 1, "q2": 2, "q3": 3, "q4": 0, "q5": 1, "q6": 2, "q7": 3}
    assert first.total == 12
    assert (first.se_dissociation, first.se_nausea, first.se_headache) == (1, None, None)
    assert first.note == "Felt floaty after the session"
    assert first.source == "import" and first.late_entry
    second = checkin_of(users.patient_a, date(2026, 11, 21))
    assert second.total == 1 and second.note is None
    today = checkin_of(users.patient_b, date(2026, 11, 26))
    assert today.total == 21 and today.se_nausea == 3 and not today.late_entry
    [event] = events("import.checkins")
    assert event.detail == "3 check-ins for 2 patients"
    assert "example.test" not in event.detail


def test_header_is_trimmed_case_insensitive_and_optional_columns_any_order(runner, tmp_path, users):
    text = (" Patient_Email , DATE,Q1,q2,q3,q4,q5,q6,q7,note,SE_Headache\n"
            "alice@example.test,2026-11-25,1,1,1,1,1,1,1,slept badly,2\n")

    result = import_checkins(runner, tmp_path, text)

    assert result.exit_code == 0, result.output
    checkin = checkin_of(users.patient_a, date(2026, 11, 25))
    assert (checkin.total, checkin.note, checkin.se_headache) == (7, "slept badly", 2)


def test_utf8_byte_order_mark_and_blank_lines_are_accepted(runner, tmp_path, users):
    text = ("\ufeff" + CHECKIN_HEADER + "\n\nalice@example.test,2026-11-24,0,1,0,1,0,1,0\n\n  \n,,,,,,,,\n").encode()

    result = import_checkins(runner, tmp_path, text)

    assert result.exit_code == 0, result.output
    assert checkin_of(users.patient_a, date(2026, 11, 24)).total == 3


def test_replacing_an_existing_checkin_keeps_the_earlier_version(runner, tmp_path, users):
    day = date(2026, 11, 20)
    add_checkin(users.patient_a, day, 14, note="original")

    result = import_checkins(runner, tmp_path, CHECKIN_HEADER + "\nalice@example.test,2026-11-20,1,0,0,0,0,0,0\n")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Imported 1 check-in for 1 patient (1 replaced an earlier entry)."
    checkin = checkin_of(users.patient_a, day)
    assert (checkin.total, checkin.source, checkin.note) == (1, "import", None)
    [revision] = checkin.revisions
    assert (revision.total, revision.note, revision.source) == (14, "original", "web")
    assert count(CheckIn) == 1


def valid_checkin(**changes) -> str:
    cells = {"patient_email": "alice@example.test", "date": "2026-11-20",
             **{f"q{i}": "1" for i in range(1, 8)}, "se_nausea": "", "note": ""}
    cells.update(changes)
    return ",".join(cells.values())


@pytest.mark.parametrize("changes, message", [
    ({"q3": "4"}, "line 2: q3: 4 is out of range (use 0 to 3)"),
    ({"q1": "-1"}, "line 2: q1: -1 is out of range (use 0 to 3)"),
    ({"q7": ""}, "line 2: q7: missing (a whole number from 0 to 3 is required)"),
    ({"q2": "1.5"}, "line 2: q2: '1.5' is not a whole number"),
    ({"q5": "two"}, "line 2: q5: 'two' is not a whole number"),
    ({"se_nausea": "5"}, "line 2: se_nausea: 5 is out of range (use 0 to 3)"),
    ({"se_nausea": "mild"}, "line 2: se_nausea: 'mild' is not a whole number"),
    ({"date": "2026-02-30"}, "line 2: date: '2026-02-30' is an impossible date"),
    ({"date": "20/11/2026"}, "line 2: date: '20/11/2026' is not a date in the form YYYY-MM-DD"),
    ({"date": ""}, "line 2: date: missing"),
    ({"date": "2026-11-27"}, "line 2: date: 2026-11-27 is in the future for this patient"),
    ({"note": "x" * 1001}, "line 2: note: too long (1,001 characters; at most 1,000)"),
    ({"patient_email": "nobody@example.test"}, "line 2: patient_email: no account has this email"),
    ({"patient_email": "pa@clinic.test"}, "line 2: patient_email: this is a provider account, not a patient's"),
    ({"patient_email": "admin@clinic.test"}, "line 2: patient_email: this is an admin account, not a patient's"),
    ({"patient_email": ""}, "line 2: patient_email: missing"),
])
def test_bad_checkin_row_is_refused_with_its_line_and_column(runner, tmp_path, users, changes, message):
    result = import_checkins(runner, tmp_path, CHECKIN_HEADER + ",se_nausea,note\n" + valid_checkin(**changes) + "\n")

    assert_refused(result, message)
    assert count(CheckIn) == 0


def test_future_date_is_judged_in_the_patients_own_time_zone(runner, tmp_path, users):
    # 15:00 UTC on 26 November is already midnight, 27 November, in Tokyo.
    add_patient("kenji@example.test", timezone="Asia/Tokyo")
    text = CHECKIN_HEADER + "\nkenji@example.test,2026-11-27,1,1,1,1,1,1,1\n"

    assert import_checkins(runner, tmp_path, text).exit_code == 0
    result = import_checkins(runner, tmp_path, text.replace("kenji", "alice"))
    assert_refused(result, "line 2: date: 2026-11-27 is in the future for this patient (today is 2026-11-26 in America/New_York)")


def test_same_patient_and_date_twice_in_one_file_is_refused(runner, tmp_path, users):
    text = (CHECKIN_HEADER + "\n"
            "alice@example.test,2026-11-20,1,1,1,1,1,1,1\n"
            "bob@example.test,2026-11-20,1,1,1,1,1,1,1\n"
            "Alice@Example.test,2026-11-20,2,2,2,2,2,2,2\n")

    result = import_checkins(runner, tmp_path, text)

    assert_refused(result, "line 4: date: this patient and date are already on line 2")
    assert count(CheckIn) == 0


def test_one_bad_row_among_good_rows_imports_nothing_and_lists_every_problem(runner, tmp_path, users):
    text = (CHECKIN_HEADER + "\n"
            "alice@example.test,2026-11-18,1,1,1,1,1,1,1\n"
            "alice@example.test,2026-11-19,1,9,1,1,1,1,1\n"
            "bob@example.test,2026-11-18,1,1,1,1,1,1,1\n"
            "bob@example.test,2026-11-31,1,1,1,1,1,1,x\n"
            "alice@example.test,2026-11-20,1,1,1,1,1,1,1\n")

    result = import_checkins(runner, tmp_path, text)

    assert_refused(result,
                   "line 3: q2: 9 is out of range",
                   "line 5: date: '2026-11-31' is an impossible date",
                   "line 5: q7: 'x' is not a whole number",
                   "Nothing was imported: 3 problems.")
    assert "line 2" not in result.stderr and "line 4" not in result.stderr
    assert count(CheckIn) == 0
    assert events("import.checkins") == []


def test_line_numbers_are_physical_lines_of_the_file(runner, tmp_path, users):
    text = (CHECKIN_HEADER + ",note\n"
            'alice@example.test,2026-11-18,1,1,1,1,1,1,1,"a note\nover two lines"\n'
            "\n"
            "alice@example.test,2026-11-19,1,1,1,1,1,1,7,\n")

    result = import_checkins(runner, tmp_path, text)

    assert_refused(result, "line 5: q7: 7 is out of range")


def test_rows_with_too_many_or_too_few_cells_are_refused(runner, tmp_path, users):
    text = (CHECKIN_HEADER + "\n"
            "alice@example.test,2026-11-18,1,1,1,1,1,1\n"
            "alice@example.test,2026-11-19,1,1,1,1,1,1,1,1\n")

    result = import_checkins(runner, tmp_path, text)

    assert_refused(result, "line 2: expected 9 cells, found 8", "line 3: expected 9 cells, found 10")


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    (CHECKIN_HEADER + "\n", "the file has a header but no rows"),
    ("patient_email,date,q1,q2,q3,q4,q5\nalice@example.test,2026-11-18,1,1,1,1,1\n",
     "line 1: missing columns: q6, q7"),
    (CHECKIN_HEADER + ",mood\nalice@example.test,2026-11-18,1,1,1,1,1,1,1,good\n", "line 1: unknown columns: mood"),
    (CHECKIN_HEADER + ",q1\n", "line 1: repeated columns: q1"),
    ("patient_email;date;q1;q2;q3;q4;q5;q6;q7\n", "separated by ';'"),
])
def test_unusable_files_are_refused(runner, tmp_path, users, text, message):
    result = import_checkins(runner, tmp_path, text)

    assert_refused(result, message)
    assert count(CheckIn) == 0


def test_non_utf8_file_is_refused_naming_the_line(runner, tmp_path, users):
    text = (CHECKIN_HEADER + ",note\nalice@example.test,2026-11-18,1,1,1,1,1,1,1,caf\xe9\n").encode("latin-1")

    result = import_checkins(runner, tmp_path, text)

    assert result.exit_code == 1
    assert "line 2: the file is not UTF-8 text" in result.stderr
    assert count(CheckIn) == 0


def test_missing_file_is_refused(runner, tmp_path, users):
    result = runner.invoke(args=["import-checkins", str(tmp_path / "nope.csv")])

    assert result.exit_code == 1
    assert "nope.csv: file not found" in result.stderr


# --- Treatment sessions --------------------------------------------------------------------

def sessions_of(patient) -> list[Treatment]:
    return list(db.session.scalars(
        select(Treatment).where(Treatment.patient_id == patient.id).order_by(Treatment.administered_at)))


def test_imports_sessions_converting_times_to_utc(runner, tmp_path, users):
    text = (SESSION_HEADER + ",notes\n"
            "alice@example.test,2026-11-20T10:30:00-05:00,lozenge,200,first lozenge\n"
            "alice@example.test,2026-07-01T10:30,Intramuscular,56,\n"  # clinic time, summer (UTC-4)
            "bob@example.test,2026-11-21 09:00Z,intranasal,0.5,\n")

    result = import_treatments(runner, tmp_path, text)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Imported 3 sessions for 2 patients."
    summer, november = sessions_of(users.patient_a)
    assert november.administered_at == datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)
    assert (november.route, november.dose_mg, november.notes, november.source) == (
        "lozenge", Decimal("200"), "first lozenge", "import")
    assert summer.administered_at == datetime(2026, 7, 1, 14, 30, tzinfo=timezone.utc)
    assert (summer.route, summer.dose_mg, summer.notes) == ("intramuscular", Decimal("56"), None)
    [bob] = sessions_of(users.patient_b)
    assert bob.administered_at == datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    assert bob.dose_mg == Decimal("0.50")
    [event] = events("import.treatments")
    assert event.detail == "3 sessions for 2 patients"


def test_time_without_offset_is_in_the_clinics_time_zone(runner, tmp_path, users):
    get_clinic().timezone = "Europe/London"
    db.session.commit()

    result = import_treatments(runner, tmp_path, SESSION_HEADER + "\nalice@example.test,2026-07-01T10:30,oral,100\n")

    assert result.exit_code == 0, result.output
    assert sessions_of(users.patient_a)[0].administered_at == datetime(2026, 7, 1, 9, 30, tzinfo=timezone.utc)


def test_time_skipped_by_the_clocks_going_forward_is_refused(runner, tmp_path, users):
    result = import_treatments(runner, tmp_path, SESSION_HEADER + "\nalice@example.test,2026-03-08T02:30,lozenge,200\n")

    assert_refused(result, "line 2: datetime: 02:30 on 8 March 2026 does not exist in America/New_York: "
                           "the clocks went forward that night.")
    assert count(Treatment) == 0


def test_time_repeated_by_the_clocks_going_back_is_its_first_occurrence(runner, tmp_path, users):
    text = (SESSION_HEADER + "\n"
            "alice@example.test,2026-11-01T01:30,lozenge,200\n"
            "bob@example.test,2026-11-01T01:30-05:00,lozenge,200\n")  # the second 01:30, by its offset

    result = import_treatments(runner, tmp_path, text)

    assert result.exit_code == 0, result.output
    # The first 01:30 is still daylight time (UTC-4).
    assert sessions_of(users.patient_a)[0].administered_at == datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)
    assert sessions_of(users.patient_b)[0].administered_at == datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)


def test_reimporting_the_same_file_is_refused_as_already_recorded(runner, tmp_path, users):
    text = (SESSION_HEADER + "\n"
            "alice@example.test,2026-11-20T10:30,lozenge,200\n"
            "bob@example.test,2026-11-20T11:00,intramuscular,50\n")
    assert import_treatments(runner, tmp_path, text).exit_code == 0

    # The same instant written with an offset is the same session.
    again = text.replace("2026-11-20T10:30", "2026-11-20T15:30:00+00:00")
    result = import_treatments(runner, tmp_path, again)

    assert_refused(result,
                   "line 2: datetime: a session for this patient at this time is already recorded",
                   "line 3: datetime: a session for this patient at this time is already recorded")
    assert count(Treatment) == 2
    assert len(events("import.treatments")) == 1


def test_same_session_twice_in_one_file_is_refused(runner, tmp_path, users):
    text = (SESSION_HEADER + "\n"
            "alice@example.test,2026-11-20T10:30,lozenge,200\n"
            "alice@example.test,2026-11-20T10:30-05:00,lozenge,200\n")

    result = import_treatments(runner, tmp_path, text)

    assert_refused(result, "line 3: datetime: this patient and time are already on line 2")
    assert count(Treatment) == 0


@pytest.mark.parametrize("row, message", [
    ("alice@example.test,2026-11-20T10:30,iv,50", "line 2: route: 'iv' is not a route (use one of lozenge, intramuscular"),
    ("alice@example.test,2026-11-20T10:30,,50", "line 2: route: missing"),
    ("alice@example.test,2026-11-20T10:30,lozenge,0", "line 2: dose_mg: The dose must be more than 0 mg."),
    ("alice@example.test,2026-11-20T10:30,lozenge,-5", "line 2: dose_mg: The dose must be more than 0 mg."),
    ("alice@example.test,2026-11-20T10:30,lozenge,abc", "line 2: dose_mg: Enter the dose in mg as a number"),
    ("alice@example.test,2026-11-20T10:30,lozenge,NaN", "line 2: dose_mg: Enter the dose in mg as a number"),
    ("alice@example.test,2026-11-20T10:30,lozenge,inf", "line 2: dose_mg: Enter the dose in mg as a number"),
    ("alice@example.test,2026-11-20T10:30,lozenge,1e3", "line 2: dose_mg: Enter the dose in mg as a number"),
    ("alice@example.test,2026-11-20T10:30,lozenge,0.505", "line 2: dose_mg: The dose can have at most 2 decimal places."),
    ("alice@example.test,2026-11-20T10:30,lozenge,10000.01", "line 2: dose_mg: The dose must be at most 10,000 mg."),
    ("alice@example.test,2026-11-20T10:30,lozenge,", "line 2: dose_mg: missing"),
    ("alice@example.test,2026-02-30T10:30,lozenge,50", "line 2: datetime: '2026-02-30T10:30' is an impossible date or time"),
    ("alice@example.test,2026-11-20T25:00,lozenge,50", "line 2: datetime: '2026-11-20T25:00' is an impossible date or time"),
    ("alice@example.test,next tuesday,lozenge,50", "line 2: datetime: 'next tuesday' is not an ISO 8601 date and time"),
    ("alice@example.test,2026-11-20,lozenge,50", "line 2: datetime: '2026-11-20' has no time of day"),
    ("alice@example.test,1989-12-31T10:00,lozenge,50", "line 2: datetime: The date must be on or after 1 January 1990."),
    ("alice@example.test,2027-11-27T10:00,lozenge,50",
     "line 2: datetime: The date can be at most a year ahead (up to 26 November 2027)."),
    ("alice@example.test,2027-11-27T10:00+00:00,lozenge,50", "line 2: datetime: The date can be at most a year ahead"),
    ("alice@example.test,2026-11-20T10:00,lozenge,50," + "n" * 2001,
     "line 2: notes: too long (2,001 characters; at most 2,000)"),
    ("alice@example.test,,lozenge,50", "line 2: datetime: missing"),
    ("nobody@example.test,2026-11-20T10:30,lozenge,50", "line 2: patient_email: no account has this email"),
    ("pb@clinic.test,2026-11-20T10:30,lozenge,50", "line 2: patient_email: this is a provider account, not a patient's"),
])
def test_bad_session_row_is_refused_with_its_line_and_column(runner, tmp_path, users, row, message):
    if row.count(",") == 3:
        row += ","  # an empty notes cell
    result = import_treatments(runner, tmp_path, SESSION_HEADER + ",notes\n" + row + "\n")

    assert_refused(result, message)
    assert count(Treatment) == 0


def test_boundary_values_and_planned_sessions_are_accepted(runner, tmp_path, users):
    text = (SESSION_HEADER + ",notes\n"
            "alice@example.test,1990-01-01T10:30,intravenous,10000,\n"
            "alice@example.test,2026-11-21T10:30,subcutaneous,12.25," + "n" * 2000 + "\n"
            "alice@example.test,2027-11-26T10:30,oral,56.500,planned\n")

    result = import_treatments(runner, tmp_path, text)

    assert result.exit_code == 0, result.output
    assert [s.dose_mg for s in sessions_of(users.patient_a)] == [Decimal("10000"), Decimal("12.25"), Decimal("56.5")]


def test_session_file_with_one_bad_row_imports_nothing(runner, tmp_path, users):
    text = (SESSION_HEADER + ",notes\n"
            "alice@example.test,2026-11-20T10:30,lozenge,200,ok\n"
            "bob@example.test,2026-11-20T10:30,lozenge,-1,\n"
            "bob@example.test,2026-11-21T10:30,lozenge,200,ok\n"
            "alice@example.test,2026-11-21T10:30,sublingual,200,\n")

    result = import_treatments(runner, tmp_path, text)

    assert_refused(result, "line 3: dose_mg:", "line 5: route:", "Nothing was imported: 2 problems.")
    assert count(Treatment) == 0


def test_session_header_missing_columns_are_listed(runner, tmp_path, users):
    result = import_treatments(runner, tmp_path, "patient_email,when,dose_mg\nalice@example.test,x,1\n")

    assert_refused(result, "line 1: missing columns: datetime, route", "line 1: unknown columns: when")


def test_a_nul_character_in_a_cell_is_reported_and_nothing_is_imported(app, runner, users, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_text("patient_email,date,q1,q2,q3,q4,q5,q6,q7,note\n"
                    f"{users.patient_a.email},2026-11-20,1,1,1,1,1,1,1,ok\n"
                    f"{users.patient_a.email},2026-11-21,1,1,1,1,1,1,1,bad\x00note\n")
    result = runner.invoke(args=["import-checkins", str(path)])
    assert result.exit_code == 1
    assert "line 3: note: contains a NUL character" in result.output
    from monitor.models import CheckIn
    assert db.session.query(CheckIn).count() == 0


def test_imported_sessions_are_recorded_and_audited_like_the_web_forms(runner, tmp_path, users):
    """One way to record a treatment: the import goes through treatments.record_treatment, so
    each session has the same audit event as one entered on the web, marked as imported."""
    text = (SESSION_HEADER + "\n"
            "alice@example.test,2026-11-20T10:30,lozenge,200\n"
            "bob@example.test,2026-11-21T09:00,intranasal,50\n")
    assert import_treatments(runner, tmp_path, text).exit_code == 0
    [alice] = sessions_of(users.patient_a)
    [bob] = sessions_of(users.patient_b)
    created = {e.target_id: e.detail for e in events("treatment.created")}
    assert created == {alice.id: f"patient {users.patient_a.id}, import", bob.id: f"patient {users.patient_b.id}, import"}
    assert (alice.created_at, alice.recorded_by_id) == (alice.updated_at, None)  # by the command line, no one signed in
