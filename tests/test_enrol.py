"""Enrolling a patient by email, and resending the invitation."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import User
from tests.factories import NOW, add_patient, deliver_mail, events, login, message_text, outbox_rows, read_outbox

NEW_PASSWORD = "a long enough new password"


def enrol(client, **fields):
    data = {"email": "carol@example.test", "first_name": "Carol", "last_name": "Cole",
            "timezone": "America/Chicago", **fields}
    return client.post("/patients/new", data=data)


def patient_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.role == "patient"))


def invitation_path(msg) -> str:
    link = re.search(r"https?://\S+", message_text(msg)).group(0)
    return urlsplit(link).path


def test_form_defaults_to_the_clinic_time_zone(client, users):
    clinic = get_clinic()
    clinic.timezone = "America/Denver"
    db.session.commit()
    login(client, users.provider_a)
    page = client.get("/patients/new").get_data(as_text=True)
    assert '<option selected value="America/Denver">' in page or '<option value="America/Denver" selected>' in page


def test_provider_form_has_no_provider_choice(client, users):
    login(client, users.provider_a)
    page = client.get("/patients/new").get_data(as_text=True)
    assert 'name="providers"' not in page


def test_provider_enrols_a_patient_on_their_own_panel(client, users):
    login(client, users.provider_a)
    response = enrol(client, email="  Carol@Example.TEST ")
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    assert patient is not None
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/patients/{patient.id}")
    assert patient.role == "patient"
    assert patient.password_hash is None
    assert (patient.first_name, patient.last_name, patient.timezone) == ("Carol", "Cole", "America/Chicago")
    assert [p.id for p in patient.providers] == [users.provider_a.id]
    assert b"Cole, Carol" in client.get("/patients").data


def test_provider_cannot_put_the_patient_on_someone_elses_panel(client, users):
    login(client, users.provider_a)
    enrol(client, providers=[str(users.provider_b.id)])
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    assert [p.id for p in patient.providers] == [users.provider_a.id]


def test_enrolment_is_audited(client, users):
    login(client, users.provider_a)
    enrol(client)
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    [event] = events("patient.enrolled")
    assert event.actor_id == users.provider_a.id
    assert (event.target_type, event.target_id) == ("patient", patient.id)


def test_enrolment_emails_a_single_use_invitation_that_works(app, client, users):
    login(client, users.provider_a)
    page = client.get(enrol(client).headers["Location"]).get_data(as_text=True)
    assert "is queued for sending" in page  # not "emailed": it leaves with the runner
    assert read_outbox(app) == []
    deliver_mail()
    [msg] = read_outbox(app)
    assert msg["To"] == "carol@example.test"
    assert msg["Subject"] == "Set up your account"
    path = invitation_path(msg)

    client.post("/logout")
    assert client.get(path).status_code == 200
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/me").status_code == 200  # signed in as the new patient

    client.post("/logout")
    assert client.get(path).status_code == 404
    assert client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 404


def test_email_already_registered_is_refused_and_nothing_is_stored(app, client, users):
    login(client, users.provider_a)
    before = patient_count()
    response = enrol(client, email="ALICE@example.test")
    assert response.status_code == 400
    assert "That email address already has an account." in response.get_data(as_text=True)
    assert patient_count() == before
    deliver_mail()
    assert read_outbox(app) == []
    assert users.patient_a.first_name == "Alice"


def test_email_already_registered_is_reported_alongside_other_problems(client, users):
    login(client, users.provider_a)
    response = enrol(client, email="alice@example.test", first_name="")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "That email address already has an account." in page
    assert "Enter the patient&#39;s first name." in page


def test_enrolment_does_not_wait_on_the_mail_server_and_the_runner_retries(app, client, users, smtp_down):
    login(client, users.provider_a)
    response = enrol(client)
    assert response.status_code == 303
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    assert patient is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is queued for sending" in page
    assert "Resend invitation" in page
    [row] = outbox_rows()
    assert (row.kind, row.user_id, row.status) == ("invitation", patient.id, "pending")

    assert deliver_mail().mail.failed == 1  # the server is down: tried, kept for later
    smtp_down.start()
    deliver_mail(NOW + timedelta(minutes=2))
    assert smtp_down.recipients == ["carol@example.test"]
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.message) == ("sent", 2, None)


def test_staff_email_is_also_refused(client, users):
    login(client, users.provider_a)
    response = enrol(client, email="pb@clinic.test")
    assert response.status_code == 400
    assert "That email address already has an account." in response.get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"email": ""}, "Enter the patient&#39;s email address."),
    ({"email": "not-an-email"}, "Enter an email address like name@example.com."),
    ({"first_name": ""}, "Enter the patient&#39;s first name."),
    ({"last_name": ""}, "Enter the patient&#39;s last name."),
    ({"first_name": "x" * 81}, "The first name must be at most 80 characters."),
    ({"timezone": "Mars/Olympus_Mons"}, "Choose a time zone from the list."),
])
def test_invalid_enrolment_is_refused(app, client, users, fields, message):
    login(client, users.provider_a)
    before = patient_count()
    response = enrol(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert patient_count() == before
    deliver_mail()
    assert read_outbox(app) == []


def test_admin_must_choose_a_provider(app, client, users):
    login(client, users.admin)
    before = patient_count()
    response = enrol(client)
    assert response.status_code == 400
    assert "Choose at least one provider." in response.get_data(as_text=True)
    assert patient_count() == before
    deliver_mail()
    assert read_outbox(app) == []


def test_admin_cannot_choose_a_non_provider(client, users):
    login(client, users.admin)
    response = enrol(client, providers=[str(users.patient_b.id)])
    assert response.status_code == 400
    assert "Choose providers from the list." in response.get_data(as_text=True)


def test_admin_enrols_a_patient_for_chosen_providers(app, client, users):
    login(client, users.admin)
    page = client.get("/patients/new").get_data(as_text=True)
    assert f'value="{users.provider_a.id}"' in page and f'value="{users.provider_b.id}"' in page
    response = enrol(client, providers=[str(users.provider_a.id), str(users.provider_b.id)])
    assert response.status_code == 303
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    assert sorted(p.id for p in patient.providers) == sorted([users.provider_a.id, users.provider_b.id])
    deliver_mail()
    assert len(read_outbox(app)) == 1


def test_patient_gets_404_for_enrolment(client, users):
    login(client, users.patient_a)
    assert client.get("/patients/new").status_code == 404
    before = patient_count()
    assert enrol(client).status_code == 404
    assert patient_count() == before


# --- Resending the invitation.

def test_resend_sends_a_new_link_and_the_old_one_stops_working(app, client, users):
    login(client, users.provider_a)
    enrol(client)
    deliver_mail()
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Resend invitation" in page

    response = client.post(f"/patients/{patient.id}/invite")
    assert response.status_code == 303
    assert "is queued for sending" in client.get(response.headers["Location"]).get_data(as_text=True)
    deliver_mail()
    first, second = read_outbox(app)
    assert second["To"] == "carol@example.test"
    assert any(e.target_id == patient.id for e in events("patient.invitation_resent"))

    client.post("/logout")
    assert client.get(invitation_path(first)).status_code == 404
    assert client.get(invitation_path(second)).status_code == 200


def test_a_resend_before_the_first_invitation_left_sends_only_the_new_link(app, client, users):
    login(client, users.provider_a)
    enrol(client)
    patient = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    client.post(f"/patients/{patient.id}/invite")
    deliver_mail()
    [msg] = read_outbox(app)
    assert [(r.status, r.message) for r in outbox_rows()] == [("skipped", None), ("sent", None)]
    client.post("/logout")
    assert client.get(invitation_path(msg)).status_code == 200


def test_no_resend_once_the_patient_has_a_password(app, client, users):
    login(client, users.provider_a)
    response = client.post(f"/patients/{users.patient_a.id}/invite")
    assert response.status_code == 303
    deliver_mail()
    assert read_outbox(app) == []
    assert "Resend invitation" not in client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)


def test_no_resend_for_a_patient_outside_the_panel(app, client, users):
    pending = add_patient("pending@example.test", password=False, providers=[users.provider_b])
    login(client, users.provider_a)
    assert client.post(f"/patients/{pending.id}/invite").status_code == 404
    deliver_mail()
    assert read_outbox(app) == []
