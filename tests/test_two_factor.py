"""The second factor (OWASP ASVS V6): TOTP required for staff, optional for patients, with
one-time recovery codes."""
import hashlib
import re
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from monitor import timeutil, twofactor
from monitor.extensions import db
from monitor.models import RecoveryCode, UserSession
from tests.factories import (NOW, PASSWORD, code_at, deliver_mail, enable_two_factor, events, keyed_recovery_hash,
                             login, message_text, read_outbox)

GENERIC = "That code did not work."


def actions():
    return [e.action for e in events()]


def shown_secret(client) -> str:
    """The key the enrolment page shows (kept in the session until confirmed)."""
    page = client.get("/account/security/two-factor").get_data(as_text=True)
    return re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")


def password_step(client, user):
    r = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 302
    return r


@pytest.fixture
def staff_must_enrol(app):
    app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"] = True


def test_staff_are_sent_to_enrolment_and_can_reach_nothing_else_until_done(client, users, staff_must_enrol):
    r = login(client, users.provider_a)
    assert r.headers["Location"] == "/account/security/two-factor"
    for path in ("/", "/patients", "/patients/new", f"/patients/{users.patient_a.id}", "/account/security",
                 "/report"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"] == "/account/security/two-factor", path
    r = client.post("/patients/new", data={"email": "x@example.test"})
    assert r.headers["Location"] == "/account/security/two-factor"
    # Signing out still works.
    assert client.post("/logout").headers["Location"] == "/login"


def test_staff_enrolment_shows_a_qr_code_and_key_then_ten_recovery_codes_once(client, users, staff_must_enrol):
    login(client, users.provider_a)
    page = client.get("/account/security/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert '<img src="data:image/svg+xml' in page
    assert "<script" not in page
    # Showing the page stores nothing; reloading shows the secret already scanned.
    db.session.refresh(users.provider_a)
    assert users.provider_a.totp_secret is None
    assert twofactor.display_secret(secret) in client.get("/account/security/two-factor").get_data(as_text=True)

    r = client.post("/account/security/two-factor", data={"code": "000000" if code_at(secret) != "000000" else "111111", "current_password": PASSWORD})
    assert GENERIC in r.get_data(as_text=True)
    assert client.get("/patients").status_code == 302
    db.session.refresh(users.provider_a)
    assert users.provider_a.totp_secret is None  # a wrong code keeps nothing

    r = client.post("/account/security/two-factor", data={"code": code_at(secret), "current_password": PASSWORD})
    assert r.status_code == 200
    shown = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", r.get_data(as_text=True))
    assert len(shown) == 10 and len(set(shown)) == 10
    # Kept as keyed hashes: a copy of the database alone cannot be searched for the codes.
    stored = {c.code_hash for c in db.session.scalars(select(RecoveryCode))}
    assert stored == {keyed_recovery_hash(c, current_app.config["SECRET_KEY"]) for c in shown}
    assert stored.isdisjoint(hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in shown)
    db.session.refresh(users.provider_a)
    assert users.provider_a.totp_enabled_at == NOW
    assert client.get("/patients").status_code == 200
    assert db.session.scalar(select(UserSession)).second_factor_at == NOW
    assert actions()[:3] == ["login", "2fa.failed", "2fa.enrolled"]
    # Shown once: the page now points elsewhere, and the codes are not on any page.
    assert client.get("/account/security/two-factor").headers["Location"] == "/account/security"
    assert shown[0] not in client.get("/account/security").get_data(as_text=True)


def test_with_totp_the_password_alone_signs_nobody_in(client, users):
    enable_two_factor(users.patient_a)
    r = password_step(client, users.patient_a)
    assert r.headers["Location"] == "/login/verify"
    assert client.get("/checkin").status_code == 302
    assert client.get("/login/verify").status_code == 200
    r = client.post("/login/verify", data={"code": code_at(users.patient_a)})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert client.get("/checkin").status_code == 200
    assert actions() == ["2fa.verified", "login"]
    row = db.session.scalar(select(UserSession))
    assert row.second_factor_at == NOW


def test_staff_with_totp_are_asked_for_it_and_keep_next(client, users):
    enable_two_factor(users.provider_a)
    r = client.post("/login", query_string={"next": "/report"},
                    data={"email": users.provider_a.email, "password": PASSWORD})
    assert r.headers["Location"] == "/login/verify"
    assert client.get("/patients").status_code == 302
    r = client.post("/login/verify", data={"code": code_at(users.provider_a)})
    assert r.headers["Location"] == "/report"


def test_a_wrong_code_is_refused_with_a_generic_message_and_audited(client, users):
    enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    wrong = f"{(int(code_at(users.patient_a)) + 1) % 1000000:06d}"
    r = client.post("/login/verify", data={"code": wrong})
    assert r.status_code == 200 and GENERIC in r.get_data(as_text=True)
    assert client.get("/checkin").status_code == 302
    assert actions() == ["2fa.failed"]


def test_a_code_cannot_be_used_twice(client, users):
    enable_two_factor(users.patient_a)
    code = code_at(users.patient_a)
    password_step(client, users.patient_a)
    assert client.post("/login/verify", data={"code": code}).status_code == 302
    client.post("/logout")
    timeutil.freeze(NOW + timedelta(seconds=10))  # the same 30-second step
    password_step(client, users.patient_a)
    r = client.post("/login/verify", data={"code": code})
    assert r.status_code == 200 and GENERIC in r.get_data(as_text=True)
    # Nor an earlier one still inside the drift window.
    earlier = code_at(users.patient_a, NOW - timedelta(seconds=30))
    assert client.post("/login/verify", data={"code": earlier}).status_code == 200
    timeutil.freeze(NOW + timedelta(seconds=40))
    assert client.post("/login/verify", data={"code": code_at(users.patient_a)}).status_code == 302


def test_one_step_of_clock_drift_is_allowed_and_no_more(client, users):
    enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    too_old = code_at(users.patient_a, NOW - timedelta(seconds=60))
    assert client.post("/login/verify", data={"code": too_old}).status_code == 200
    slightly_old = code_at(users.patient_a, NOW - timedelta(seconds=30))
    assert client.post("/login/verify", data={"code": slightly_old}).status_code == 302


def test_a_recovery_code_works_once(client, users):
    codes = enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    r = client.post("/login/verify", data={"code": codes[3].upper()})
    assert r.status_code == 302
    assert client.get("/checkin").status_code == 200
    used = db.session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1 and used[0].used_at == NOW
    assert actions() == ["2fa.recovery_used", "login"]
    client.post("/logout")
    password_step(client, users.patient_a)
    r = client.post("/login/verify", data={"code": codes[3]})
    assert r.status_code == 200 and GENERIC in r.get_data(as_text=True)
    assert client.post("/login/verify", data={"code": codes[4]}).status_code == 302


def test_the_password_step_is_forgotten_after_five_minutes(client, users):
    enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    timeutil.freeze(NOW + timedelta(minutes=5, seconds=30))
    r = client.post("/login/verify", data={"code": code_at(users.patient_a)})
    assert r.headers["Location"] == "/login"
    assert client.get("/checkin").status_code == 302


def test_repeated_wrong_codes_lock_the_second_step(client, users):
    enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    for _ in range(twofactor.MAX_FAILURES):
        client.post("/login/verify", data={"code": "12345x"})
    r = client.post("/login/verify", data={"code": code_at(users.patient_a)})
    assert r.status_code == 200
    assert client.get("/checkin").status_code == 302


def test_a_password_reset_link_does_not_skip_the_second_factor(client, app, users):
    enable_two_factor(users.patient_a)
    client.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = "/" + message_text(read_outbox(app)[0]).split("http://localhost/", 1)[1].split()[0]
    new = "a brand new long passphrase"
    r = client.post(path, data={"password": new, "confirm": new})
    assert r.headers["Location"] == "/login/verify"
    assert client.get("/checkin").status_code == 302
    assert client.post("/login/verify", data={"code": code_at(users.patient_a)}).status_code == 302
    assert client.get("/checkin").status_code == 200


def test_a_patient_can_opt_in_and_then_needs_a_code_to_sign_in(client, users):
    login(client, users.patient_a)
    page = client.get("/account/security").get_data(as_text=True)
    assert "Two-step sign-in is <strong>off</strong>" in page
    secret = shown_secret(client)
    r = client.post("/account/security/two-factor", data={"code": code_at(secret), "current_password": PASSWORD})
    assert r.status_code == 200 and "recovery codes" in r.get_data(as_text=True)
    client.post("/logout")
    timeutil.freeze(NOW + timedelta(seconds=30))
    assert password_step(client, users.patient_a).headers["Location"] == "/login/verify"
    assert client.post("/login/verify", data={"code": code_at(users.patient_a)}).status_code == 302
    assert actions() == ["login", "2fa.enrolled", "logout", "2fa.verified", "login"]


def test_patients_need_not_enrol(client, users, staff_must_enrol):
    login(client, users.patient_a)
    assert client.get("/checkin").status_code == 200


def test_turning_it_on_ends_sessions_elsewhere_that_had_no_second_factor(app, users):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, users.patient_a)
    login(laptop, users.patient_a)
    secret = shown_secret(laptop)
    opened = db.session.scalars(select(UserSession)).all()
    laptop.post("/account/security/two-factor", data={"code": code_at(secret), "current_password": PASSWORD})
    # Ended on the server at once, not only refused at the phone's next request.
    ended = db.session.scalars(select(UserSession).where(UserSession.ended_at.is_not(None))).all()
    assert len(opened) == 2 and len(ended) == 1
    assert laptop.get("/checkin").status_code == 200
    assert phone.get("/checkin").status_code == 302


def test_a_session_without_the_second_factor_ends_once_the_account_has_one(client, users):
    login(client, users.patient_a)
    enable_two_factor(users.patient_a)  # turned on from another device
    assert client.get("/checkin").status_code == 302


def test_a_patient_can_turn_it_off_with_a_code(client, users):
    enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    client.post("/login/verify", data={"code": code_at(users.patient_a)})
    timeutil.freeze(NOW + timedelta(seconds=30))
    r = client.post("/account/security/two-factor/disable", data={"code": "000000", "current_password": PASSWORD})
    assert r.status_code == 400
    db.session.refresh(users.patient_a)
    assert users.patient_a.totp_enabled_at is not None
    client.post("/account/security/two-factor/disable", data={"code": code_at(users.patient_a), "current_password": PASSWORD})
    db.session.refresh(users.patient_a)
    assert users.patient_a.totp_enabled_at is None and users.patient_a.totp_secret is None
    assert db.session.scalar(select(RecoveryCode)) is None
    assert actions()[-1] == "2fa.disabled"
    client.post("/logout")
    assert password_step(client, users.patient_a).headers["Location"] == "/"


def test_staff_cannot_turn_it_off(client, users):
    enable_two_factor(users.provider_a)
    password_step(client, users.provider_a)
    client.post("/login/verify", data={"code": code_at(users.provider_a)})
    timeutil.freeze(NOW + timedelta(seconds=30))
    r = client.post("/account/security/two-factor/disable", data={"code": code_at(users.provider_a), "current_password": PASSWORD})
    assert r.status_code == 404
    db.session.refresh(users.provider_a)
    assert users.provider_a.totp_enabled_at is not None
    assert "Turn off" not in client.get("/account/security").get_data(as_text=True)


def test_new_recovery_codes_replace_the_old_ones(client, users):
    old = enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    client.post("/login/verify", data={"code": code_at(users.patient_a)})
    assert client.post("/account/security/recovery-codes", data={"code": "000000", "current_password": PASSWORD}).status_code == 400
    timeutil.freeze(NOW + timedelta(seconds=30))
    r = client.post("/account/security/recovery-codes", data={"code": code_at(users.patient_a), "current_password": PASSWORD})
    new = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", r.get_data(as_text=True))
    assert len(new) == 10
    client.post("/logout")
    password_step(client, users.patient_a)
    assert client.post("/login/verify", data={"code": old[0]}).status_code == 200
    assert client.post("/login/verify", data={"code": new[0]}).status_code == 302


def test_reset_two_factor_command_for_a_lost_phone(app, runner, users):
    enable_two_factor(users.provider_a)
    result = runner.invoke(args=["reset-two-factor", users.provider_a.email])
    assert result.exit_code == 0, result.output
    db.session.refresh(users.provider_a)
    assert users.provider_a.totp_enabled_at is None and users.provider_a.totp_secret is None
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    assert "2fa.reset" in actions()
    missing = runner.invoke(args=["reset-two-factor", "nobody@example.test"])
    assert missing.exit_code == 1 and "no account has the email" in missing.output


# --- The retest's M2: an intruder holding only a session (a phone left unlocked, a stolen cookie).

def test_an_intruder_with_a_session_cannot_turn_the_second_factor_on(app, client, users):
    owner_elsewhere = app.test_client()
    login(owner_elsewhere, users.patient_a)
    login(client, users.patient_a)  # the intruder's copy of a signed-in session
    secret = shown_secret(client)
    for password in (None, "a wrong guess at it"):
        data = {"code": code_at(secret)} if password is None else {"code": code_at(secret), "current_password": password}
        r = client.post("/account/security/two-factor", data=data)
        assert r.status_code == 400
        db.session.refresh(users.patient_a)
        assert users.patient_a.totp_enabled_at is None and users.patient_a.totp_secret is None
    assert "That is not your current password." in r.get_data(as_text=True)
    assert "reauth.failed" in actions()
    # The owner's own session was not ended, and the owner's password still signs in alone.
    assert owner_elsewhere.get("/checkin").status_code == 200
    assert password_step(app.test_client(), users.patient_a).headers["Location"] == "/"


def test_an_intruder_with_a_session_cannot_replace_recovery_codes_or_turn_the_factor_off(client, users):
    old = enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    client.post("/login/verify", data={"code": code_at(users.patient_a)})
    timeutil.freeze(NOW + timedelta(seconds=30))
    # Even holding a current code (a glance at the owner's phone), a session without the password is not enough.
    for path in ("/account/security/recovery-codes", "/account/security/two-factor/disable"):
        r = client.post(path, data={"code": code_at(users.patient_a), "current_password": "a wrong guess at it"})
        assert r.status_code == 400, path
    db.session.refresh(users.patient_a)
    assert users.patient_a.totp_enabled_at is not None
    client.post("/logout")
    password_step(client, users.patient_a)
    assert client.post("/login/verify", data={"code": old[0]}).status_code == 302  # the old codes still work


def test_the_enrolment_page_warns_before_other_sessions_end(app, client, users):
    login(app.test_client(), users.patient_a)
    login(client, users.patient_a)
    page = " ".join(client.get("/account/security/two-factor").get_data(as_text=True).split())
    assert "signs you out on your 1 other browser or device; you stay signed in here" in page


# --- A patient who lost both the phone and the recovery codes.

def lost_factor_link(app, client, user) -> str:
    password_step(client, user)
    r = client.post("/login/verify/lost")
    assert r.status_code == 302 and r.headers["Location"] == "/login/verify"
    deliver_mail()
    [msg] = read_outbox(app)
    assert msg["To"] == user.email and msg["Subject"] == "Turn off two-step sign-in"
    return re.search(r"http://localhost(/account/two-factor-off/\S+)", message_text(msg)).group(1)


def test_a_patient_who_lost_the_phone_turns_the_factor_off_from_an_emailed_link(app, client, users):
    enable_two_factor(users.patient_a)
    elsewhere = app.test_client()
    password_step(elsewhere, users.patient_a)
    elsewhere.post("/login/verify", data={"code": code_at(users.patient_a)})
    path = lost_factor_link(app, client, users.patient_a)
    assert "Turn it off" in client.get(path).get_data(as_text=True)
    r = client.post(path)
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    db.session.refresh(users.patient_a)
    assert users.patient_a.totp_enabled_at is None
    assert "2fa.reset_by_email" in actions()
    assert elsewhere.get("/checkin").status_code == 302  # every session ended
    assert client.post(path).status_code == 404  # single use
    assert password_step(app.test_client(), users.patient_a).headers["Location"] == "/"


def test_an_intruder_holding_only_a_session_cannot_ask_for_the_link(app, client, users):
    enable_two_factor(users.patient_a)
    password_step(client, users.patient_a)
    client.post("/login/verify", data={"code": code_at(users.patient_a)})
    assert client.post("/login/verify/lost").headers["Location"] == "/"  # signed in: nothing to recover
    stranger = app.test_client()
    assert stranger.post("/login/verify/lost").headers["Location"] == "/login"  # no password step
    deliver_mail()
    assert read_outbox(app) == []
    db.session.refresh(users.patient_a)
    assert users.patient_a.totp_enabled_at is not None


def test_staff_are_sent_to_an_administrator_and_other_links_do_not_work_here(app, client, users):
    enable_two_factor(users.provider_a)
    password_step(client, users.provider_a)
    client.post("/login/verify/lost")
    deliver_mail()
    assert read_outbox(app) == []
    assert "administrator" in client.get("/login/verify").get_data(as_text=True)
    # A password-reset link is not a two-factor-off link.
    client.post("/logout")
    client.post("/account/reset", data={"email": users.provider_a.email})
    deliver_mail()
    token = re.search(r"/account/reset/(\S+)", message_text(read_outbox(app)[0])).group(1)
    assert client.get(f"/account/two-factor-off/{token}").status_code == 404
