"""One-click unsubscribe (SPEC 5, RFC 8058): a GET only asks, a POST (the mail client's, with no
CSRF token and no sign-in) turns nudges off; a token signed for anything else, or altered, is 404."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import URLSafeSerializer

from monitor import nudges
from monitor.extensions import db
from monitor.models import User
from monitor.tokens import unsubscribe_token as make_token
from tests.factories import add_patient, events, login
from tests.test_nudges import EVENING


@pytest.fixture
def csrf_on(app):
    # The one-click POST must work with CSRF protection on, as in production.
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def opted_out(user) -> bool:
    db.session.expire_all()
    return db.session.get(User, user.id).email_opt_out


def test_get_shows_a_confirm_button_and_changes_nothing(app, client):
    alice = add_patient("alice@example.test")
    response = client.get(f"/unsubscribe/{make_token(alice.id)}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<form method="post" action="/unsubscribe/{make_token(alice.id)}">' in page
    assert "Stop reminder emails" in page
    assert "alice@example.test" not in page
    assert not opted_out(alice)


def test_one_click_post_from_the_mail_client_opts_out_without_csrf_or_sign_in(app, client, csrf_on):
    alice = add_patient("alice@example.test")
    response = client.post(f"/unsubscribe/{make_token(alice.id)}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Reminder emails are off" in response.get_data(as_text=True)
    assert opted_out(alice)
    [event] = events("nudges.unsubscribed")
    assert (event.actor_id, event.target_id) == (alice.id, alice.id)


def test_posting_twice_is_harmless_and_audited_once(app, client):
    alice = add_patient("alice@example.test")
    url = f"/unsubscribe/{make_token(alice.id)}"
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 200
    assert len(events("nudges.unsubscribed")) == 1
    assert "already off" in client.get(url).get_data(as_text=True)


def test_other_patients_are_untouched(app, client):
    alice = add_patient("alice@example.test")
    bob = add_patient("bob@example.test")
    client.post(f"/unsubscribe/{make_token(alice.id)}")
    assert opted_out(alice) and not opted_out(bob)


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def other_purpose_token(app, user_id: int, salt: str) -> str:
    return URLSafeSerializer(app.config["SECRET_KEY"], salt=salt).dumps(user_id)


@pytest.mark.parametrize("make_bad", [
    lambda app, uid: other_purpose_token(app, uid, "password-reset"),    # signed for something else
    lambda app, uid: other_purpose_token(app, uid, "itsdangerous"),      # the library's default salt
    lambda app, uid: URLSafeSerializer("another-secret", salt="nudge-unsubscribe").dumps(uid),
    lambda app, uid: tampered(make_token(uid)),
    lambda app, uid: make_token(uid).replace(make_token(uid).split(".")[0], make_token(uid + 1).split(".")[0]),
    lambda app, uid: make_token(uid + 1000),                            # nobody's
    lambda app, uid: "not-a-token",
    lambda app, uid: "x" * 300,
])
def test_a_token_for_another_purpose_or_tampered_is_404(app, client, make_bad):
    alice = add_patient("alice@example.test")
    token = make_bad(app, alice.id)
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}").status_code == 404
    assert not opted_out(alice)


def test_a_token_with_another_payload_is_404(app, client):
    alice = add_patient("alice@example.test")
    for payload in ("1", [alice.id], {"id": alice.id}, True):
        token = URLSafeSerializer(app.config["SECRET_KEY"], salt="nudge-unsubscribe").dumps(payload)
        assert client.post(f"/unsubscribe/{token}").status_code == 404
    assert not opted_out(alice)


def test_staff_accounts_cannot_be_unsubscribed_this_way(app, client, users):
    assert client.post(f"/unsubscribe/{make_token(users.provider_a.id)}").status_code == 404


def test_the_token_does_not_sign_anyone_in(app, client):
    alice = add_patient("alice@example.test")
    client.post(f"/unsubscribe/{make_token(alice.id)}")
    response = client.get("/me")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_emailed_link_works_and_stops_further_nudges(app, client, csrf_on, smtp):
    alice = add_patient("alice@example.test")
    nudges.run(EVENING)
    [msg] = smtp.messages
    url = str(msg["List-Unsubscribe"]).strip()[1:-1]
    path = urlsplit(url).path
    assert client.post(path, data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 200
    assert opted_out(alice)
    nudges.run(EVENING + timedelta(days=1))
    assert len(smtp.messages) == 1


def test_a_signed_in_patient_can_turn_nudges_back_on_in_settings(app, client):
    alice = add_patient("alice@example.test")
    client.post(f"/unsubscribe/{make_token(alice.id)}")
    login(client, alice)
    client.post("/me/settings", data={"timezone": "America/New_York", "reminder_time": "19:00", "nudges": "on"})
    assert not opted_out(alice)
