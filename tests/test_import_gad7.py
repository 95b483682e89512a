"""flask import-gad7 (issue 12 point 2, SPEC 2.2): numeric or LOINC answers, the difficulty as its
LOINC code, all rows or none, every bad row reported by line; import-checkins stays numeric."""
from datetime import date

from sqlalchemy import func, select

from monitor import standard_gad7
from monitor.extensions import db
from monitor.models import CheckIn, StandardGad7
from tests.factories import TODAY, add_standard_gad7, events

HEADER = "patient_email,date,q1,q2,q3,q4,q5,q6,q7"


def import_gad7(runner, tmp_path, text: str):
    path = tmp_path / "gad7.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return runner.invoke(args=["import-gad7", str(path)])


def stored(patient) -> dict[date, StandardGad7]:
    return {row.local_date: row for row in standard_gad7.history(patient.id)}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_imports_numeric_and_loinc_answers_and_the_difficulty_codes(runner, tmp_path, users):
    text = (HEADER + ",difficulty\r\n"
            "alice@example.test,2026-10-01,0,1,2,3,0,1,2,LA6572-7\r\n"
            "alice@example.test,2026-10-15,LA6568-5,LA6569-3,LA6570-1,LA6571-9,LA18938-3,la6571-9,2,LA6575-0\r\n"
            "alice@example.test,2026-10-29,3,3,3,3,3,3,LA6571-9,LA6574-3\r\n"
            "alice@example.test,2026-11-12,0,0,0,0,0,0,0,LA6573-5\r\n"
            "bob@example.test,2026-11-26,1,1,1,1,1,1,1,\r\n")
    result = import_gad7(runner, tmp_path, text)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Imported 5 standard GAD-7s for 2 patients."
    alice = stored(users.patient_a)
    assert alice[date(2026, 10, 1)].answers() == {"q1": 0, "q2": 1, "q3": 2, "q4": 3, "q5": 0, "q6": 1, "q7": 2}
    second = alice[date(2026, 10, 15)]
    # LA18938-3 ("More days than not") is read as 2; codes in any case.
    assert second.answers() == {"q1": 0, "q2": 1, "q3": 2, "q4": 3, "q5": 2, "q6": 3, "q7": 2}
    assert second.total == 13
    # The difficulty codes are not in order: 75-0 is Very (2), 74-3 Extremely (3).
    assert [alice[d].difficulty for d in sorted(alice)] == [0, 2, 3, 1]
    assert alice[date(2026, 10, 29)].total == 21  # the difficulty is not added
    assert {row.source for row in alice.values()} == {"import"}
    [bob] = stored(users.patient_b).values()
    assert (bob.total, bob.difficulty) == (7, None)
    assert count(CheckIn) == 0  # kept apart from the daily check-ins
    [event] = events("import.standard_gad7s")
    assert event.detail == "5 standard GAD-7s for 2 patients"


def test_the_difficulty_column_may_be_left_out(runner, tmp_path, users):
    result = import_gad7(runner, tmp_path, HEADER + "\nalice@example.test,2026-11-01,1,0,0,0,0,0,0\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Imported 1 standard GAD-7 for 1 patient."


def test_every_bad_row_is_reported_by_line_and_nothing_is_imported(runner, tmp_path, users):
    text = (HEADER + ",difficulty\n"
            "alice@example.test,2026-11-01,1,1,1,1,1,1,1,LA6572-7\n"           # line 2: fine
            "alice@example.test,2026-11-02,4,1,1,1,1,1,1,\n"                   # 3: out of range
            "alice@example.test,2026-11-03,LA9999-9,1,1,1,1,1,1,\n"            # 4: not an answer code
            "alice@example.test,2026-11-04,1,1,1,1,1,1,,\n"                    # 5: missing q7
            "alice@example.test,2026-11-05,1,1,1,1,1,1,1,2\n"                  # 6: difficulty not a code
            "alice@example.test,2026-11-06,1,1,1,1,1,1,1,LA6568-5\n"           # 7: an item code as difficulty
            "nobody@example.test,2026-11-07,1,1,1,1,1,1,1,\n"                  # 8: no account
            "pa@clinic.test,2026-11-08,1,1,1,1,1,1,1,\n"                       # 9: staff
            "alice@example.test,2026-12-25,1,1,1,1,1,1,1,\n"                   # 10: future
            "alice@example.test,2026-11-01,0,0,0,0,0,0,0,\n"                   # 11: same date as line 2
            "alice@example.test,2026-02-30,1,1,1,1,1,1,1,\n"                   # 12: impossible date
            "alice@example.test,2026-11-09,1,1,1\n")                           # 13: short row
    result = import_gad7(runner, tmp_path, text)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == [
        "line 3: q1: 4 is out of range (use 0 to 3)",
        "line 4: q1: 'LA9999-9' is neither a whole number from 0 to 3 nor a GAD-7 answer code "
        "(use LA6568-5, LA6569-3, LA6570-1, LA6571-9, LA18938-3)",
        "line 5: q7: missing (a whole number from 0 to 3 is required)",
        "line 6: difficulty: '2' is not a difficulty answer code (use LA6572-7, LA6573-5, LA6575-0, LA6574-3, "
        "or leave it empty)",
        "line 7: difficulty: 'LA6568-5' is not a difficulty answer code (use LA6572-7, LA6573-5, LA6575-0, "
        "LA6574-3, or leave it empty)",
        "line 8: patient_email: no account has this email",
        "line 9: patient_email: this is a provider account, not a patient's",
        "line 10: date: 2026-12-25 is in the future for this patient (today is 2026-11-26 in America/New_York)",
        "line 11: date: this patient and date are already on line 2",
        "line 12: date: '2026-02-30' is an impossible date",
        "line 13: expected 10 cells, found 5",
        "Nothing was imported: 11 problems.",
    ]
    assert count(StandardGad7) == 0
    assert events("import.standard_gad7s") == []


def test_a_date_that_already_has_one_is_refused_and_nothing_is_imported(runner, tmp_path, users):
    """Not replaced (a standard GAD-7 keeps no earlier versions): re-running an import, or a file
    overlapping the app's own, is reported row by row and changes nothing."""
    add_standard_gad7(users.patient_a, date(2026, 11, 1), 20, difficulty=3)
    result = import_gad7(runner, tmp_path, HEADER + "\nalice@example.test,2026-11-01,1,1,1,1,1,1,1\n"
                                                    "alice@example.test,2026-11-15,0,0,0,0,0,0,0\n")
    assert result.exit_code == 1
    assert "line 2: date: this patient already has a standard GAD-7 on this date" in result.output
    db.session.expire_all()
    kept = stored(users.patient_a)[date(2026, 11, 1)]
    assert (kept.total, kept.difficulty, kept.source) == (20, 3, "web")
    assert count(StandardGad7) == 1  # the good row was not imported either


def test_an_unknown_column_is_refused(runner, tmp_path, users):
    result = import_gad7(runner, tmp_path, HEADER + ",note\nalice@example.test,2026-11-01,1,1,1,1,1,1,1,x\n")
    assert result.exit_code == 1
    assert "line 1: unknown columns: note; the columns allowed are patient_email, date, q1, q2, q3, q4, q5, q6, " \
           "q7, difficulty" in result.stderr
    assert count(StandardGad7) == 0


def test_import_checkins_keeps_numeric_answers_only(runner, tmp_path, users):
    path = tmp_path / "checkins.csv"
    path.write_text(HEADER + f"\nalice@example.test,{TODAY},LA6570-1,1,1,1,1,1,1\n", encoding="utf-8")
    result = runner.invoke(args=["import-checkins", str(path)])
    assert result.exit_code == 1
    assert "line 2: q1: 'LA6570-1' is not a whole number (use 0 to 3)" in result.stderr
    assert count(CheckIn) == 0
