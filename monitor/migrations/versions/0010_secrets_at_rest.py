"""second-factor secrets encrypted, recovery codes as keyed hashes

Revision ID: 0010_secrets_at_rest
Revises: 0009_web_sessions
Create Date: 2026-12-02

users.totp_secret held the base32 secret in clear: it becomes a Fernet token (a longer column).
recovery_codes.code_hash held sha256(code): it becomes HMAC-SHA256(key, sha256(code)) in hex,
which is computed here from what is stored, without the codes.

The keys are derived from the app's SECRET_KEY (Flask-Migrate runs migrations inside the app,
so its config is at hand) exactly as monitor/crypto.py derives them; they are written out here,
not imported, so that this migration keeps doing what it did whatever crypto.py becomes.
Secrets are encrypted under SECRET_KEY, and decrypted (downgrade) under it or any of
SECRET_KEY_FALLBACKS.

Downgrade decrypts the secrets. Keyed hashes cannot be turned back into plain SHA-256 ones, so
the recovery codes are deleted: each account keeps its authenticator and makes new codes.
"""
import base64
import hashlib
import hmac
import re

from alembic import op
import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0010_secrets_at_rest'
down_revision = '0009_web_sessions'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('id', sa.Integer), sa.column('totp_secret', sa.String))
recovery_codes = sa.table('recovery_codes', sa.column('id', sa.Integer), sa.column('code_hash', sa.String))

PLAIN_SECRET = re.compile(r"[A-Z2-7]+=*")  # base32; a Fernet token always has lower case


def _secrets() -> list[bytes]:
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, (str, bytes)):
        fallbacks = [fallbacks]
    return [k.encode() if isinstance(k, str) else bytes(k) for k in [config["SECRET_KEY"], *fallbacks] if k]


def _key(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"monitor/{purpose}".encode()).derive(secret)


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_key(s, "at-rest"))) for s in _secrets()])


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)
    conn = op.get_bind()
    fernet = _fernet()
    for user_id, secret in conn.execute(sa.select(users.c.id, users.c.totp_secret)
                                        .where(users.c.totp_secret.is_not(None))).all():
        if PLAIN_SECRET.fullmatch(secret):
            conn.execute(users.update().where(users.c.id == user_id)
                         .values(totp_secret=fernet.encrypt(secret.encode()).decode("ascii")))
    key = _key(_secrets()[0], "recovery-code")
    for code_id, code_hash in conn.execute(sa.select(recovery_codes.c.id, recovery_codes.c.code_hash)).all():
        keyed = hmac.new(key, code_hash.encode(), hashlib.sha256).hexdigest()
        conn.execute(recovery_codes.update().where(recovery_codes.c.id == code_id).values(code_hash=keyed))


def downgrade():
    conn = op.get_bind()
    fernet = _fernet()  # InvalidToken here: a secret made under a key no longer configured
    for user_id, secret in conn.execute(sa.select(users.c.id, users.c.totp_secret)
                                        .where(users.c.totp_secret.is_not(None))).all():
        if not PLAIN_SECRET.fullmatch(secret):
            conn.execute(users.update().where(users.c.id == user_id)
                         .values(totp_secret=fernet.decrypt(secret).decode()))
    conn.execute(recovery_codes.delete())
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
