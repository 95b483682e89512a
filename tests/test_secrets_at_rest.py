"""Secrets at rest (monitor/crypto.py): second-factor secrets are stored encrypted and recovery
codes as keyed hashes, with keys derived from SECRET_KEY; a key rotation (SECRET_KEY_FALLBACKS,
`rotate-secrets`) loses nothing; and migration 0010 converts what earlier versions stored."""
import base64
import hashlib
import logging
import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade

from monitor import config, crypto, twofactor
from monitor.extensions import db
from monitor.models import RecoveryCode, User, UTCDateTime
from tests.factories import NOW, PASSWORD, add_provider, derived_key, events, keyed_recovery_hash, login, secret_keys

REVISION = "0010_secrets_at_rest"
GENERIC = "That code did not work."


def raw_secret(user_id: int) -> str | None:
    """users.totp_secret as the database holds it."""
    with db.engine.connect() as conn:
        return conn.execute(sa.text("select totp_secret from users where id = :id"), {"id": user_id}).scalar()


def raw_code_hashes(user_id: int) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(sa.text("select code_hash from recovery_codes where user_id = :id"),
                                {"id": user_id}).scalars())


def enable(user, secret: str) -> list[str]:
    """The factor on, as the enrolment page leaves it; returns the recovery codes."""
    twofactor.store_secret(user, secret)
    user.totp_enabled_at = NOW - timedelta(days=1)
    codes = twofactor.new_recovery_codes(user)
    db.session.commit()
    return codes


def fresh(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def code(secret: str, seconds: int = 0) -> str:
    return pyotp.TOTP(secret).at(NOW + timedelta(seconds=seconds))


# --- The module itself.

def test_encrypted_text_is_opaque_differs_each_time_and_comes_back(app):
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in token and crypto.encrypt("JBSWY3DPEHPK3PXP") != token
    assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"
    # Under the key derived for its purpose from SECRET_KEY (HKDF), and no other.
    assert Fernet(base64.urlsafe_b64encode(derived_key(app.config["SECRET_KEY"], "at-rest"))).decrypt(token) \
        == b"JBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("bad", ["", "not-a-token", "gAAAAAé", None, 42])
def test_what_was_not_encrypted_here_cannot_be_decrypted(app, bad):
    with pytest.raises(crypto.CannotDecrypt):
        crypto.decrypt(bad)


def test_each_purpose_has_its_own_key(app):
    with pytest.raises(crypto.CannotDecrypt):
        crypto.decrypt(crypto.encrypt("7", "nudge-unsubscribe"))
    assert crypto.keyed_hash("x", "recovery-code") != crypto.keyed_hash("x", "message-id")


def test_a_value_made_under_the_old_key_is_read_while_it_is_a_fallback_and_rotates_to_the_new(app):
    old = app.config["SECRET_KEY"]
    token, digest = crypto.encrypt("secret"), crypto.keyed_hash("x", "recovery-code")
    with secret_keys(app, "a-new-secret-key", old):
        assert crypto.decrypt(token) == "secret" and not crypto.is_current(token)
        assert crypto.keyed_hash("x", "recovery-code") != digest
        assert crypto.keyed_hashes("x", "recovery-code")[1] == digest
        rotated = crypto.reencrypt(token)
        assert crypto.is_current(rotated)
    with secret_keys(app, "a-new-secret-key"):
        assert crypto.decrypt(rotated) == "secret"
        with pytest.raises(crypto.CannotDecrypt):
            crypto.decrypt(token)


def test_one_fallback_given_as_a_string_is_one_key_not_one_per_character(app):
    token = crypto.encrypt("secret")
    old = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = "a-new-secret-key", old
    try:
        assert crypto.decrypt(token) == "secret"
        assert len(crypto.keyed_hashes("x", "recovery-code")) == 2
    finally:
        app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = old, []


def test_fallbacks_come_from_the_environment_as_a_list(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "the-new-key")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", "the-old-key, an-older-key")
    assert config.defaults(str(tmp_path))["SECRET_KEY_FALLBACKS"] == ["the-old-key", "an-older-key"]
    monkeypatch.delenv("SECRET_KEY_FALLBACKS")
    assert config.defaults(str(tmp_path))["SECRET_KEY_FALLBACKS"] == []


# --- What the second factor stores.

def test_enrolment_stores_the_secret_encrypted_and_codes_still_work(client, users):
    login(client, users.provider_a)
    page = client.get("/account/security/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert client.post("/account/security/two-factor", data={"code": code(secret), "current_password": PASSWORD}).status_code == 200
    stored = raw_secret(users.provider_a.id)
    assert stored and secret not in stored and not re.fullmatch(r"[A-Z2-7]+=*", stored)
    assert twofactor.stored_secret(fresh(users.provider_a.id)) == secret
    client.post("/logout")
    client.post("/login", data={"email": users.provider_a.email, "password": PASSWORD})
    assert client.post("/login/verify", data={"code": code(secret, 30)}).status_code == 302


def test_the_same_secret_is_stored_differently_for_two_accounts(app, users):
    enable(users.provider_a, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    enable(users.provider_b, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert raw_secret(users.provider_a.id) != raw_secret(users.provider_b.id)


def test_a_secret_no_configured_key_opens_refuses_every_code_without_a_500(client, app, users, caplog):
    secret = pyotp.random_base32()
    enable(users.provider_a, secret)
    with secret_keys(app, "a-key-nobody-kept"), caplog.at_level(logging.ERROR, logger="monitor.twofactor"):
        client.post("/login", data={"email": users.provider_a.email, "password": PASSWORD})
        r = client.post("/login/verify", data={"code": code(secret)})
        assert r.status_code == 200 and GENERIC in r.get_data(as_text=True)
    assert "cannot be decrypted" in caplog.text and secret not in caplog.text


# --- Rotation.

def test_rotate_secrets_moves_every_secret_to_the_new_key(app, runner, users):
    secret = pyotp.random_base32()
    codes = enable(users.provider_a, secret)
    before = raw_secret(users.provider_a.id)
    with secret_keys(app, "a-new-secret-key", app.config["SECRET_KEY"]):
        # With the old key as a fallback, the secret and the recovery codes keep working.
        assert twofactor.verify_totp(fresh(users.provider_a.id), code(secret), now=NOW)
        assert twofactor.use_recovery_code(fresh(users.provider_a.id), codes[0])
        result = runner.invoke(args=["rotate-secrets"])
        assert result.exit_code == 0, result.output
        assert "1 second-factor secret(s) re-encrypted" in result.output
        assert raw_secret(users.provider_a.id) != before
        again = runner.invoke(args=["rotate-secrets"])
        assert again.exit_code == 0 and "0 second-factor secret(s) re-encrypted" in again.output
        assert "1 already were" in again.output
    with secret_keys(app, "a-new-secret-key"):
        # The old key dropped: the secret was re-encrypted and still works.
        assert twofactor.verify_totp(fresh(users.provider_a.id), code(secret, 60), now=NOW + timedelta(seconds=60))
        # Recovery codes cannot be re-keyed (only their hashes are kept): they needed the
        # fallback, so SECURITY.md says to have them replaced before dropping it.
        assert not twofactor.use_recovery_code(fresh(users.provider_a.id), codes[1])
        assert twofactor.new_recovery_codes(fresh(users.provider_a.id))
    assert [e.detail for e in events("secrets.rotated")] == ["1 second-factor secrets re-encrypted",
                                                             "0 second-factor secrets re-encrypted"]


def test_rotate_secrets_without_the_old_key_changes_nothing_and_says_who(app, runner, users):
    enable(users.provider_a, pyotp.random_base32())
    before = raw_secret(users.provider_a.id)
    with secret_keys(app, "a-new-secret-key"):
        result = runner.invoke(args=["rotate-secrets"])
    assert result.exit_code == 1
    assert f"ids {users.provider_a.id}" in result.output and "SECRET_KEY_FALLBACKS" in result.output
    assert raw_secret(users.provider_a.id) == before
    assert events("secrets.rotated") == []


def test_reset_two_factor_still_clears_an_encrypted_secret(app, runner, users):
    enable(users.provider_a, pyotp.random_base32())
    assert runner.invoke(args=["reset-two-factor", users.provider_a.email]).exit_code == 0
    assert raw_secret(users.provider_a.id) is None and raw_code_hashes(users.provider_a.id) == set()


# --- Migration 0010.

def migrate_to_before_0010() -> None:
    db.session.close()  # no transaction of the test's may hold a lock the migration waits for
    downgrade(revision=REVISION)  # whatever came later, undone first
    downgrade(revision="-1")


def migrate_to_head() -> None:
    db.session.close()
    upgrade()


def test_upgrade_encrypts_plain_secrets_and_keys_sha256_recovery_codes(app):
    provider = add_provider("p@clinic.test")
    provider.totp_enabled_at = NOW - timedelta(days=1)
    db.session.commit()
    user_id, secret, recovery = provider.id, pyotp.random_base32(), "abcde-fghjk"
    migrate_to_before_0010()
    # What 0007 stored: the secret in clear, sha256 of the normalised code.
    codes = sa.table("recovery_codes", sa.column("user_id"), sa.column("code_hash"),
                     sa.column("created_at", UTCDateTime()))
    with db.engine.begin() as conn:
        conn.execute(sa.text("update users set totp_secret = :s where id = :id"), {"s": secret, "id": user_id})
        conn.execute(codes.insert().values(user_id=user_id, code_hash=hashlib.sha256(b"abcdefghjk").hexdigest(),
                                           created_at=NOW))
    migrate_to_head()
    stored = raw_secret(user_id)
    assert secret not in stored and crypto.decrypt(stored) == secret
    assert raw_code_hashes(user_id) == {keyed_recovery_hash(recovery, app.config["SECRET_KEY"])}
    assert twofactor.check(fresh(user_id), code(secret)) == "totp"
    assert twofactor.check(fresh(user_id), recovery.upper()) == "recovery"
    assert twofactor.check(fresh(user_id), recovery) is None  # once


def test_downgrade_decrypts_the_secrets_and_drops_the_keyed_recovery_codes(app, users):
    secret = pyotp.random_base32()
    enable(users.provider_a, secret)
    user_id = users.provider_a.id
    migrate_to_before_0010()
    assert raw_secret(user_id) == secret
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(RecoveryCode.__table__)).scalar() == 0
    migrate_to_head()
    assert twofactor.check(fresh(user_id), code(secret)) == "totp"
