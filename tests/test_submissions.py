"""One submission-key rule for every form that creates a record (monitor/submissions.py), and
the check-in and treatment forms both follow it."""
import pytest

from monitor import submissions
from monitor.extensions import db
from monitor.models import CheckIn, Treatment
from tests.factories import form_key, login


def test_a_new_key_is_random_and_short_enough_to_store():
    keys = {submissions.new_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(0 < len(k) <= submissions.MAX_LENGTH for k in keys)


UUID = "3f2b8c1e-9a4d-4c6b-8e2f-1a2b3c4d5e6f"


@pytest.mark.parametrize("sent, saved", [
    ("a" * 22, "a" * 22),          # the server's own shape
    ("Ab-_" * 5 + "xy", "Ab-_" * 5 + "xy"),
    (UUID, UUID),                  # a phone's own key (crypto.randomUUID)
    (UUID.upper(), None),          # not as crypto.randomUUID writes it
    (UUID.replace("-4c6b-", "-1c6b-"), None),  # not version 4
    ("a" * 21, None),
    ("a" * 23, None),
    ("a" * 21 + "!", None),
    ("x" * 65, None),
    ("", None),
    (None, None),
])
def test_only_the_servers_key_shape_or_a_uuid_is_accepted(sent, saved):
    """Anything else is saved without the guard, as before: the answers matter more."""
    assert submissions.accepted(sent) == saved


def test_a_form_shown_again_keeps_a_usable_key_and_renews_any_other():
    assert submissions.for_redisplay(UUID) == UUID
    for unusable in ("", None, "x" * 65, "k-1"):
        renewed = submissions.for_redisplay(unusable)
        assert renewed != unusable and submissions.accepted(renewed) == renewed


CHECKIN = {"local_date": "2026-11-26", **{f"q{n}": "1" for n in range(1, 8)}}
TREATMENT = {"administered_at": "2026-11-20T10:00", "route": "lozenge", "dose_mg": "50"}


@pytest.mark.parametrize("who, url, form, model", [
    ("patient_a", "/checkin", CHECKIN, CheckIn),
    ("provider_a", "/patients/{id}/treatments/new", TREATMENT, Treatment),
])
def test_both_forms_store_a_double_submission_once_and_renew_an_empty_key(client, users, who, url, form, model):
    login(client, getattr(users, who))
    url = url.format(id=users.patient_a.id)
    for _ in range(2):
        assert client.post(url, data={**form, "submission_key": form_key("same-key")}).status_code in (302, 303)
    rows = db.session.query(model).filter_by(patient_id=users.patient_a.id).all()
    assert len(rows) == 1 and rows[0].submission_key == form_key("same-key")
    # A refused form with an empty key comes back with a fresh one.
    page = client.post(url, data={"submission_key": ""}).get_data(as_text=True)
    assert 'name="submission_key" type="hidden" value=""' not in page
    assert 'name="submission_key" type="hidden" value="' in page
