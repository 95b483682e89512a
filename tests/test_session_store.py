"""Flask's session kept on the server (monitor/session_store.py, issue 10): the cookie holds a
random token and nothing else; what the session holds (a name searched for, an authenticator
secret being enrolled, the half-done sign-in) is in web_sessions under a hash of that token."""
import base64
import hashlib
import json
import re
import threading
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from flask import request
from flask.testing import FlaskClient
from sqlalchemy import func, select

from monitor import session_store, timeutil, twofactor
from monitor.extensions import db
from monitor.models import WebSession
from tests.factories import NOW, PASSWORD, code_at, counted_queries, enable_two_factor, login

SEARCHED = "Archer"


def cookie_of(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def row(token: str) -> WebSession | None:
    db.session.expire_all()
    return db.session.get(WebSession, hashlib.sha256(token.encode()).hexdigest())


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(WebSession))


def assert_opaque(value: str, *secrets: str) -> None:
    """A random token: 32 bytes in base64url and nothing else (a signed Flask cookie is base64
    JSON, a dot, a timestamp, a dot and a signature), and none of `secrets` in it."""
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value
    raw = base64.urlsafe_b64decode(value + "=")
    assert len(raw) == 32
    # Not data: no JSON (a random token starts with "{" once in 256, so that alone said nothing).
    with pytest.raises(ValueError):
        json.loads(raw)
    for secret in secrets:
        assert secret not in value and secret.encode() not in raw


def set_cookies(responses) -> list[str]:
    """The session cookies set (a sign-in also sets the device cookie, ratelimit.remember_device:
    a keyed hash, tested in test_ratelimit)."""
    return [header for r in responses for header in r.headers.getlist("Set-Cookie")
            if header.split("=", 1)[0].endswith("session")]


def at(**delta) -> None:
    timeutil.freeze(NOW + timedelta(**delta))


# --- Nothing in the cookie.

def test_after_a_name_search_the_cookie_is_an_opaque_token_and_the_search_is_kept(client, users):
    responses = [login(client, users.provider_a),
                 client.post("/patients/search", data={"q": SEARCHED})]
    responses.append(client.get("/patients"))
    page = responses[-1].get_data(as_text=True)
    assert "whose name contains" in page and SEARCHED in page  # the search works across requests
    for header in set_cookies(responses):
        assert SEARCHED not in header
        assert_opaque(header.split(";")[0].split("=", 1)[1], SEARCHED, "dashboard_search", "_user_id")
    token = cookie_of(client)
    assert_opaque(token, SEARCHED)
    # On the server, under a hash of the token: the table holds no usable cookie.
    stored = row(token)
    assert SEARCHED in stored.data and stored.id != token
    assert db.session.get(WebSession, token) is None
    assert SEARCHED in client.get("/patients").get_data(as_text=True)  # still there


def test_during_enrolment_the_cookie_holds_no_authenticator_secret(client, users, app):
    app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"] = True
    responses = [login(client, users.provider_a)]
    responses.append(client.get("/account/security/two-factor"))
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>',
                       responses[-1].get_data(as_text=True)).group(1).replace(" ", "")
    responses.append(client.get("/account/security/two-factor"))
    assert secret in responses[-1].get_data(as_text=True).replace(" ", "")  # the same one, kept
    assert set_cookies(responses)
    for header in set_cookies(responses):
        assert secret not in header
        assert_opaque(header.split(";")[0].split("=", 1)[1], secret)
    assert secret in row(cookie_of(client)).data
    # The secret kept on the server is the one confirmed.
    r = client.post("/account/security/two-factor", data={"code": pyotp.TOTP(secret).at(NOW), "current_password": PASSWORD})
    assert r.status_code == 200
    db.session.refresh(users.provider_a)
    assert twofactor.stored_secret(users.provider_a) == secret and users.provider_a.totp_enabled_at is not None
    assert secret not in row(cookie_of(client)).data  # dropped once confirmed


def test_half_way_through_signing_in_the_cookie_does_not_say_who(client, users):
    enable_two_factor(users.patient_a)
    r = client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD})
    assert r.headers["Location"] == "/login/verify"
    assert_opaque(cookie_of(client), "2fa_user_id")
    assert '"2fa_user_id"' in row(cookie_of(client)).data
    assert client.get("/login/verify").status_code == 200  # the pending step is found


def test_an_empty_session_gets_no_row_and_no_cookie(client, users):
    r = client.get("/login")  # CSRF is off in tests: the sign-in page stores nothing
    assert r.status_code == 200 and not r.headers.getlist("Set-Cookie")
    assert rows() == 0 and cookie_of(client) is None


def test_a_visitor_with_a_csrf_token_gets_a_row_that_lasts_as_long_as_a_browser_session(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    client.get("/login")
    assert rows() == 1
    stored = row(cookie_of(client))
    assert stored.expires_at == NOW + timedelta(hours=12)
    assert "Expires=" not in client.get("/login").headers.get("Set-Cookie", "")


# --- Session fixation: the token changes at sign-in and sign-out.

def test_a_token_planted_before_sign_in_is_worthless_after_it(app, users):
    app.config["WTF_CSRF_ENABLED"] = True
    attacker, victim = app.test_client(), app.test_client()
    attacker.get("/login")  # the attacker's own anonymous session...
    planted = cookie_of(attacker)
    assert planted and row(planted) is not None
    victim.set_cookie("session", planted)  # ...planted in the victim's browser
    page = victim.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = victim.post("/login", data={"email": users.patient_a.email, "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302
    assert cookie_of(victim) != planted
    assert row(planted) is None
    assert victim.get("/checkin").status_code == 200
    assert attacker.get("/checkin").status_code == 302  # the planted token signs nobody in


def test_the_password_step_of_a_second_factor_sign_in_changes_the_token_too(client, users):
    enable_two_factor(users.patient_a)
    with client.session_transaction() as s:
        s["planted"] = True
    planted = cookie_of(client)
    client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD})
    assert cookie_of(client) != planted and row(planted) is None
    pending = cookie_of(client)
    r = client.post("/login/verify", data={"code": code_at(users.patient_a, NOW)})
    assert r.status_code == 302
    assert cookie_of(client) not in (planted, pending) and row(pending) is None


def test_sign_out_deletes_the_row_and_then_the_cookie(client, users):
    login(client, users.provider_a)
    client.post("/patients/search", data={"q": SEARCHED})
    signed_in = cookie_of(client)
    r = client.post("/logout")
    # The sign-out message needs a session: a new token, holding nothing but that message.
    assert row(signed_in) is None and cookie_of(client) != signed_in
    assert SEARCHED not in row(cookie_of(client)).data and "_user_id" not in row(cookie_of(client)).data
    r = client.get(r.headers["Location"])  # the message shown: nothing left
    assert "You are signed out." in r.get_data(as_text=True)
    assert "session=;" in r.headers["Set-Cookie"] and "Expires=Thu, 01 Jan 1970" in r.headers["Set-Cookie"]
    assert cookie_of(client) is None and rows() == 0


# --- Expiry.

def test_an_expired_row_is_refused_and_its_token_never_used_again(client, users):
    login(client, users.patient_a)
    token = cookie_of(client)
    stored = row(token)
    stored.expires_at = NOW - timedelta(seconds=1)
    db.session.commit()
    r = client.get("/checkin")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert cookie_of(client) != token  # the "please sign in" message went under a new token
    assert row(token) is not None  # left for the sweep, never read again
    assert client.get("/checkin").status_code == 302


def test_a_browser_session_is_kept_twelve_hours_from_its_last_change_and_reading_it_writes_nothing(client, users):
    login(client, users.patient_a)
    client.get("/checkin")  # the first page after signing in stores a new CSRF token
    token = cookie_of(client)
    assert row(token).expires_at == NOW + timedelta(hours=12)
    at(minutes=5)
    with counted_queries() as statements:
        r = client.get("/checkin")
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    # Read once, never written: nothing in it changed and it ends with the browser anyway.
    assert [s.split()[0] for s in statements if "web_sessions" in s] == ["SELECT"]
    assert row(token).expires_at == NOW + timedelta(hours=12)


def test_a_kept_session_lives_as_long_as_its_cookie_and_is_extended_at_most_once_a_minute(app, client, users):
    lifetime = app.permanent_session_lifetime
    r = client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD, "remember": "y"})
    assert "Expires=" in r.headers["Set-Cookie"]
    client.get("/checkin")  # the first page after signing in stores a new CSRF token
    token = cookie_of(client)
    assert row(token).expires_at == NOW + lifetime
    at(seconds=30)
    with counted_queries() as statements:
        r = client.get("/checkin")
    assert "Set-Cookie" not in r.headers
    assert [s.split()[0] for s in statements if "web_sessions" in s] == ["SELECT"]
    at(days=20)
    with counted_queries() as statements:
        r = client.get("/checkin")
    assert r.status_code == 200 and "Expires=" in r.headers["Set-Cookie"] and cookie_of(client) == token
    assert [s.split()[0] for s in statements if "web_sessions" in s] == ["SELECT", "UPDATE"]
    assert row(token).expires_at == NOW + timedelta(days=20) + lifetime


def test_expired_rows_are_swept_now_and_then(app, client, monkeypatch):
    app.config["WTF_CSRF_ENABLED"] = True
    for _ in range(3):  # a bot without cookies: a row each time
        app.test_client().get("/login")
    assert rows() == 3
    at(hours=12, seconds=1)
    monkeypatch.setattr(session_store, "PRUNE_ONE_IN", 1)
    client.get("/login")
    assert rows() == 1 and row(cookie_of(client)) is not None


# --- What the data can be.

def test_bytes_and_datetimes_survive_the_round_trip(app):
    when = datetime(2026, 11, 30, 9, 15, tzinfo=timezone.utc)
    with app.test_request_context():
        saved = app.session_interface.open_session(app, request)
        saved.update({"raw": b"\x00\xff", "when": when, "pair": (1, 2)})
        response = app.response_class()
        app.session_interface.save_session(app, saved, response)
    token = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    with app.test_request_context(headers={"Cookie": f"session={token}"}):
        again = app.session_interface.open_session(app, request)
        assert dict(again) == {"raw": b"\x00\xff", "when": when, "pair": (1, 2)}


def test_saving_the_session_stores_nothing_the_view_left_uncommitted(app, users):
    with app.test_request_context():
        saved = app.session_interface.open_session(app, request)
        saved["kept"] = True
        users.patient_a.first_name = "Changed"  # a refused form that did not commit
        db.session.flush()
        app.session_interface.save_session(app, saved, app.response_class())
    db.session.expire_all()
    assert users.patient_a.first_name == "Alice" and rows() == 1


@pytest.mark.parametrize("cookie", [
    "eyJfZnJlc2giOmZhbHNlfQ.Z1x2YQ.c2lnbmF0dXJl",  # a signed cookie from before this change
    "x" * 43, "../../etc", "A" * 4000,
])
def test_a_cookie_that_is_no_live_token_is_an_empty_session(client, users, cookie):
    client.set_cookie("session", cookie)
    assert client.get("/checkin").status_code == 302
    login(client, users.patient_a)
    assert cookie_of(client) != cookie and client.get("/checkin").status_code == 200


# --- Two requests of one browser at once.

def test_a_row_deleted_while_a_request_runs_stays_deleted_without_an_error(app, client, users):
    login(client, users.provider_a)
    token = cookie_of(client)
    with app.test_request_context(headers={"Cookie": f"session={token}"}):
        late = app.session_interface.open_session(app, request)
        late["dashboard_search"] = {"user": users.provider_a.id, "text": SEARCHED}
        db.session.delete(row(token))  # signed out in another tab meanwhile
        db.session.commit()
        response = app.response_class()
        app.session_interface.save_session(app, late, response)
    assert row(token) is None and rows() == 0
    assert "Set-Cookie" not in response.headers


def test_concurrent_requests_of_one_browser_never_fail(app, client, users):
    login(client, users.provider_a)
    token = cookie_of(client)
    statuses, errors = [], []

    def browse(n: int) -> None:
        tab = FlaskClient(app, app.response_class, use_cookies=True)
        tab.set_cookie("session", token)
        try:
            for i in range(6):
                if i % 2:
                    statuses.append(tab.post("/patients/search", data={"q": f"{SEARCHED}{n}{i}"}).status_code)
                else:
                    statuses.append(tab.get("/patients").status_code)
            if n == 0:
                statuses.append(tab.post("/logout").status_code)
        except Exception as error:  # noqa: BLE001 - reported below, with the others
            errors.append(error)

    tabs = [threading.Thread(target=browse, args=(n,)) for n in range(4)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(timeout=120)
    assert not any(tab.is_alive() for tab in tabs)
    assert errors == [] and len(statuses) == 4 * 6 + 1
    assert all(status < 500 for status in statuses), statuses
