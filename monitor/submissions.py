"""Submission keys: the one rule that keeps a form sent twice (a double tap, a retry on a bad
connection) from being stored twice.

Each form shown gets a fresh random key in a hidden field. Saving a check-in or a treatment
with a key already stored for that patient changes nothing (checkins.save_checkin,
treatments.record_treatment). The key is only a guard against repeats, never a secret or an
authority: a key replayed from another patient's form blocks nothing."""
import secrets

MAX_LENGTH = 64  # CheckIn.submission_key and Treatment.submission_key


def new_key() -> str:
    return secrets.token_urlsafe(16)


def accepted(sent: str | None) -> str | None:
    """The key to save with, from what the form sent: None when it sent none or one longer
    than any key this app issues (a tampered form is saved without the guard, not refused)."""
    return sent if sent and len(sent) <= MAX_LENGTH else None


def for_redisplay(sent: str | None) -> str:
    """The key a form shown again (with errors) carries: the one sent, so a retry of the
    corrected form still counts once, or a fresh one when that is unusable."""
    return accepted(sent) or new_key()
