"""Sign in and out, password reset and invitation links (SPEC 6)."""
import re
from datetime import timedelta

import argon2
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from monitor import outbox, passwords, timeutil
from monitor.extensions import db
from monitor.models import User
from monitor.passwords import verify_password
from tests.factories import NOW, PASSWORD, add_patient, add_provider, deliver_mail, events, login, message_text, read_outbox
from tests.test_privacy import assert_no_health_words, visible_text

NEW_PASSWORD = "a brand new long passphrase"


def actions():
    return [e.action for e in events()]


def invitation_for(app, user):
    """An invitation queued as a view would, delivered; the email."""
    outbox.queue_invitation(user)
    db.session.commit()
    deliver_mail()
    return read_outbox(app)[-1]


def link_path(msg) -> str:
    url = re.search(r"http://localhost(/\S+)", message_text(msg)).group(1)
    return url


def test_login_page_renders_with_labels(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html


def test_login_and_logout(client, users):
    r = client.post("/login", data={"email": "ALICE@example.test ", "password": PASSWORD})
    assert r.status_code == 302
    assert client.get("/checkin").status_code == 200
    r = client.post("/logout")
    assert r.status_code == 302
    assert client.get("/checkin").status_code == 302
    assert actions() == ["login", "logout"]


def test_logout_is_post_only(client, users):
    login(client, users.patient_a)
    assert client.get("/logout").status_code == 405
    assert client.get("/checkin").status_code == 200


@pytest.mark.parametrize("email, password", [
    ("alice@example.test", "wrong password here"),
    ("nobody@example.test", PASSWORD),
])
def test_failed_login_gives_one_generic_message_and_is_audited(client, users, email, password):
    r = client.post("/login", data={"email": email, "password": password})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Email or password is incorrect." in html
    assert "no account" not in html.lower()
    assert client.get("/checkin").status_code == 302
    assert actions() == ["login.failed"]


def test_deactivated_account_cannot_sign_in(client, users):
    users.patient_a.active = False
    db.session.commit()
    r = client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD})
    assert "Email or password is incorrect." in r.get_data(as_text=True)


@pytest.fixture
def production_hasher(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", passwords.DEFAULT_HASHER)


def test_passwords_are_stored_as_argon2id_at_or_above_owasp_parameters(production_hasher):
    stored = passwords.hash_password("some long passphrase")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    # OWASP: at least m = 19 MiB, t = 2, p = 1.
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2 and params.parallelism >= 1
    assert verify_password(stored, "some long passphrase")
    assert not verify_password(stored, "other")
    assert not verify_password(None, "anything")


def test_outdated_hash_parameters_are_upgraded_at_login(client, users, production_hasher):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    users.patient_a.password_hash = weak
    db.session.commit()
    login(client, users.patient_a)
    db.session.refresh(users.patient_a)
    assert users.patient_a.password_hash != weak
    assert verify_password(users.patient_a.password_hash, PASSWORD)


@pytest.mark.parametrize("target, expected", [
    ("/me", "/me"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    # The retest's L3: a CR/LF (or any control character) answered 500 after signing in.
    ("/me\r\nSet-Cookie: planted=1", "/"),
    ("/me\nX-Injected: 1", "/"),
    ("/me\x07", "/"),
    ("/me\x7f", "/"),
])
def test_next_only_redirects_within_the_site(client, users, target, expected):
    r = client.post("/login", query_string={"next": target},
                    data={"email": users.patient_a.email, "password": PASSWORD})
    assert r.headers["Location"] == expected


def test_password_reset_round_trip(client, app, users):
    r = client.post("/account/reset", data={"email": users.patient_a.email})
    assert r.status_code == 302
    assert read_outbox(app) == []  # queued, not sent inside the request
    deliver_mail()
    [msg] = read_outbox(app)
    assert msg["To"] == users.patient_a.email
    assert msg["Subject"] == "Reset your password"
    assert msg.get_body(preferencelist=("html",)) is not None
    path = link_path(msg)
    assert client.get(path).status_code == 200
    r = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    db.session.refresh(users.patient_a)
    assert verify_password(users.patient_a.password_hash, NEW_PASSWORD)
    # Single use: the same link no longer works.
    assert client.get(path).status_code == 404
    assert client.post(path, data={"password": "yet another passphrase", "confirm": "yet another passphrase"}).status_code == 404


def test_reset_for_unknown_email_says_the_same_and_sends_nothing(client, app, users):
    known = client.post("/account/reset", data={"email": users.patient_a.email}, follow_redirects=True)
    unknown = client.post("/account/reset", data={"email": "nobody@example.test"}, follow_redirects=True)
    text = "If that address has an account, we are sending it a link"
    assert text in known.get_data(as_text=True) and text in unknown.get_data(as_text=True)
    deliver_mail()
    assert len(read_outbox(app)) == 1


def test_an_outstanding_reset_link_dies_when_the_password_changes(client, app, users):
    """The retest's L1: a link mailed before a password change no longer sets a password after it."""
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = link_path(read_outbox(app)[0])
    login(client, users.patient_a)
    r = client.post("/account/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    client.post("/logout")
    assert client.get(path).status_code == 404
    assert client.post(path, data={"password": "an intruders new passphrase", "confirm": "an intruders new passphrase"}).status_code == 404
    db.session.refresh(users.patient_a)
    assert verify_password(users.patient_a.password_hash, NEW_PASSWORD)


def test_using_one_link_kills_the_accounts_other_links(client, app, users):
    """A password set from an invitation also ends an older reset link (and the other way round)."""
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    reset = link_path(read_outbox(app)[0])
    invited = link_path(invitation_for(app, users.patient_a))
    assert client.post(invited, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    client.post("/logout")
    assert client.get(reset).status_code == 404


def test_deactivating_staff_kills_their_outstanding_invitation(client, app, users):
    newcomer = add_provider("new.provider@clinic.test", password=False)
    path = link_path(invitation_for(app, newcomer))
    admin = app.test_client()
    app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"] = False
    login(admin, users.admin)
    assert admin.post(f"/admin/staff/{newcomer.id}/active", data={"active": "0"}).status_code in (302, 303)
    # Reactivated later, the old link still does not work: an admin sends a new one.
    assert admin.post(f"/admin/staff/{newcomer.id}/active", data={"active": "1"}).status_code in (302, 303)
    assert client.get(path).status_code == 404


def test_reset_link_expires(client, app, users):
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = link_path(read_outbox(app)[0])
    timeutil.freeze(NOW + timedelta(minutes=61))
    assert client.get(path).status_code == 404


def test_a_newer_reset_link_replaces_the_older(client, app, users):
    client.post("/account/reset", data={"email": users.patient_a.email})
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    first, second = read_outbox(app)
    assert client.get(link_path(first)).status_code == 404
    assert client.get(link_path(second)).status_code == 200


@pytest.mark.parametrize("password, confirm, message", [
    ("short pass", "short pass", "Password must be at least 12 characters."),
    ("x" * 129, "x" * 129, "at most 128 characters"),
    (NEW_PASSWORD, NEW_PASSWORD + "!", "The two passwords do not match."),
    ("", "", "Choose a password."),
])
def test_weak_or_mismatched_new_password_is_refused(client, app, users, password, confirm, message):
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = link_path(read_outbox(app)[0])
    r = client.post(path, data={"password": password, "confirm": confirm})
    assert r.status_code == 200
    assert message in r.get_data(as_text=True)
    db.session.refresh(users.patient_a)
    assert verify_password(users.patient_a.password_hash, PASSWORD)
    assert client.get(path).status_code == 200  # not used up by a refused attempt


def test_password_change_ends_other_signed_in_sessions(app, users):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, users.patient_a)
    login(laptop, users.patient_a)
    laptop.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = link_path(read_outbox(app)[0])
    laptop.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert laptop.get("/checkin").status_code == 200
    assert phone.get("/checkin").status_code == 302


def test_invitation_sets_the_first_password_and_signs_in(client, app, users):
    patient = add_patient("new@example.test", first_name="Nia", password=False,
                          providers=[users.provider_a])
    outbox.queue_invitation(patient)  # as the views do: queued with its link, in one commit
    db.session.commit()
    deliver_mail()
    [msg] = read_outbox(app)
    assert msg["Subject"] == "Set up your account"
    body = message_text(msg)
    assert "Hello Nia" in body
    # No health information in the email: no clinic programme, drug or condition, no provider.
    assert_no_health_words(msg)
    assert "avery" not in visible_text(msg)
    path = link_path(msg)
    r = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert client.get("/checkin").status_code == 200
    assert client.get(path).status_code == 404


def test_an_invitation_link_cannot_reset_a_password(client, app, users):
    patient = add_patient("new@example.test", password=False)
    outbox.queue_invitation(patient)  # as the views do: queued with its link, in one commit
    db.session.commit()
    deliver_mail()
    token = link_path(read_outbox(app)[0]).rsplit("/", 1)[1]
    assert client.get(f"/account/reset/{token}").status_code == 404


def test_invitation_expires_after_72_hours(client, app, users):
    patient = add_patient("new@example.test", password=False)
    outbox.queue_invitation(patient)  # as the views do: queued with its link, in one commit
    db.session.commit()
    deliver_mail()
    path = link_path(read_outbox(app)[0])
    timeutil.freeze(NOW + timedelta(hours=72, seconds=1))
    assert client.get(path).status_code == 404


def test_there_is_no_open_sign_up(client):
    for path in ("/register", "/signup", "/account/new"):
        assert client.get(path).status_code == 404
    assert db.session.scalar(select(User)) is None


@pytest.mark.parametrize("password", ["q1w2e3r4t5y6", "1QAZ2WSX3EDC", " sojdlg123aljg "])
def test_common_passwords_are_refused_whatever_their_case(password):
    # More in tests/test_password_strength.py.
    assert passwords.password_problem(password).startswith("Too easy to guess")


def test_logout_clears_the_whole_session(client, users):
    login(client, users.provider_a)
    with client.session_transaction() as s:
        s["dashboard_search"] = {"user": users.provider_a.id, "text": "Archer"}
    client.post("/logout")
    with client.session_transaction() as s:
        assert "dashboard_search" not in s and "_user_id" not in s
