"""Keys derived from SECRET_KEY, one per purpose: encryption of what the database keeps secret
(Fernet: AES-128-CBC with HMAC-SHA256, authenticated) and keyed hashes (HMAC-SHA256).

Each purpose gets its own key, derived with HKDF (RFC 5869) from SECRET_KEY and a purpose string,
so a value made for one use is meaningless for another, and SECRET_KEY itself, which also signs
the session cookie, is never used directly as a key.

Rotation (Flask 3.1's SECRET_KEY_FALLBACKS, a list of earlier keys): values are made with the
current key and accepted under any of them; `flask --app monitor rotate-secrets` re-encrypts
what is stored under the current key (the procedure: /work/notes/security_atrest.md, SECURITY.md).
Keyed hashes cannot be re-keyed without what they hash, which is the point of them: those made
under an earlier key verify only while it stays a fallback.

No database here: values in, values out, inside an app context (the keys come from its config).
"""
import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

# Purposes. Changing one of these strings changes its key: everything made with it is lost.
AT_REST = "at-rest"  # secrets stored in the database (users.totp_secret)


class CannotDecrypt(Exception):
    """Not a value this app encrypted for this purpose under SECRET_KEY or a fallback: altered,
    made for another purpose, or made under a key that is no longer configured."""


def _secrets() -> list[bytes]:
    """The current SECRET_KEY first, then each of SECRET_KEY_FALLBACKS (a list, as Flask wants)."""
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, (str, bytes)):  # one key, not a sequence of one-character keys
        fallbacks = [fallbacks]
    keys = [config["SECRET_KEY"], *fallbacks]
    return [k.encode() if isinstance(k, str) else bytes(k) for k in keys if k]


@lru_cache(maxsize=32)
def derive_key(secret: bytes, purpose: str) -> bytes:
    """32 bytes for this purpose from one SECRET_KEY (HKDF-SHA256, the purpose as its info)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"monitor/{purpose}".encode()).derive(secret)


def _fernet(purpose: str) -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derive_key(s, purpose))) for s in _secrets()])


def encrypt(text: str, purpose: str = AT_REST) -> str:
    """An opaque, URL-safe token holding `text`, under the current key. Each call differs (a
    random IV), so equal values cannot be spotted in the database."""
    return _fernet(purpose).encrypt(text.encode()).decode("ascii")


def decrypt(token: str, purpose: str = AT_REST) -> str:
    """What `encrypt` was given, if `token` was made for this purpose under SECRET_KEY or one of
    SECRET_KEY_FALLBACKS; else CannotDecrypt."""
    try:
        return _fernet(purpose).decrypt(token).decode()
    except (InvalidToken, ValueError, TypeError):  # ValueError: not ASCII; TypeError: not text
        raise CannotDecrypt from None


def is_current(token: str, purpose: str = AT_REST) -> bool:
    """Whether `token` decrypts under the current SECRET_KEY itself (no rotation needed)."""
    try:
        Fernet(base64.urlsafe_b64encode(derive_key(_secrets()[0], purpose))).decrypt(token)
    except (InvalidToken, ValueError, TypeError):
        return False
    return True


def reencrypt(token: str, purpose: str = AT_REST) -> str:
    """The same value encrypted under the current key (CannotDecrypt as `decrypt`)."""
    try:
        return _fernet(purpose).rotate(token).decode("ascii")
    except (InvalidToken, ValueError, TypeError):
        raise CannotDecrypt from None


def keyed_hash(text: str, purpose: str) -> str:
    """HMAC-SHA256 of `text` under the current key for this purpose, as 64 hex digits: without
    the key it can be neither computed nor brute-forced from a copy of the database."""
    return _keyed_hash(_secrets()[0], text, purpose)


def keyed_hashes(text: str, purpose: str) -> list[str]:
    """`keyed_hash` under the current key and each fallback: what a stored hash may equal."""
    return [_keyed_hash(s, text, purpose) for s in _secrets()]


def _keyed_hash(secret: bytes, text: str, purpose: str) -> str:
    return hmac.new(derive_key(secret, purpose), text.encode(), hashlib.sha256).hexdigest()
