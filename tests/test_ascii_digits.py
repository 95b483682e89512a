"""Scores, doses, dates, times and thresholds are written with the digits 0-9 only: Python reads
"٣" (Arabic-Indic three) as 3, and the penetration test stored it as a check-in score. Every
entry point refuses another script's digits with a message naming the field (monitor/digits.py)."""
import pytest
from sqlalchemy import func, select

from monitor import digits
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import CheckIn, Treatment, User
from tests.factories import login
from tests.test_checkin import answers
from tests.test_imports import CHECKIN_HEADER, SESSION_HEADER, import_checkins, import_treatments, valid_checkin
from tests.test_treatments import GOOD as GOOD_SESSION
from tests.test_treatments import post_new

ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("text, char", [("٣", "٣"), ("３", "３"), ("1२", "२"), ("²", "²"), ("½", "½"), ("٣.5", "٣")])
def test_the_rule_names_the_first_foreign_digit(text, char):
    assert digits.foreign_digit(text) == char
    assert digits.problem(text, "The dose") == f"The dose must be written with the digits 0 to 9 (not “{char}”)."


@pytest.mark.parametrize("text", ["", "0123456789", "-12.5", "2026-11-26T14:30", "abc", "x٫y"])
def test_ascii_digits_and_other_text_pass(text):
    assert digits.problem(text, "The dose") is None


def test_whole_number_reads_only_ascii_digits():
    assert digits.whole_number("-42", "--port") == -42
    with pytest.raises(ValueError, match="must be written with the digits 0 to 9"):
        digits.whole_number("٤٢", "--port")
    with pytest.raises(ValueError, match="--port must be a whole number"):
        digits.whole_number("4_2", "--port")


# --- The patient's pages ----------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("q3", "٣", "The answer to question 3 must be written with the digits 0 to 9 (not “٣”)."),
    ("q1", "２", "The answer to question 1 must be written with the digits 0 to 9 (not “２”)."),
    ("se_nausea", "٢", "The answer for nausea or vomiting must be written with the digits 0 to 9 (not “٢”)."),
])
def test_a_check_in_answer_in_another_script_is_refused(client, users, field, value, message):
    login(client, users.patient_a)
    r = client.post("/checkin", data=answers(**{field: value}))
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    assert count(CheckIn) == 0


def test_a_reminder_time_in_another_script_is_refused(client, users):
    login(client, users.patient_a)
    r = client.post("/me/settings", data={"timezone": "Europe/London", "reminder_time": "١٩:٠٠", "nudges": "on"})
    assert r.status_code == 400
    assert "The reminder time must be written with the digits 0 to 9 (not “١”)." in r.get_data(as_text=True)
    db.session.refresh(users.patient_a)
    assert users.patient_a.timezone == "America/New_York"


# --- Staff: treatment sessions, enrolment, clinic settings -----------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("dose_mg", "٥٠", "The dose must be written with the digits 0 to 9 (not “٥”)."),
    ("dose_mg", "5０", "The dose must be written with the digits 0 to 9 (not “０”)."),
    ("administered_at", "2026-11-20T10:00".translate(ARABIC), "The date and time must be written with the digits"),
    ("bp_systolic_before", "١٢٨", "The systolic pressure before must be written with the digits 0 to 9"),
    ("dissociation_score", "٣", "The dissociation score must be written with the digits 0 to 9"),
])
def test_a_treatment_value_in_another_script_is_refused(client, users, field, value, message):
    login(client, users.provider_a)
    r = post_new(client, users.patient_a, **{field: value})
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    assert count(Treatment) == 0
    assert GOOD_SESSION[field] != value


def test_an_enrolment_provider_id_in_another_script_is_refused(client, users):
    login(client, users.admin)
    before = count(User)
    r = client.post("/patients/new", data={"email": "carol@example.test", "first_name": "Carol", "last_name": "Cole",
                                           "timezone": "America/Chicago",
                                           "providers": str(users.provider_a.id).translate(ARABIC)})
    assert r.status_code == 400
    assert "Choose providers from the list." in r.get_data(as_text=True)
    assert count(User) == before


def test_a_care_team_provider_id_in_another_script_is_refused(client, users):
    login(client, users.admin)
    r = client.post(f"/patients/{users.patient_a.id}/care-team",
                    data={"providers": [str(users.provider_b.id).translate(ARABIC)]}, follow_redirects=True)
    assert "Choose providers from the list." in r.get_data(as_text=True)
    db.session.expire_all()
    assert [p.id for p in users.patient_a.providers] == [users.provider_a.id]


def test_a_trend_period_in_another_script_is_the_default(client, users):
    login(client, users.patient_a)
    html = client.get("/me/trend?days=٩٠").get_data(as_text=True)
    assert '<strong aria-current="page">Last 30 days</strong>' in html


@pytest.mark.parametrize("field, value, message", [
    ("mcid", "٥", "The MCID must be written with the digits 0 to 9 (not “٥”)."),
    ("wane_fraction", "0.٤", "The wane fraction must be written with the digits 0 to 9 (not “٤”)."),
    ("baseline_window_start", "-٤", "The baseline window&#39;s first day must be written with the digits 0 to 9"),
    ("lapse_days", "５", "Missed days before lapsed must be written with the digits 0 to 9 (not “５”)."),
])
def test_a_clinic_threshold_in_another_script_is_refused(client, users, field, value, message):
    login(client, users.admin)
    settings = {"name": "Harbour Clinic", "phone": "", "timezone": "America/Chicago", "crisis_text": "Call 988.",
                "mcid": "5", "wane_fraction": "0.4", "confirm_days": "3", "baseline_window_start": "-4",
                "baseline_window_end": "-1", "nadir_window_start": "1", "nadir_window_end": "4", "lapse_days": "5"}
    r = client.post("/admin/clinic", data={**settings, field: value})
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    db.session.expire_all()
    assert get_clinic().name != "Harbour Clinic"


@pytest.mark.parametrize("path", ["/patients?page=٢", "/report?page=٢"])
def test_a_page_number_in_another_script_is_refused(client, users, path):
    # (The audit log shows page 1 for any unreadable page: tests/test_admin_audit.py.)
    login(client, users.admin)
    r = client.get(path)
    assert r.status_code == 400
    assert "Pages are numbered 1, 2, 3 and so on." in r.get_data(as_text=True)


def test_a_patient_page_number_in_another_script_is_refused(client, users):
    login(client, users.provider_a)
    r = client.get(f"/patients/{users.patient_a.id}?page=٢")
    assert r.status_code == 400
    assert "Pages are numbered 1, 2, 3 and so on." in r.get_data(as_text=True)


# --- The command line: CSV imports and options -----------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"q3": "٣"}, "line 2: q3: '٣' must be written with the digits 0 to 9 (not “٣”)."),
    ({"se_nausea": "３"}, "line 2: se_nausea: '３' must be written with the digits 0 to 9 (not “３”)."),
    ({"date": "2026-11-20".translate(ARABIC)}, "line 2: date: '٢٠٢٦-١١-٢٠' must be written with the digits 0 to 9"),
])
def test_a_check_in_import_with_another_scripts_digits_is_refused(runner, tmp_path, users, changes, message):
    result = import_checkins(runner, tmp_path, CHECKIN_HEADER + ",se_nausea,note\n" + valid_checkin(**changes) + "\n")
    assert result.exit_code == 1
    assert message in result.stderr
    assert count(CheckIn) == 0


@pytest.mark.parametrize("row, message", [
    ("alice@example.test,2026-11-20T10:30,lozenge,٥٠", "line 2: dose_mg: '٥٠' must be written with the digits 0 to 9"),
    ("alice@example.test,2026-11-20T10:30,lozenge,5０.5", "line 2: dose_mg: '5０.5' must be written with the digits"),
    ("alice@example.test," + "2026-11-20T10:30".translate(FULL_WIDTH) + ",lozenge,50",
     "line 2: datetime: '２０２６-１１-２０T１０:３０' must be written with the digits 0 to 9 (not “２”)."),
])
def test_a_session_import_with_another_scripts_digits_is_refused(runner, tmp_path, users, row, message):
    result = import_treatments(runner, tmp_path, SESSION_HEADER + ",notes\n" + row + ",\n")
    assert result.exit_code == 1
    assert message in result.stderr
    assert count(Treatment) == 0


def test_the_demo_port_in_another_script_is_refused(runner, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("monitor.cli.run_simple", lambda *a, **kw: pytest.fail("served"))
    result = runner.invoke(args=["demo", "--port", "٥٠٠٠"])
    assert result.exit_code == 2
    assert "--port must be written with the digits 0 to 9 (not “٥”)." in result.output


def test_send_nudges_now_in_another_script_is_refused(runner, users):
    result = runner.invoke(args=["send-nudges", "--now", "2026-11-26T20:00:00-05:00".translate(ARABIC)])
    assert result.exit_code == 1
    assert "Invalid value for --now:" in result.output and "is not an ISO 8601 date and time" in result.output
