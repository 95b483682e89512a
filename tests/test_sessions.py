"""Signed-in sessions kept on the server: fixation, logout, timeouts, password change, cookie flags
(OWASP ASVS V7, HIPAA automatic logoff)."""
import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from monitor import create_app, timeutil
from monitor.extensions import db
from monitor.models import UserSession
from monitor.sessions import SIGNED_OUT_MESSAGE
from tests.factories import NOW, PASSWORD, counted_queries, deliver_mail, login, message_text, read_outbox

NEW_PASSWORD = "a brand new long passphrase"


def session_cookie(response) -> str:
    """The Set-Cookie header of the session cookie (the sign-in also sets a device cookie)."""
    return next(h for h in response.headers.getlist("Set-Cookie") if h.split("=", 1)[0].endswith("session"))


def sid(client) -> str | None:
    with client.session_transaction() as s:
        return s.get("sid")


def row_of(client) -> UserSession:
    db.session.expire_all()
    return db.session.get(UserSession, hashlib.sha256(sid(client).encode()).hexdigest())


def at(**delta) -> None:
    timeutil.freeze(NOW + timedelta(**delta))


def signed_in(client, path: str) -> bool:
    r = client.get(path)
    assert r.status_code in (200, 302)
    return r.status_code == 200


def signed_out_with_neutral_message(client, path: str) -> bool:
    r = client.get(path)
    if r.status_code != 302 or not r.headers["Location"].startswith("/login"):
        return False
    return SIGNED_OUT_MESSAGE in client.get(r.headers["Location"]).get_data(as_text=True)


def test_signing_in_starts_a_new_session_and_drops_whatever_was_planted_before(client, users):
    with client.session_transaction() as s:
        s["sid"] = "planted-by-someone-else"
        s["dashboard_search"] = {"text": "planted"}
    login(client, users.patient_a)
    token = sid(client)
    assert token and token != "planted-by-someone-else"
    with client.session_transaction() as s:
        assert "dashboard_search" not in s
    row = row_of(client)
    assert row.user_id == users.patient_a.id and row.ended_at is None and row.ip == "127.0.0.1"
    # The table keeps only a hash of what the cookie carries.
    assert row.id != token and db.session.get(UserSession, token) is None

    client.post("/logout")
    login(client, users.patient_a)
    assert sid(client) != token


def test_logout_ends_the_session_on_the_server_so_a_copied_cookie_stops_working(app, users):
    browser, copy = app.test_client(), app.test_client()
    login(browser, users.patient_a)
    cookie = browser.get_cookie("session")
    copy.set_cookie("session", cookie.value)
    assert signed_in(copy, "/checkin")

    browser.post("/logout")
    assert not signed_in(browser, "/checkin")
    assert not signed_in(copy, "/checkin")
    assert db.session.scalar(select(UserSession)).ended_at == NOW


def test_a_cookie_without_a_server_side_session_is_refused(client, users):
    login(client, users.patient_a)
    db.session.delete(row_of(client))
    db.session.commit()
    assert signed_out_with_neutral_message(client, "/checkin")


@pytest.mark.parametrize("who, path, idle", [
    ("provider_a", "/patients", 15),
    ("admin", "/patients", 15),
    ("patient_a", "/checkin", 30),
])
def test_inactivity_signs_out_staff_after_15_and_patients_after_30_minutes(client, users, who, path, idle):
    login(client, getattr(users, who))
    at(minutes=idle - 1)
    assert signed_in(client, path)
    at(minutes=2 * (idle - 1))  # activity resets the idle clock
    assert signed_in(client, path)
    at(minutes=2 * (idle - 1) + idle)
    assert signed_out_with_neutral_message(client, path)
    assert db.session.scalar(select(UserSession)).ended_at is not None


@pytest.mark.parametrize("who, path", [("provider_a", "/patients"), ("patient_a", "/checkin")])
def test_twelve_hours_is_the_limit_however_active(client, users, who, path):
    login(client, getattr(users, who))
    for minutes in range(10, 12 * 60, 10):
        at(minutes=minutes)
        assert signed_in(client, path), minutes
    at(hours=12)
    assert signed_out_with_neutral_message(client, path)


def test_after_a_timeout_the_sign_in_form_works_straight_away(client, users):
    login(client, users.provider_a)
    at(hours=1)
    r = client.post("/login", data={"email": users.provider_a.email, "password": PASSWORD})
    assert r.status_code == 302
    assert signed_in(client, "/patients")
    assert len(db.session.scalars(select(UserSession)).all()) == 2


def test_a_patient_who_asks_stays_signed_in_for_30_days(client, users):
    r = client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD, "remember": "y"})
    assert r.status_code == 302
    assert "Expires=" in session_cookie(r)  # survives closing the browser
    at(days=29, hours=23)  # a long silence is fine on one's own phone
    assert signed_in(client, "/checkin")
    at(days=30)
    assert signed_out_with_neutral_message(client, "/checkin")


def test_without_asking_a_patient_session_ends_with_the_browser_and_after_30_idle_minutes(client, users):
    r = login(client, users.patient_a)
    assert "Expires=" not in session_cookie(r)
    at(minutes=31)
    assert not signed_in(client, "/checkin")


@pytest.mark.parametrize("remember", ["y", ""])
def test_a_phone_that_moves_between_wifi_and_mobile_data_stays_signed_in(client, users, remember):
    """The session is not bound to the network address: a phone changes it all the time."""
    client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD, "remember": remember},
                environ_base={"REMOTE_ADDR": "192.0.2.10", "HTTP_USER_AGENT": "Phone"})
    for address in ("198.51.100.7", "2001:db8::1", "192.0.2.10"):
        r = client.get("/checkin", environ_base={"REMOTE_ADDR": address, "HTTP_USER_AGENT": "Phone"})
        assert r.status_code == 200, address


def test_staff_are_never_kept_signed_in_even_if_they_tick_the_box(client, users):
    r = client.post("/login", data={"email": users.provider_a.email, "password": PASSWORD, "remember": "y"})
    assert r.status_code == 302
    assert "Expires=" not in session_cookie(r)
    assert row_of(client).remember is False
    at(minutes=16)
    assert not signed_in(client, "/patients")


def test_last_seen_is_written_at_most_once_a_minute(client, users):
    login(client, users.patient_a)
    at(seconds=50)
    client.get("/checkin")
    assert row_of(client).last_seen_at == NOW
    at(seconds=70)
    client.get("/checkin")
    assert row_of(client).last_seen_at == NOW + timedelta(seconds=70)


@pytest.mark.parametrize("later, still_signed_in", [(timedelta(minutes=29, seconds=59), True),
                                                    (timedelta(minutes=30), False)])
def test_unwritten_activity_makes_the_idle_limit_at_most_a_minute_early(client, users, later, still_signed_in):
    """The touch is throttled (TOUCH_EVERY): activity within a minute of the last write is not
    written, so the 30 idle minutes count from that write, less than a minute before it."""
    login(client, users.patient_a)
    at(seconds=59)
    assert signed_in(client, "/checkin")
    assert row_of(client).last_seen_at == NOW  # not written
    timeutil.freeze(NOW + later)  # 29:00 or 29:01 after that activity
    if still_signed_in:
        assert signed_in(client, "/checkin")
    else:
        assert signed_out_with_neutral_message(client, "/checkin")


def test_a_signed_in_request_reads_the_user_and_their_session_in_one_query(client, users):
    """Issue 9: the sign-in bookkeeping of every request is one query (and no write while the
    last one is under a minute old). Reading Flask's session is one more (session_store.py)."""
    login(client, users.patient_a)
    client.get("/checkin")  # the first page after signing in stores a new CSRF token
    at(seconds=30)
    with counted_queries() as statements:
        assert client.get("/checkin").status_code == 200
    bookkeeping = [s for s in statements if "user_sessions" in s or "FROM users" in s]
    assert len(bookkeeping) == 1 and "JOIN user_sessions" in bookkeeping[0]  # and no write
    assert [s.split()[0] for s in statements if "web_sessions" in s] == ["SELECT"]


def test_a_password_change_ends_every_other_session_on_the_server(app, users):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, users.patient_a)
    login(laptop, users.patient_a)
    phone_row = row_of(phone)
    laptop.post("/account/reset", data={"email": users.patient_a.email})
    deliver_mail()
    path = "/" + message_text(read_outbox(app)[0]).split("http://localhost/", 1)[1].split()[0]
    laptop.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert signed_in(laptop, "/checkin")
    assert not signed_in(phone, "/checkin")
    db.session.refresh(phone_row)
    assert phone_row.ended_at == NOW
    assert row_of(laptop).ended_at is None


@pytest.fixture
def secure_app(db_url, tmp_path, app):
    """The production cookie settings (HTTPS)."""
    secure = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "WTF_CSRF_ENABLED": False,
                         "MAIL_FILE_DIR": str(tmp_path / "mail"), "TWO_FACTOR_REQUIRED_FOR_STAFF": False,
                         "SESSION_COOKIE_SECURE": True})
    yield secure
    with secure.app_context():
        db.engine.dispose()


def test_over_https_the_cookie_is_host_prefixed_secure_httponly_and_samesite_lax(secure_app, users):
    client = secure_app.test_client()
    r = client.post("https://localhost/login", data={"email": users.patient_a.email, "password": PASSWORD})
    assert r.status_code == 302
    cookie = session_cookie(r)
    assert cookie.startswith("__Host-session=")
    parts = [p.strip() for p in cookie.split(";")]
    assert "Secure" in parts and "HttpOnly" in parts and "SameSite=Lax" in parts and "Path=/" in parts
    assert not any(p.lower().startswith("domain=") for p in parts)


def test_without_https_the_cookie_is_still_httponly_and_samesite_lax(client, users):
    cookie = session_cookie(login(client, users.patient_a))
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "remember_token" not in cookie


def seconds_left_on_page(html: str) -> int | None:
    found = re.search(r'<dialog id="idle-dialog"[^>]*data-seconds-left="(\d+)"', html)
    return int(found[1]) if found else None


def test_a_page_left_open_warns_before_the_idle_limit_and_never_refreshes_itself(client, users):
    """Automatic logoff on the screen too, without a timed refresh (WCAG 2.2.1): signed-in pages
    carry the idle warning (static/js/idle.js) with the seconds the server has left."""
    page = client.get("/login").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and seconds_left_on_page(page) is None
    login(client, users.provider_a)
    page = client.get("/patients").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    assert seconds_left_on_page(page) == 15 * 60
    assert 'data-warn-seconds="120"' in page and "/static/js/idle." in page
    timeutil.freeze(NOW + timedelta(seconds=50))  # use not yet written back (at most once a minute)
    assert seconds_left_on_page(client.get("/patients").get_data(as_text=True)) == 15 * 60 - 50
    client.post("/logout")
    timeutil.freeze(NOW)
    client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD, "remember": "y"})
    assert seconds_left_on_page(client.get("/checkin").get_data(as_text=True)) == 30 * 24 * 3600


def test_stay_signed_in_counts_as_use_on_the_server(client, users):
    login(client, users.patient_a)
    timeutil.freeze(NOW + timedelta(minutes=29))
    response = client.post("/account/stay-signed-in")
    assert response.status_code == 200 and response.json == {"seconds_left": 30 * 60}
    assert row_of(client).last_seen_at == NOW + timedelta(minutes=29)
    timeutil.freeze(NOW + timedelta(minutes=45))  # past the first limit, inside the new one
    assert client.get("/me").status_code == 200


def test_stay_signed_in_cannot_pass_the_absolute_limit(client, users):
    login(client, users.patient_a)
    for minutes in range(25, 12 * 60, 25):  # in use all day
        timeutil.freeze(NOW + timedelta(minutes=minutes))
        assert client.get("/me").status_code == 200
    timeutil.freeze(NOW + timedelta(hours=12) - timedelta(seconds=30))
    assert client.post("/account/stay-signed-in").json == {"seconds_left": 30}


def test_stay_signed_in_needs_the_csrf_token_and_a_live_session(app, client, users):
    app.config["WTF_CSRF_ENABLED"] = True
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login_page)[1]
    client.post("/login", data={"email": users.patient_a.email, "password": PASSWORD, "csrf_token": token})
    timeutil.freeze(NOW + timedelta(minutes=20))
    assert client.post("/account/stay-signed-in").status_code == 400  # another site's form, say
    assert row_of(client).last_seen_at == NOW
    page = client.get("/me").get_data(as_text=True)
    token = re.search(r'class="idle-stay">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page)[1]
    assert client.post("/account/stay-signed-in", data={"csrf_token": token}).status_code == 200
    timeutil.freeze(NOW + timedelta(minutes=55))  # too late: the session has ended, sign-in answers
    response = client.post("/account/stay-signed-in", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_idle_sign_out_says_why(client, users):
    login(client, users.patient_a)
    response = client.post("/logout", data={"reason": "idle"}, follow_redirects=True)
    assert SIGNED_OUT_MESSAGE in response.get_data(as_text=True)
    login(client, users.patient_a)
    response = client.post("/logout", follow_redirects=True)
    assert "You are signed out." in response.get_data(as_text=True)
