"""Response headers (monitor.security), the friendly answer to an expired CSRF token, and
redirects after sign-in that never leave the site."""
import re
from html import unescape

import flask_wtf.csrf
import itsdangerous
import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from monitor import create_app
from monitor.auth.views import safe_next
from monitor.extensions import db
from monitor.models import CheckIn, User
from monitor.security import RESUBMIT_MESSAGE
from tests.factories import PASSWORD, answers_for, login, own_scripts


# --- Headers ---------------------------------------------------------------------------------

def test_every_page_carries_the_protective_headers(client):
    r = client.get("/login")
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "camera=()" in r.headers["Permissions-Policy"]
    assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_over_https(client):
    r = client.get("/login", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_hsts_when_the_app_is_configured_for_https(app, client):
    app.config["PREFERRED_URL_SCHEME"] = "https"
    assert "Strict-Transport-Security" in client.get("/login").headers


def test_a_trusted_proxy_makes_forwarded_https_secure(db_url, frozen_clock):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TRUSTED_PROXY_COUNT": 1})
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    assert "Strict-Transport-Security" in client.get("/login", headers=headers).headers
    with app.app_context():
        db.engine.dispose()


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(client):
    r = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in r.headers


@pytest.mark.parametrize("path", ["/login", "/account/reset", "/account/reset/made-up-token",
                                  "/account/invitation/made-up-token", "/no-such-page"])
def test_pages_that_may_hold_personal_data_are_never_cached_even_signed_out(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_signed_in_pages_are_never_cached(client, users):
    login(client, users.patient_a)
    assert client.get("/checkin").headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    r = client.get("/static/css/app.css")
    assert r.status_code == 200
    assert r.headers.get("Cache-Control") != "no-store"
    r.close()


# --- Redirects after sign-in -------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "http:/evil.example", "javascript:alert(1)", "evil.example",
    " //evil.example", "", None,
])
def test_safe_next_refuses_anything_that_could_leave_the_site(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/me", "/patients/3?checkins=all", "/me/trend?days=90"])
def test_safe_next_keeps_paths_on_the_site(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", ["/\t/evil.example", "///evil.example", "https:evil.example"])
def test_sign_in_never_redirects_off_site(client, users, target):
    r = client.post("/login", query_string={"next": target},
                    data={"email": users.patient_a.email, "password": PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == "/"


# --- CSRF: an expired token keeps the person's answers ----------------------------------------

# What a browser sends with a form from one of this site's pages (BASE_URL is http://localhost).
OURS = {"Origin": "http://localhost"}


@pytest.fixture
def csrf_app(app):
    """The test app with CSRF protection on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def hidden_inputs(html: str) -> list[tuple[str, str]]:
    return [(unescape(n), unescape(v)) for n, v in
            re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', html)]


def csrf_token_of(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)[1]


def sign_in(client, user):
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302


@pytest.fixture
def stale_tokens(monkeypatch):
    """CSRF tokens issued while this is on were signed two days ago: past WTF_CSRF_TIME_LIMIT."""

    class OldSigner(itsdangerous.TimestampSigner):
        def get_timestamp(self):
            return super().get_timestamp() - 2 * 24 * 3600

    class StaleSerializer(itsdangerous.URLSafeTimedSerializer):
        default_signer = OldSigner

    class Stale:
        def __enter__(self):
            monkeypatch.setattr(flask_wtf.csrf, "URLSafeTimedSerializer", StaleSerializer)

        def __exit__(self, *exc):
            monkeypatch.setattr(flask_wtf.csrf, "URLSafeTimedSerializer", itsdangerous.URLSafeTimedSerializer)

    return Stale()


def checkins():
    return db.session.scalar(select(func.count()).select_from(CheckIn))


def test_an_expired_token_offers_the_same_answers_again_and_they_are_stored_once(csrf_app, users, stale_tokens):
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    with stale_tokens:
        page = client.get("/checkin").get_data(as_text=True)
    old_token = csrf_token_of(page)
    submission_key = re.search(r'id="submission_key" name="submission_key" type="hidden" value="([^"]+)"', page)[1]
    answers = {**{k: str(v) for k, v in answers_for(12).items()}, "se_nausea": "2",
               "note": 'Slept badly <b>"again"</b> & woke at 4', "local_date": "2026-11-26",
               "submission_key": submission_key, "csrf_token": old_token}

    r = client.post("/checkin", data=answers, headers=OURS)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert RESUBMIT_MESSAGE in html
    # No script of its own: it works without JavaScript (the idle warning of every signed-in page aside).
    assert own_scripts(html) == []
    assert 'action="/checkin"' in html
    fields = MultiDict(hidden_inputs(html))
    kept = fields.to_dict()
    assert kept["csrf_token"] != old_token
    assert {k: v for k, v in kept.items() if k != "csrf_token"} == {k: v for k, v in answers.items() if k != "csrf_token"}
    assert "<b>" not in html  # the note is escaped, not markup
    assert checkins() == 0

    again = client.post("/checkin", data=fields)
    assert again.status_code == 303
    assert checkins() == 1
    # A second tap on "Send again" stores nothing more.
    client.post("/checkin", data=fields)
    assert checkins() == 1
    stored = db.session.scalar(select(CheckIn))
    assert stored.total == 12 and stored.note == answers["note"]


def test_a_missing_token_gets_the_same_friendly_page(csrf_app, users):
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(5), "local_date": "2026-11-26"}, headers=OURS)
    assert r.status_code == 400
    assert RESUBMIT_MESSAGE in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    assert checkins() == 0


def test_passwords_are_never_echoed_into_the_page(csrf_app, users):
    client = csrf_app.test_client()
    r = client.post("/login?next=/me", data={"email": users.patient_a.email, "password": PASSWORD,
                                              "csrf_token": "expired-or-forged"}, headers=OURS)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and RESUBMIT_MESSAGE in html
    assert PASSWORD not in html
    assert dict(hidden_inputs(html))["email"] == users.patient_a.email
    assert 'action="/login?next=/me"' in html
    assert "passwords are not kept" in html


def test_a_post_from_another_site_gets_the_plain_error_page(csrf_app, users):
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(21), "note": "planted"},
                    headers={"Origin": "https://evil.example"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert RESUBMIT_MESSAGE not in html and "planted" not in html
    assert checkins() == 0


def test_a_post_from_this_site_by_origin_header_is_offered_again(csrf_app, users):
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(3)}, headers={"Origin": "http://localhost"})
    assert RESUBMIT_MESSAGE in r.get_data(as_text=True)


def test_a_same_origin_referer_without_origin_is_offered_again(csrf_app, users):
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(3)}, headers={"Referer": "http://localhost/checkin"})
    assert RESUBMIT_MESSAGE in r.get_data(as_text=True)


@pytest.mark.parametrize("headers", [
    {},  # neither header: nothing proves where the form came from
    {"Origin": "null"},  # a no-referrer or sandboxed page auto-posting (the retest's M3)
    {"Origin": "null", "Referer": "http://localhost/checkin"},  # a forged Referer does not beat Origin
    {"Origin": "https://localhost"},  # another scheme is another origin
    {"Origin": "http://localhost.evil.example"},
    {"Referer": "https://evil.example/http://localhost/"},
    {"Referer": "null"},
])
def test_only_a_proven_same_origin_post_is_offered_again(csrf_app, users, headers):
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(21), "note": "planted"}, headers=headers)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert RESUBMIT_MESSAGE not in html and "planted" not in html and "Send again" not in html
    assert checkins() == 0


def test_only_the_forms_declared_fields_are_served_again(csrf_app, users):
    """An attacker's extra fields (here aimed at another form's action) never ride along."""
    client = csrf_app.test_client()
    sign_in(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(4), "local_date": "2026-11-26", "provider_ids": "99",
                                      "role": "admin", "next": "//evil.example"}, headers=OURS)
    kept = dict(hidden_inputs(r.get_data(as_text=True)))
    assert RESUBMIT_MESSAGE in r.get_data(as_text=True)
    assert {"provider_ids", "role", "next"}.isdisjoint(kept)
    assert kept["q1"] == str(answers_for(4)["q1"]) and kept["local_date"] == "2026-11-26"


def test_an_admins_panel_move_is_never_served_again(csrf_app, users):
    """The retest's M3: an admin's action (moving a patient between panels) posted without a
    valid token gets the plain refusal even from this site, and nothing moves."""
    client = csrf_app.test_client()
    csrf_app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"] = False
    sign_in(client, users.admin)
    before = {p.id for p in users.patient_a.providers}
    r = client.post(f"/patients/{users.patient_a.id}/care-team",
                    data={"providers": str(users.provider_b.id)}, headers=OURS)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and RESUBMIT_MESSAGE not in html and "Send again" not in html
    db.session.expire_all()
    assert {p.id for p in db.session.get(User, users.patient_a.id).providers} == before


def test_a_nul_character_in_any_field_is_refused_before_the_database(client, users):
    login(client, users.patient_a)
    r = client.post("/checkin", data={**answers_for(7), "local_date": "2026-11-26", "note": ["fine", "a\x00b"]})
    assert r.status_code == 400
    assert checkins() == 0
