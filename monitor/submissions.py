"""Submission keys: the one rule that keeps a form sent twice (a double tap, a retry on a bad
connection, a check-in queued on a phone and sent again when the signal returns) from being
stored twice.

Each form shown gets a fresh random key in a hidden field. With JavaScript on, the check-in
page makes its own key for each check-in the patient sends (a UUID): one page can queue several
check-ins while offline, and each must count once however often the phone retries it. Saving a
check-in or a treatment with a key already stored for that patient changes nothing
(checkins.save_checkin, treatments.record_treatment); a key already stored with other answers
is refused rather than taken as a repeat (checkins.save_checkin). The key is only a guard
against repeats, never a secret or an authority: a key replayed from another patient's form
blocks nothing.

Only two shapes are accepted: the server's own (new_key) and a lowercase UUID of version 4 as
`crypto.randomUUID()` makes it. Anything else is saved without the guard, not refused: the
patient's answers matter more than the guard."""
import re
import secrets

MAX_LENGTH = 64  # CheckIn.submission_key and Treatment.submission_key

# secrets.token_urlsafe(16): 22 characters of the URL-safe base64 alphabet.
SERVER_KEY = re.compile(r"[A-Za-z0-9_-]{22}")
CLIENT_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def new_key() -> str:
    return secrets.token_urlsafe(16)


def accepted(sent: str | None) -> str | None:
    """The key to save with, from what the form sent: None when it sent none or one of neither
    accepted shape (a tampered form is saved without the guard, not refused)."""
    if sent and (SERVER_KEY.fullmatch(sent) or CLIENT_KEY.fullmatch(sent)):
        return sent
    return None


def for_redisplay(sent: str | None) -> str:
    """The key a form shown again (with errors) carries: the one sent, so a retry of the
    corrected form still counts once, or a fresh one when that is unusable."""
    return accepted(sent) or new_key()
