"""One submission-key rule for every form that creates a record (monitor/submissions.py), and
the check-in and treatment forms both follow it."""
import pytest

from monitor import submissions
from monitor.extensions import db
from monitor.models import CheckIn, Treatment
from tests.factories import login


def test_a_new_key_is_random_and_short_enough_to_store():
    keys = {submissions.new_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(0 < len(k) <= submissions.MAX_LENGTH for k in keys)


@pytest.mark.parametrize("sent, saved", [
    ("k-1", "k-1"),
    ("x" * 64, "x" * 64),
    ("x" * 65, None),   # longer than any key this app issues: saved without the guard
    ("", None),
    (None, None),
])
def test_the_key_saved_is_the_one_sent_when_usable(sent, saved):
    assert submissions.accepted(sent) == saved


def test_a_form_shown_again_keeps_a_usable_key_and_renews_any_other():
    assert submissions.for_redisplay("k-1") == "k-1"
    for unusable in ("", None, "x" * 65):
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
        assert client.post(url, data={**form, "submission_key": "same-key"}).status_code in (302, 303)
    rows = db.session.query(model).filter_by(patient_id=users.patient_a.id).all()
    assert len(rows) == 1 and rows[0].submission_key == "same-key"
    # A refused form with an empty key comes back with a fresh one.
    page = client.post(url, data={"submission_key": ""}).get_data(as_text=True)
    assert 'name="submission_key" type="hidden" value=""' not in page
    assert 'name="submission_key" type="hidden" value="' in page
