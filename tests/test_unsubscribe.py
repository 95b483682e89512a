"""One-click unsubscribe (SPEC 5, RFC 8058): a GET only asks, a POST (the mail client's, with no
CSRF token and no sign-in) turns nudges off; the link's token carries the patient's id encrypted
(no one can read it or make one without SECRET_KEY); a token made for anything else, or altered,
is 404."""
import base64
import json
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import URLSafeSerializer

from monitor import crypto, nudges
from monitor.extensions import db
from monitor.models import User
from monitor.tokens import UNSUBSCRIBE_PURPOSE, unsubscribe_token as make_token
from tests.factories import add_patient, derived_key, events, login, secret_keys
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
    token = make_token(alice.id)
    response = client.get(f"/unsubscribe/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<form method="post" action="/unsubscribe/{token}">' in page
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
    """One character changed in the middle, where every base64 bit is data (near the end of a
    padded token, some bits are padding that decoding ignores: such a change would be no change)."""
    at = len(token) // 2
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


def flipped(token: str, at: int) -> str:
    """The token with one bit of its decoded bytes changed (IV, ciphertext or tag by position)."""
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[at] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def legacy_token(app, payload, salt: str = "nudge-unsubscribe", secret: str | None = None) -> str:
    """A link as emailed before the ids were encrypted: the id in clear, signed (itsdangerous)."""
    return URLSafeSerializer(secret or app.config["SECRET_KEY"], salt=salt).dumps(payload)


def token_under(app, secret: str, user_id: int) -> str:
    with secret_keys(app, secret):
        return make_token(user_id)


def swapped_payload(app, uid: int) -> str:
    # A legacy token whose payload is another id, its signature kept.
    good, other = legacy_token(app, uid), legacy_token(app, uid + 1)
    return other.split(".")[0] + "." + good.split(".")[1]


@pytest.mark.parametrize("make_bad", [
    lambda app, uid: legacy_token(app, uid, salt="password-reset"),      # signed for something else
    lambda app, uid: legacy_token(app, uid, salt="itsdangerous"),        # the library's default salt
    lambda app, uid: legacy_token(app, uid, secret="another-secret"),
    lambda app, uid: swapped_payload(app, uid),
    lambda app, uid: crypto.encrypt(str(uid)),                          # encrypted for another purpose
    lambda app, uid: token_under(app, "another-secret", uid),           # under a key we do not hold
    lambda app, uid: tampered(make_token(uid)),
    lambda app, uid: flipped(make_token(uid), 0),                       # the version byte
    lambda app, uid: flipped(make_token(uid), 20),                      # the IV
    lambda app, uid: flipped(make_token(uid), 40),                      # the ciphertext
    lambda app, uid: flipped(make_token(uid), -1),                      # the HMAC
    lambda app, uid: make_token(uid)[:-10],
    lambda app, uid: make_token(uid + 1000),                            # nobody's
    lambda app, uid: "not-a-token",
    lambda app, uid: quote("gAAAAAé" * 5),                              # not ASCII
    lambda app, uid: "x" * 300,
])
def test_a_token_for_another_purpose_or_tampered_is_the_friendly_404(app, client, make_bad):
    alice = add_patient("alice@example.test")
    token = make_bad(app, alice.id)
    for response in (client.get(f"/unsubscribe/{token}"), client.post(f"/unsubscribe/{token}")):
        assert response.status_code == 404
        assert "There is nothing here." in response.get_data(as_text=True)
    assert not opted_out(alice)


def test_a_token_with_another_payload_is_404(app, client):
    alice = add_patient("alice@example.test")
    for payload in ("1", [alice.id], {"id": alice.id}, True):
        assert client.post(f"/unsubscribe/{legacy_token(app, payload)}").status_code == 404
    for text in (f" {alice.id}", f"0{alice.id}", f"-{alice.id}", f"{alice.id}.0", "1e1", json.dumps([alice.id]), ""):
        assert client.post(f"/unsubscribe/{crypto.encrypt(text, UNSUBSCRIBE_PURPOSE)}").status_code == 404
    assert not opted_out(alice)


def test_the_token_does_not_carry_the_id_readably(app):
    user_id = 987654321
    token = make_token(user_id)
    raw = base64.urlsafe_b64decode(token)
    assert str(user_id) not in token and b"987654321" not in raw
    assert base64.urlsafe_b64encode(b"987654321").decode().rstrip("=") not in token  # the old link's payload
    # Without SECRET_KEY it cannot be opened: not with a key derived from another secret...
    with pytest.raises(InvalidToken):
        Fernet(base64.urlsafe_b64encode(derived_key("another-secret", UNSUBSCRIBE_PURPOSE))).decrypt(token)
    # ...while the key the app derives from its own opens it (so the test above means something).
    key = derived_key(app.config["SECRET_KEY"], UNSUBSCRIBE_PURPOSE)
    assert Fernet(base64.urlsafe_b64encode(key)).decrypt(token) == b"987654321"
    # Each email's link differs, so two links cannot be matched up as the same patient's.
    assert make_token(user_id) != token


def test_a_link_already_in_an_inbox_still_works(app, client):
    """Emails sent before the ids were encrypted carry the old signed token: honoured for now."""
    alice = add_patient("alice@example.test")
    old_link = f"/unsubscribe/{legacy_token(app, alice.id)}"
    assert client.get(old_link).status_code == 200
    assert client.post(old_link).status_code == 200
    assert opted_out(alice)


def test_a_key_rotation_keeps_new_links_while_the_old_key_is_a_fallback_and_ends_old_format_ones(app, client):
    alice = add_patient("alice@example.test")
    link, old_link = make_token(alice.id), legacy_token(app, alice.id)
    old_key = app.config["SECRET_KEY"]
    with secret_keys(app, "a-new-secret-key", old_key):
        assert client.get(f"/unsubscribe/{link}").status_code == 200
        assert client.get(f"/unsubscribe/{old_link}").status_code == 404  # the rotation ends the transition
    with secret_keys(app, "a-new-secret-key"):
        assert client.get(f"/unsubscribe/{link}").status_code == 404


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
