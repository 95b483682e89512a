"""The one mail transport: SMTP when MAIL_SERVER is set (a real aiosmtpd server on loopback
here, the shared one in tests/smtp.py), otherwise .eml files under instance/."""
import pytest

from monitor import mail, outbox
from monitor.extensions import db
from tests.factories import add_patient, deliver_mail, read_outbox


def test_invitation_goes_through_smtp_when_configured(app, smtp):
    patient = add_patient("nia@example.test", first_name="Nia", password=False)
    outbox.queue_invitation(patient)
    db.session.commit()
    deliver_mail()
    [msg] = smtp.messages
    assert smtp.senders == ["no-reply@clinic.test"]
    assert smtp.recipients == ["nia@example.test"]
    assert msg["Subject"] == "Set up your account"
    assert msg.get_body(preferencelist=("plain",)) is not None
    assert msg.get_body(preferencelist=("html",)) is not None
    assert read_outbox(app) == []  # not also written to a file


def test_without_mail_server_messages_are_eml_files_and_logged(app, caplog):
    patient = add_patient("nia@example.test", first_name="Nia", password=False)
    with caplog.at_level("INFO", logger="monitor.mail"):
        outbox.queue_invitation(patient)
        db.session.commit()
        deliver_mail()
    [msg] = read_outbox(app)
    assert msg["To"] == "nia@example.test"
    assert "mail written to" in caplog.text
    assert "nia@example.test" not in caplog.text  # the log names the file, not the recipient


def test_an_unreachable_smtp_server_raises_for_the_caller_to_handle(app, smtp_down):
    msg = mail.build_message("x@example.test", "Subject", "text")
    with pytest.raises(OSError):
        mail.deliver(msg)
