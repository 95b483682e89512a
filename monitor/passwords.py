"""Passwords: hashing with argon2id, and the rule for a new one. argon2-cffi's defaults (RFC 9106's
low-memory profile: t=3, m=64 MiB, p=4) are above OWASP's minimum (t=2, m=19 MiB, p=1). A new
password is judged by zxcvbn's estimate of how hard it is to guess (password_problem)."""
import gzip
import re
import threading
from functools import cache, lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

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


# --- How hard a new password is to guess ------------------------------------------------------

# zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more, which an online attacker
# (slowed by the sign-in limits) and an offline one against argon2id cannot reach in practice.
MIN_SCORE = 3
# zxcvbn's time grows with the input, and explodes with many distinct l33t characters
# ("4@8({[<3..."): about 1 s for 32 such characters here, 4 s for 64. Only the start of a long
# password is judged (anything longer is still accepted up to MAX_LENGTH and hashed whole):
# a password must be strong within its first EVALUATED_LENGTH characters.
EVALUATED_LENGTH = 32
# zxcvbn keeps the words about the user in a module-level dictionary that each call replaces;
# two threads (gunicorn --threads, the demo server) must not see each other's.
_zxcvbn_lock = threading.Lock()
TOO_EASY = "Too easy to guess: "
TRY_INSTEAD = "Try a few unrelated words."
KNOWN_WORDS = "it is built on your name, your email address or the clinic's name, which attackers try first."
# zxcvbn's warnings (its English, pinned below 5) in plain words.
PLAIN_WARNINGS = {
    "This is a top-10 common password.": "this is a common password.",
    "This is a top-100 common password.": "this is a common password.",
    "This is a very common password.": "this is a common password.",
    "This is similar to a commonly used password.": "this is a common password with small changes.",
    "A word by itself is easy to guess.": "a single word is among the first things tried.",
    "Names and surnames by themselves are easy to guess.": "names are among the first things tried.",
    "Common names and surnames are easy to guess.": "names are among the first things tried.",
    "Straight rows of keys are easy to guess.": "it is a row of keys on the keyboard.",
    "Short keyboard patterns are easy to guess.": "it is a pattern of keys on the keyboard.",
    'Repeats like "aaa" are easy to guess.': "it repeats the same character.",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': "it repeats the same part.",
    'Sequences like "abc" or "6543" are easy to guess.': "it is a sequence, like abc or 6543.",
    "Recent years are easy to guess.": "it leans on a year.",
    "Dates are often easy to guess.": "it leans on a date.",
}
_SEPARATORS = re.compile(r"[^0-9a-z]+")
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt.gz"


@cache
def common_passwords() -> frozenset[str]:
    """A list of leaked passwords (data/NOTICE.md), kept beside zxcvbn: zxcvbn accepts 56 of its
    190 entries of 12 characters or more ("ichliebedich", "1q2w3e4r5t6y7u8i9o")."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def known_words(first_name: str = "", last_name: str = "", email: str = "", clinic_name: str = "") -> tuple[str, ...]:
    """What an attacker aiming at this account knows: the names, the email address, its local
    part and its domain's first label, the clinic's name; each whole, joined up and in parts.
    Lowercase, at least 3 characters (shorter ones would be taken out of too many passwords)."""
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    words = [email]
    for value in (first_name, last_name, local, domain.split(".")[0], clinic_name):
        value = (value or "").strip().lower()
        parts = [p for p in _SEPARATORS.split(value) if p]
        words += [value, "".join(parts), *parts]
    return tuple(dict.fromkeys(w for w in words if len(w) >= 3))


def _without(password: str, words: tuple[str, ...]) -> str:
    """The password with every known word taken out (case aside), longest words first."""
    rest = password
    for word in sorted(words, key=len, reverse=True):
        rest = re.sub(re.escape(word), "", rest, flags=re.IGNORECASE)
    return rest


def _estimate(password: str, words: tuple[str, ...]) -> dict:
    with _zxcvbn_lock:
        return zxcvbn(password[:EVALUATED_LENGTH], user_inputs=list(words), max_length=EVALUATED_LENGTH)


def _advice(result: dict) -> str:
    warning = result["feedback"]["warning"]
    return TOO_EASY + PLAIN_WARNINGS.get(warning, "it could be worked out quickly.") + " " + TRY_INSTEAD


def password_problem(password: str, known: tuple[str, ...] = ()) -> str | None:
    """A message naming what is wrong with a new password, or None when it is acceptable.
    No composition rules (ASVS V6): a length, not a leaked password, and zxcvbn's estimate of how
    hard it is to guess, knowing the `known` words (known_words()), which count for nothing."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Password must be at most {MAX_LENGTH} characters."
    if not password.strip():
        return "Password cannot be only spaces."
    rest = _without(password, known)
    if rest != password:
        # "Sunrise Clinic2026!!" scores 3 whole: the clinic's name counts as a word; the
        # attacker knows it, so what is left ("2026!!") must be strong by itself.
        if not rest.strip() or _estimate(rest, known)["score"] < MIN_SCORE:
            return TOO_EASY + KNOWN_WORDS + " " + TRY_INSTEAD
    else:
        result = _estimate(password, known)
        if result["score"] < MIN_SCORE:
            return _advice(result)
    if password.strip().lower() in common_passwords():
        return TOO_EASY + "this is a common password. " + TRY_INSTEAD
    return None
