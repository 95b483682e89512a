"""The signed-in security page: changing the password (ASVS V6.2.2/V6.2.3: the current one is
asked for) and the account's sessions (V7.5.2: see them, end the others after giving the
password again)."""
from sqlalchemy import select

from monitor import twofactor
from monitor.extensions import db
from monitor.models import UserSession
from monitor.passwords import verify_password
from tests.factories import NOW, PASSWORD, events, login
from tests.test_sessions import NEW_PASSWORD, row_of, sid, signed_in


def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return client.post("/account/password", data={
        "current_password": current, "password": new, "confirm": new if confirm is None else confirm})


# --- Changing the password ---------------------------------------------------------------

def test_the_change_password_page_asks_for_the_current_and_a_new_password(client, users):
    login(client, users.patient_a)
    html = client.get("/account/password").get_data(as_text=True)
    assert 'autocomplete="current-password"' in html and html.count('autocomplete="new-password"') == 2
    assert '<label for="current_password">Current password</label>' in html
    assert 'href="/account/password"' in client.get("/account/security").get_data(as_text=True)


def test_changing_the_password_keeps_this_browser_and_ends_every_other_session(app, users):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, users.patient_a)
    login(laptop, users.patient_a)
    old_sid, phone_row = sid(laptop), row_of(phone)

    r = change(laptop)
    assert r.status_code == 302 and r.headers["Location"] == "/account/security"
    assert "Your password is changed" in laptop.get("/account/security").get_data(as_text=True)
    db.session.expire_all()
    assert verify_password(users.patient_a.password_hash, NEW_PASSWORD)
    assert signed_in(laptop, "/checkin")
    assert sid(laptop) != old_sid  # a new session id after a change of credentials
    assert not signed_in(phone, "/checkin")
    db.session.refresh(phone_row)
    assert phone_row.ended_at == NOW
    [event] = events("account.password_changed")
    assert event.actor_id == users.patient_a.id and event.target_id == users.patient_a.id


def test_a_wrong_current_password_changes_nothing_and_is_audited(app, users):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, users.patient_a)
    login(laptop, users.patient_a)
    before = users.patient_a.password_hash
    r = change(laptop, current="not my password at all")
    assert r.status_code == 400
    assert "That is not your current password." in r.get_data(as_text=True)
    db.session.expire_all()
    assert users.patient_a.password_hash == before
    assert signed_in(phone, "/checkin") and signed_in(laptop, "/checkin")
    assert len(events("reauth.failed")) == 1 and events("account.password_changed") == []


def test_the_new_password_follows_the_same_rules_as_everywhere(client, users):
    login(client, users.patient_a)
    before = users.patient_a.password_hash
    for new, confirm, message in [
        ("short", None, "at least 12 characters"),
        ("password1234", None, "Too easy to guess"),
        (NEW_PASSWORD, "something else entirely", "The two new passwords do not match."),
        ("", None, "Choose a password."),
    ]:
        r = change(client, new=new, confirm=confirm)
        assert r.status_code == 400, new
        assert message in r.get_data(as_text=True), new
    db.session.expire_all()
    assert users.patient_a.password_hash == before
    # A rule broken by the new password does not check (or audit) the current one.
    assert events("reauth.failed") == []


def test_staff_with_a_second_factor_keep_it_on_the_new_session(client, users):
    """The second factor proved at sign-in is carried over: no fresh sign-in is forced, and the
    new session is not mistaken for one opened without the factor."""
    login(client, users.provider_a)
    row = row_of(client)
    row.second_factor_at = NOW
    twofactor.store_secret(users.provider_a, "JBSWY3DPEHPK3PXP")
    users.provider_a.totp_enabled_at = NOW
    db.session.commit()
    assert signed_in(client, "/patients")
    assert change(client).status_code == 302
    assert signed_in(client, "/patients")
    assert row_of(client).second_factor_at == NOW


def test_signed_out_the_change_password_page_asks_to_sign_in(client, users):
    r = client.post("/account/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


# --- Sessions ------------------------------------------------------------------------------

def test_the_security_page_lists_live_sessions_and_marks_this_one(app, users):
    phone, laptop, old = app.test_client(), app.test_client(), app.test_client()
    login(old, users.patient_a)
    old.post("/logout")  # ended: not listed
    login(phone, users.patient_a)
    login(laptop, users.patient_a)
    html = laptop.get("/account/security").get_data(as_text=True)
    assert html.count("<li>") == 2
    assert html.count("This device") == 1 and html.count("Another browser or device") == 1
    assert "Network address 127.0.0.1" in html
    assert "Sign out everywhere else" in html


def test_with_one_session_there_is_nothing_else_to_sign_out_of(client, users):
    login(client, users.patient_a)
    html = client.get("/account/security").get_data(as_text=True)
    assert "This device" in html and "Sign out everywhere else" not in html


def test_sign_out_everywhere_else_needs_the_password_and_keeps_this_browser(app, users):
    phone, laptop, tablet = app.test_client(), app.test_client(), app.test_client()
    for c in (phone, laptop, tablet):
        login(c, users.patient_a)

    r = laptop.post("/account/security/sessions/end-others", data={"current_password": "wrong guess here"})
    assert r.status_code == 400 and "That is not your current password." in r.get_data(as_text=True)
    assert signed_in(phone, "/checkin") and signed_in(tablet, "/checkin")
    assert len(events("reauth.failed")) == 1

    r = laptop.post("/account/security/sessions/end-others", data={"current_password": PASSWORD})
    assert r.status_code == 302
    assert "You are signed out everywhere else." in laptop.get("/account/security").get_data(as_text=True)
    assert signed_in(laptop, "/checkin")
    assert not signed_in(phone, "/checkin") and not signed_in(tablet, "/checkin")
    [event] = events("session.ended_others")
    assert event.detail == "2 ended" and event.actor_id == users.patient_a.id
    # The password itself is unchanged: only the sessions ended.
    db.session.expire_all()
    assert verify_password(users.patient_a.password_hash, PASSWORD)


def test_ending_sessions_touches_only_this_account(app, users):
    mine, theirs = app.test_client(), app.test_client()
    login(mine, users.patient_a)
    login(theirs, users.patient_b)
    assert mine.post("/account/security/sessions/end-others", data={"current_password": PASSWORD}).status_code == 302
    assert signed_in(theirs, "/checkin")
    assert db.session.scalars(select(UserSession).where(UserSession.user_id == users.patient_b.id,
                                                        UserSession.ended_at.is_not(None))).all() == []
