"""flask create-user: accounts from the command line, with the password from a prompt or stdin."""
import pytest
from sqlalchemy import func, select

from monitor import cli
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import User
from monitor.passwords import verify_password
from tests.factories import events

NEW_PASSWORD = "a long enough password"


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def create_user(runner, *args, password_input=NEW_PASSWORD + "\n"):
    return runner.invoke(args=["create-user", *args], input=password_input)


def test_creates_account_with_password_from_stdin_and_audits_it(runner, users):
    result = create_user(runner, "  New.Provider@Clinic.Example ", "--role", "provider",
                         "--first-name", "Nora", "--last-name", "Quinn")

    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new.provider@clinic.example"))
    assert user is not None
    assert user.role == "provider"
    assert (user.first_name, user.last_name) == ("Nora", "Quinn")
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert "Created provider account new.provider@clinic.example" in result.stdout
    [event] = events("account.created")
    assert event.target_type == "user" and event.target_id == user.id


def test_second_stdin_line_repeating_the_password_is_accepted(runner, users):
    result = create_user(runner, "admin2@clinic.example", "--role", "admin",
                         password_input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert verify_password(User.query.filter_by(email="admin2@clinic.example").one().password_hash, NEW_PASSWORD)


def test_patient_gets_every_provider_given(runner, users):
    result = create_user(runner, "carol@patients.example", "--role", "patient",
                         "--provider", "pa@clinic.test", "--provider", "ADMIN@clinic.test")

    assert result.exit_code == 0, result.output
    patient = User.query.filter_by(email="carol@patients.example").one()
    assert {p.email for p in patient.providers} == {"pa@clinic.test", "admin@clinic.test"}


def test_time_zone_defaults_to_the_clinics(runner, users):
    get_clinic().timezone = "America/Chicago"
    db.session.commit()

    create_user(runner, "default.tz@patients.example", "--role", "patient")
    create_user(runner, "london@patients.example", "--role", "patient", "--tz", "Europe/London")

    assert User.query.filter_by(email="default.tz@patients.example").one().timezone == "America/Chicago"
    assert User.query.filter_by(email="london@patients.example").one().timezone == "Europe/London"


def test_prompts_for_the_password_twice_on_a_terminal(runner, users, monkeypatch):
    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: True)

    result = create_user(runner, "prompted@clinic.example", "--role", "provider",
                         password_input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert NEW_PASSWORD not in result.output  # hidden input
    assert verify_password(User.query.filter_by(email="prompted@clinic.example").one().password_hash, NEW_PASSWORD)


def test_prompt_refuses_a_short_password(runner, users, monkeypatch):
    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: True)

    result = create_user(runner, "prompted@clinic.example", "--role", "provider", password_input="short\nshort\n")

    assert result.exit_code != 0
    assert "at least 12 characters" in result.stderr
    assert User.query.filter_by(email="prompted@clinic.example").first() is None


@pytest.mark.parametrize("args, password_input, message", [
    (["not-an-email", "--role", "patient"], None, "'not-an-email' is not a valid email address"),
    (["someone@", "--role", "patient"], None, "is not a valid email address"),
    (["Alice@Example.test", "--role", "patient"], None,
     "an account with the email alice@example.test already exists"),
    (["new@clinic.example", "--role", "doctor"], None, "unknown role 'doctor'; use one of patient, provider, admin"),
    (["new@clinic.example", "--role", "provider", "--provider", "pa@clinic.test"], None,
     "--provider is only for patient accounts"),
    (["new@patients.example", "--role", "patient", "--provider", "nobody@clinic.test"], None,
     "--provider nobody@clinic.test: no account has this email"),
    (["new@patients.example", "--role", "patient", "--provider", "bob@example.test"], None,
     "--provider bob@example.test: this is a patient account"),
    (["new@patients.example", "--role", "patient", "--tz", "Mars/Olympus_Mons"], None,
     "unknown time zone 'Mars/Olympus_Mons'"),
    (["new@patients.example", "--role", "patient", "--first-name", "x" * 81], None, "--first-name is too long"),
    (["new@patients.example", "--role", "patient"], "short\n", "Password must be at least 12 characters."),
    (["new@patients.example", "--role", "patient"], " " * 12 + "\n", "Password cannot be only spaces."),
    (["new@patients.example", "--role", "patient"], f"{NEW_PASSWORD}\n{NEW_PASSWORD}!\n",
     "the two password lines on standard input do not match"),
    (["new@patients.example", "--role", "patient"], "", "no password on standard input"),
    (["new@patients.example", "--role", "patient"], "\n\n", "no password on standard input"),
    (["new@patients.example", "--role", "patient"], f"{NEW_PASSWORD}\n{NEW_PASSWORD}\nmore\n",
     "more than two lines"),
])
def test_refuses_bad_arguments_and_stores_nothing(runner, users, args, password_input, message):
    before = count_users()

    result = create_user(runner, *args, password_input=NEW_PASSWORD + "\n" if password_input is None else password_input)

    assert result.exit_code == 1
    assert message in result.stderr
    db.session.rollback()
    assert count_users() == before
    assert events("account.created") == []


def test_reports_every_argument_problem_at_once(runner, users):
    result = create_user(runner, "new@clinic.example", "--role", "nurse", "--tz", "Nowhere/Town")

    assert result.exit_code == 1
    assert "unknown role 'nurse'" in result.stderr
    assert "unknown time zone 'Nowhere/Town'" in result.stderr
