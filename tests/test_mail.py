"""The one mail transport: SMTP when MAIL_SERVER is set (a real aiosmtpd server on loopback
here), otherwise .eml files under instance/."""
import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from monitor import mail
from monitor.accounts import invitation
from monitor.extensions import db
from tests.conftest import make_user, read_outbox


class Recorder(Sink):
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield recorder
    controller.stop()


def test_invitation_goes_through_smtp_when_configured(app, smtp_server):
    patient = make_user("patient", "nia@example.test", first_name="Nia", password=False)
    mail.deliver(invitation(patient))  # as the views do: store, then send
    db.session.commit()
    [(sender, recipients, msg)] = smtp_server.messages
    assert sender == "no-reply@clinic.test"
    assert recipients == ["nia@example.test"]
    assert msg["Subject"] == "Set up your account"
    assert msg.get_body(preferencelist=("plain",)) is not None
    assert msg.get_body(preferencelist=("html",)) is not None
    assert read_outbox(app) == []  # not also written to a file


def test_without_mail_server_messages_are_eml_files_and_logged(app, caplog):
    patient = make_user("patient", "nia@example.test", first_name="Nia", password=False)
    with caplog.at_level("INFO", logger="monitor.mail"):
        mail.deliver(invitation(patient))  # as the views do: store, then send
        db.session.commit()
    [msg] = read_outbox(app)
    assert msg["To"] == "nia@example.test"
    assert "mail written to" in caplog.text
    assert "nia@example.test" not in caplog.text  # the log names the file, not the recipient


def test_an_unreachable_smtp_server_raises_for_the_caller_to_handle(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    msg = mail.build_message("x@example.test", "Subject", "text")
    with pytest.raises(OSError):
        mail.deliver(msg)
