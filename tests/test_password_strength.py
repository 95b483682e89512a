"""A new password must be hard to guess (zxcvbn score 3 or more), knowing the account's names,
its email address and the clinic's name; every place a password is set asks the same rule
(passwords.password_problem): invitation, reset, change of password, create-user."""
import pytest
from sqlalchemy import select

from monitor import mail, passwords
from monitor.accounts import invitation
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import User
from monitor.passwords import EVALUATED_LENGTH, known_words, password_problem, verify_password
from tests.factories import PASSWORD, add_patient, deliver_mail, login, read_outbox
from tests.test_auth import link_path

# The penetration test's examples: all 12 characters or more, all accepted by the old rule.
PEN_TEST_EXAMPLES = ["passwordpassword", "123456789012", "iloveyou1234", "Password123!", "abcdefghijkl"]
GOOD_PASSPHRASE = "tangerine ferry whistles at noon"
AMELIA = known_words("Amelia", "Hart", "amelia.hart@example.test", "Sunrise Clinic")


@pytest.mark.parametrize("password", PEN_TEST_EXAMPLES)
def test_the_pen_tests_guessable_passwords_are_refused_with_advice(password):
    problem = password_problem(password)
    assert problem.startswith("Too easy to guess: ")
    assert problem.endswith("Try a few unrelated words.")


@pytest.mark.parametrize("password, says", [
    ("Password123!", "this is a common password with small changes"),
    ("passwordpassword", "it repeats the same part"),
    ("abcdefghijkl", "it is a sequence, like abc or 6543"),
    ("qwertyuiop[]", "it is a row of keys on the keyboard"),
])
def test_the_advice_says_in_plain_words_what_makes_it_guessable(password, says):
    assert says in password_problem(password)


@pytest.mark.parametrize("password", [
    "Sunrise Clinic2026!!",  # the clinic's name, then a year and some punctuation
    "sunriseclinic2026!!",
    "amelia.hart2026!!",  # the email address's local part
    "AmeliaHart#1990!",  # first and last name
    "amelia.hart@example.test",  # the whole address
    "hart amelia hart amelia",
])
def test_a_password_built_on_the_names_email_or_clinic_name_is_refused(password):
    assert "your name, your email address or the clinic's name" in password_problem(password, AMELIA)


@pytest.mark.parametrize("password", ["ichliebedich", "1q2w3e4r5t6y7u8i9o", " Sojdlg123aljg "])
def test_leaked_passwords_that_zxcvbn_does_not_know_are_refused_too(password):
    assert passwords.common_passwords() and len(passwords.common_passwords()) > 19000
    assert password_problem(password) == "Too easy to guess: this is a common password. Try a few unrelated words."


def test_the_same_password_is_fine_for_someone_it_says_nothing_about():
    # zxcvbn alone scores "Sunrise Clinic2026!!" 3; it is the clinic's name that makes it weak.
    assert password_problem("Sunrise Clinic2026!!") is None


def test_known_words_are_the_names_email_and_clinic_name_whole_and_in_parts():
    assert {"amelia", "hart", "amelia.hart", "ameliahart", "amelia.hart@example.test", "example",
            "sunrise clinic", "sunriseclinic", "sunrise", "clinic"} == set(AMELIA)
    assert known_words("Al", "", "", "") == ()  # too short to take out of other passwords


@pytest.mark.parametrize("password", [GOOD_PASSPHRASE, "correct horse battery staple",
                                      "Amelia's tangerine ferry whistles"])
def test_a_good_passphrase_passes_even_with_the_context(password):
    assert password_problem(password, AMELIA) is None


def test_the_length_rule_stays_12_to_128():
    assert password_problem("tangerine!") == "Password must be at least 12 characters."
    assert password_problem(GOOD_PASSPHRASE * 5) == "Password must be at most 128 characters."
    assert password_problem(" " * 20) == "Password cannot be only spaces."
    assert password_problem((GOOD_PASSPHRASE * 4)[:128]) is None


def test_only_the_first_characters_are_estimated_so_a_long_input_costs_little():
    # zxcvbn's work explodes with long inputs of l33t characters; it sees EVALUATED_LENGTH.
    crafted = ("4@8({[<369!1|0$5+7%2" * 7)[:128]
    assert len(passwords._estimate(crafted, AMELIA)["password"]) == EVALUATED_LENGTH == 32
    # Judged by its start: a weak start is not saved by a strong end beyond it.
    assert password_problem("a" * 32 + GOOD_PASSPHRASE) is not None
    assert password_problem(GOOD_PASSPHRASE + "a" * 90) is None


# --- Every place a password is set --------------------------------------------------------

def _invite(app, clinic_name="Sunrise Clinic"):
    get_clinic().name = clinic_name
    patient = add_patient("amelia.hart@example.test", first_name="Amelia", last_name="Hart", password=False)
    mail.deliver(invitation(patient))
    db.session.commit()
    return patient, link_path(read_outbox(app)[-1])


@pytest.mark.parametrize("password, says", [
    ("Password123!", "Too easy to guess: this is a common password"),
    ("Sunrise Clinic2026!!", "the clinic&#39;s name"),
    ("amelia.hart2026!!", "your email address"),
])
def test_accepting_an_invitation_refuses_a_guessable_password(client, app, users, password, says):
    patient, path = _invite(app)
    r = client.post(path, data={"password": password, "confirm": password})
    assert r.status_code == 200
    assert says in r.get_data(as_text=True)
    db.session.refresh(patient)
    assert patient.password_hash is None


def test_accepting_an_invitation_takes_a_good_passphrase(client, app, users):
    patient, path = _invite(app)
    r = client.post(path, data={"password": GOOD_PASSPHRASE, "confirm": GOOD_PASSPHRASE})
    assert r.status_code == 302
    db.session.refresh(patient)
    assert verify_password(patient.password_hash, GOOD_PASSPHRASE)


def test_a_reset_refuses_a_password_built_on_the_users_own_name(client, app, users):
    # users.patient_a is Alice Archer, alice@example.test
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = link_path(read_outbox(app)[0])
    r = client.post(path, data={"password": "AliceArcher2026!", "confirm": "AliceArcher2026!"})
    assert r.status_code == 200
    assert "your name, your email address or the clinic&#39;s name" in r.get_data(as_text=True)
    r = client.post(path, data={"password": GOOD_PASSPHRASE, "confirm": GOOD_PASSPHRASE})
    assert r.status_code == 302


@pytest.mark.parametrize("password", ["iloveyou1234", "alice archer 1234"])
def test_changing_the_password_refuses_a_guessable_one(client, users, password):
    login(client, users.patient_a)
    r = client.post("/account/password", data={"current_password": PASSWORD, "password": password,
                                               "confirm": password})
    assert r.status_code == 400
    assert "Too easy to guess" in r.get_data(as_text=True)
    db.session.refresh(users.patient_a)
    assert verify_password(users.patient_a.password_hash, PASSWORD)


@pytest.mark.parametrize("args, password", [
    ([], "abcdefghijkl"),
    (["--first-name", "Nora", "--last-name", "Quinn"], "NoraQuinn2026!"),
    ([], "nora.quinn.2026"),  # the email's local part, even without the name options
    ([], "Lakeside Clinic 2026!"),
])
def test_create_user_refuses_a_guessable_password_from_stdin(runner, users, args, password):
    get_clinic().name = "Lakeside Clinic"
    db.session.commit()
    result = runner.invoke(args=["create-user", "nora.quinn@clinic.example", "--role", "provider", *args],
                           input=password + "\n")
    assert result.exit_code == 1
    assert "Error: Too easy to guess" in result.stderr
    assert db.session.scalar(select(User).where(User.email == "nora.quinn@clinic.example")) is None


def test_create_user_prompt_refuses_a_guessable_password(runner, users, monkeypatch):
    from monitor import cli

    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: True)
    result = runner.invoke(args=["create-user", "nora.quinn@clinic.example", "--role", "provider"],
                           input="iloveyou1234\niloveyou1234\n")
    assert result.exit_code == 1
    assert "Too easy to guess: this is a common password" in result.stderr


def test_the_published_demo_password_is_exempt_on_purpose():
    # seed-demo prints it; it is built on the demo clinic's name, so the rule would refuse it
    # (monitor/demo.py says why it is exempt). Fails if the rule stops seeing the clinic's name.
    from monitor import demo

    known = known_words("Ada", "Admin", f"ada.admin@{demo.DOMAIN}", demo.CLINIC_NAME)
    assert password_problem(demo.DEMO_PASSWORD, known) is not None
