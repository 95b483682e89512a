"""Rate limits on sign-in, reset and the emailed links (monitor.ratelimit), on both stores:
the database table and Redis. Over a limit the answer is 429 with Retry-After, the refusal is
audited, and the view never runs: no password is checked."""
import os
import secrets
from datetime import timedelta

import argon2
import pytest
from sqlalchemy import func, select

from monitor import passwords, ratelimit, timeutil
from monitor.extensions import db
from monitor.models import RateLimitHit
from tests.factories import NOW, PASSWORD, code_at, deliver_mail, enable_two_factor, events, login, read_outbox


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis unreachable at {REDIS_URL} in CI: {error}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}")
    return client


@pytest.fixture(params=["database", "redis"])
def limited_app(request, app):
    """The test app with rate limits on, counting in the database or in Redis."""
    app.config["RATELIMIT_ENABLED"] = True
    if request.param == "redis":
        client = _redis_or_skip()
        prefix = f"monitor-test:{secrets.token_hex(8)}:"
        app.config["RATELIMIT_REDIS_URL"] = REDIS_URL
        app.config["RATELIMIT_KEY_PREFIX"] = prefix
        yield app
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
    else:
        yield app
    app.extensions.pop("ratelimit", None)


@pytest.fixture
def verifications(monkeypatch):
    """How many times a password hash was checked."""
    calls = []

    class Counting(argon2.PasswordHasher):
        def verify(self, hash, password):
            calls.append(1)
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", Counting.from_parameters(argon2.profiles.CHEAPEST))
    return calls


def attempt(client, email, password="wrong password", address="203.0.113.7"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def refusals():
    return events("ratelimit.refused")


def test_the_sixth_sign_in_attempt_on_one_account_is_refused_without_checking_the_password(
        limited_app, users, verifications):
    client = limited_app.test_client()
    for _ in range(5):
        assert attempt(client, users.patient_a.email).status_code == 200
    assert len(verifications) == 5
    response = attempt(client, users.patient_a.email, password=PASSWORD)
    assert response.status_code == 429
    assert len(verifications) == 5  # the view never ran
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    assert b"Please wait 15 minutes" in response.data
    assert response.headers["Cache-Control"] == "no-store"
    [event] = refusals()
    assert event.detail == "auth.login: 5 per account and address in 15 min"
    assert event.ip == "203.0.113.7"
    assert "alice" not in (event.detail or "")


def test_the_pair_limit_follows_the_normalised_email(limited_app, users):
    client = limited_app.test_client()
    spellings = ["alice@example.test", " Alice@Example.TEST", "ALICE@example.test ", "alice@EXAMPLE.test", "alice@example.test"]
    for email in spellings:
        assert attempt(client, email).status_code == 200
    assert attempt(client, "alice@example.test").status_code == 429
    # Another account from the same address is untouched, and so is this one from elsewhere.
    assert attempt(client, users.patient_b.email).status_code == 200
    assert attempt(client, users.patient_a.email, password=PASSWORD, address="198.51.100.99").status_code == 302


def test_successful_sign_ins_never_count(limited_app, users):
    """The retest's L2: a provider signing in again and again on their devices met "too many
    attempts". Only failures count."""
    for _ in range(8):
        assert attempt(limited_app.test_client(), users.patient_a.email, password=PASSWORD).status_code == 302
    client = limited_app.test_client()
    for _ in range(4):
        assert attempt(client, users.patient_a.email).status_code == 200
    assert attempt(client, users.patient_a.email, password=PASSWORD).status_code == 302
    assert refusals() == []


def test_a_stranger_cannot_lock_the_owner_out(limited_app, users):
    """Failures from a stranger's addresses slow the account down, but the owner's right password
    from the phone they signed in on before still works at once; from a new device, after a
    short wait that doubles with each further failure."""
    owner = limited_app.test_client()
    assert attempt(owner, users.patient_a.email, password=PASSWORD, address="192.0.2.10").status_code == 302
    assert owner.get_cookie("device") is not None  # this phone is now one of the account's devices
    assert "alice" not in owner.get_cookie("device").value and str(users.patient_a.id) != owner.get_cookie("device").value
    owner.post("/logout", data={})

    stranger = limited_app.test_client()
    for n in range(10):  # two guesses each from five addresses: no pair or address limit is reached
        assert attempt(stranger, users.patient_a.email, address=f"203.0.113.{n // 2}").status_code == 200
    # Now slowed: ten failures, the last just now, mean a wait of 2 seconds.
    slowed = attempt(stranger, users.patient_a.email, address="203.0.113.200")
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) == 2
    assert "account slowed" in refusals()[-1].detail
    # The owner, from their usual phone (even at a new address): straight in.
    assert attempt(owner, users.patient_a.email, password=PASSWORD, address="198.51.100.7").status_code == 302
    # From a new device, the owner waits out the delay like anyone, then is in.
    fresh = limited_app.test_client()
    assert attempt(fresh, users.patient_a.email, password=PASSWORD, address="198.51.100.8").status_code == 429
    timeutil.freeze(NOW + timedelta(seconds=3))
    assert attempt(fresh, users.patient_a.email, password=PASSWORD, address="198.51.100.8").status_code == 302


def test_the_delay_doubles_with_each_failure_and_is_capped(limited_app, users):
    stranger = limited_app.test_client()
    waits = []
    clock = NOW
    for n in range(22):
        response = attempt(stranger, users.patient_a.email, address=f"203.0.113.{n}")
        if response.status_code == 429:
            wait = int(response.headers["Retry-After"])
            waits.append(wait)
            clock += timedelta(seconds=wait)
            timeutil.freeze(clock)
            assert attempt(stranger, users.patient_a.email, address=f"203.0.113.{n}").status_code == 200
    assert waits[:4] == [2, 4, 8, 16]
    assert max(waits) <= 15 * 60


def test_a_device_cookie_for_another_account_does_not_help(limited_app, users):
    bob = limited_app.test_client()
    assert attempt(bob, users.patient_b.email, password=PASSWORD).status_code == 302
    stranger = limited_app.test_client()
    for n in range(10):
        attempt(stranger, users.patient_a.email, address=f"203.0.113.{n}")
    # Bob's phone carries Bob's device mark: it is not one of Alice's devices.
    assert attempt(bob, users.patient_a.email, password=PASSWORD, address="198.51.100.9").status_code == 429


def test_one_address_trying_many_accounts_is_refused_after_twenty(limited_app, users, verifications):
    client = limited_app.test_client()
    for n in range(20):
        assert attempt(client, f"guess{n}@example.test").status_code == 200
    response = attempt(client, "guess-last@example.test")
    assert response.status_code == 429
    assert len(verifications) == 20
    assert refusals()[0].detail == "auth.login: 20 per address in 15 min"
    # Someone else, elsewhere, still signs in.
    assert attempt(client, users.patient_a.email, password=PASSWORD, address="192.0.2.1").status_code == 302


def test_the_window_slides_with_the_clock(limited_app, users):
    client = limited_app.test_client()
    for minute in range(5):
        timeutil.freeze(NOW + timedelta(minutes=minute))
        attempt(client, users.patient_a.email)
    timeutil.freeze(NOW + timedelta(minutes=14))
    response = attempt(client, users.patient_a.email)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 60  # the first attempt leaves the window at 15:00
    timeutil.freeze(NOW + timedelta(minutes=15, seconds=1))
    assert attempt(client, users.patient_a.email, password=PASSWORD).status_code == 302


def test_refused_attempts_do_not_extend_the_wait(limited_app, users):
    client = limited_app.test_client()
    for _ in range(5):
        attempt(client, users.patient_a.email)
    for minute in range(1, 15):
        timeutil.freeze(NOW + timedelta(minutes=minute))
        assert attempt(client, users.patient_a.email).status_code == 429
    timeutil.freeze(NOW + timedelta(minutes=15, seconds=1))
    assert attempt(client, users.patient_a.email, password=PASSWORD).status_code == 302


def test_password_reset_requests_are_limited_per_account(limited_app, users, app):
    client = limited_app.test_client()
    for _ in range(3):
        assert client.post("/account/reset", data={"email": users.patient_a.email}).status_code == 302
    response = client.post("/account/reset", data={"email": users.patient_a.email})
    assert response.status_code == 429
    assert b"Please wait" in response.data
    deliver_mail()
    assert len(read_outbox(app)) == 3  # the fourth request sent nothing


@pytest.mark.parametrize("path", ["/account/invitation/", "/account/reset/"])
def test_guesses_at_one_link_are_limited_per_token(limited_app, users, path):
    client = limited_app.test_client()
    token = "a-made-up-token"
    for n in range(5):
        response = client.post(path + token, data={"password": "x"}, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        assert response.status_code == 404
    assert client.post(path + token, data={}, environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code == 429
    assert client.post(path + "another-token", data={}, environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code == 404


def test_the_second_factor_is_limited_per_pending_user(limited_app, users):
    """Five wrong codes for one pending user, from any addresses, then a wait."""
    enable_two_factor(users.patient_a)
    client = limited_app.test_client()
    assert attempt(client, users.patient_a.email, password=PASSWORD).headers["Location"].endswith("/login/verify")
    for n in range(5):
        r = client.post("/login/verify", data={"code": "000000"}, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        assert r.status_code == 200
    r = client.post("/login/verify", data={"code": "000000"}, environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert r.status_code == 429
    assert refusals()[0].detail == "auth.verify: 5 per account in 15 min"


def test_right_second_factor_codes_never_count(limited_app, users):
    enable_two_factor(users.patient_a)
    for step in range(7):
        timeutil.freeze(NOW + timedelta(seconds=30 * step))
        client = limited_app.test_client()
        attempt(client, users.patient_a.email, password=PASSWORD)
        r = client.post("/login/verify", data={"code": code_at(users.patient_a)})
        assert r.status_code == 302, step


@pytest.mark.parametrize("path, data", [
    ("/account/password", {"current_password": "a wrong guess", "password": "a brand new long passphrase",
                           "confirm": "a brand new long passphrase"}),
    ("/account/security/sessions/end-others", {"current_password": "a wrong guess"}),
    ("/account/security/two-factor", {"code": "000000", "current_password": "a wrong guess"}),
    ("/account/security/recovery-codes", {"code": "000000"}),
    ("/account/security/two-factor/disable", {"code": "000000"}),
])
def test_signed_in_password_and_code_checks_are_limited_per_account(limited_app, users, verifications,
                                                                     path, data):
    """A stolen session gets five guesses, from any number of addresses, then a wait."""
    client = limited_app.test_client()
    login(client, users.patient_a)
    before = len(verifications)
    for n in range(5):
        r = client.post(path, data=data, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        assert r.status_code != 429, n
    r = client.post(path, data=data, environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert refusals()[0].detail.endswith("5 per account in 15 min")
    if "current_password" in data:
        assert len(verifications) == before + 5  # the sixth guess was never checked
    # Another account's budget is its own.
    other = limited_app.test_client()
    login(other, users.patient_b)
    assert other.post(path, data=data, environ_base={"REMOTE_ADDR": "192.0.2.100"}).status_code != 429


def test_get_requests_and_other_endpoints_are_not_counted(limited_app, users):
    client = limited_app.test_client()
    for _ in range(30):
        assert client.get("/login").status_code == 200
    for _ in range(6):
        attempt(client, users.patient_a.email)
    # The sign-in limit does not touch the reset form's budget.
    assert client.post("/account/reset", data={"email": users.patient_a.email}).status_code == 302


def test_limits_are_off_in_the_normal_test_config(app, users):
    client = app.test_client()
    for _ in range(8):
        assert attempt(client, users.patient_a.email).status_code == 200


def test_the_database_store_keeps_no_email_and_prunes_expired_rows(app, users, monkeypatch):
    app.config["RATELIMIT_ENABLED"] = True
    client = app.test_client()
    attempt(client, users.patient_a.email)
    keys = db.session.scalars(select(RateLimitHit.key)).all()
    # A failed sign-in counts for the account at this address, the address, and the account.
    assert len(keys) == 3 and not any("alice" in key for key in keys)
    monkeypatch.setattr(ratelimit, "PRUNE_ONE_IN", 1)
    timeutil.freeze(NOW + timedelta(hours=2))
    attempt(client, users.patient_b.email)
    assert db.session.scalar(select(func.count()).select_from(RateLimitHit)) == 3  # only the new ones


def test_an_unreachable_redis_falls_back_to_the_database(app, users):
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, users.patient_a.email).status_code == 200
    assert attempt(client, users.patient_a.email).status_code == 429
    app.extensions.pop("ratelimit", None)


def test_redis_counts_atomically_in_a_sorted_set(app, users):
    r = _redis_or_skip()
    prefix = f"monitor-test:{secrets.token_hex(8)}:"
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
    try:
        attempt(app.test_client(), users.patient_a.email)
        keys = sorted(k.decode() for k in r.scan_iter(match=prefix + "*"))
        assert len(keys) == 3 and all(r.type(k) == b"zset" and r.zcard(k) == 1 for k in keys)
        assert all(0 < r.ttl(k) <= 15 * 60 + 1 for k in keys)
        assert not any("alice" in k for k in keys)
        assert db.session.scalar(select(func.count()).select_from(RateLimitHit)) == 0
    finally:
        for key in r.scan_iter(match=prefix + "*"):
            r.delete(key)
        app.extensions.pop("ratelimit", None)
