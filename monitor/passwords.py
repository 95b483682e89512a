"""Password hashing with argon2id. argon2-cffi's defaults (RFC 9106's low-memory profile:
t=3, m=64 MiB, p=4) are above OWASP's minimum (t=2, m=19 MiB, p=1)."""
import gzip
from functools import cache, lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

DEFAULT_HASHER = PasswordHasher()
_hasher = DEFAULT_HASHER

MIN_LENGTH = 12
MAX_LENGTH = 128


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the hasher (the test suite uses argon2's CHEAPEST profile to stay fast)."""
    global _hasher
    _hasher = hasher


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verified against when the account does not exist, so both paths cost the same time.
    return hasher.hash("not a real password, only for timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(_hasher), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt.gz"


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def password_problem(password: str) -> str | None:
    """A message naming what is wrong with a new password, or None when it is acceptable.
    No composition rules (ASVS V6): length, and not one of the most common passwords."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Password must be at most {MAX_LENGTH} characters."
    if not password.strip():
        return "Password cannot be only spaces."
    if password.strip().lower() in common_passwords():
        return "That password is too common: it is among the first guesses attackers try. Choose another."
    return None
