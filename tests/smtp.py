"""A real SMTP server on loopback (aiosmtpd) for tests that check what the app sends.
The `smtp` and `smtp_down` fixtures in conftest.py start one per test."""
import asyncio
import email
import email.policy

from aiosmtpd.controller import Controller

from tests.factories import free_port


class Recorder:
    """Accepts every message (or refuses them all when `refuse` is set) and keeps what came:
    (envelope sender, envelope recipients, message)."""

    def __init__(self):
        self.messages = []
        self.data_attempts = 0
        self.refuse = False
        self.delay = 0.0  # seconds the server takes over each message, as a slow relay does

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse:
            return "554 Transaction failed"
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"

    @property
    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts, _ in self.messages for rcpt in rcpts]


class SMTPServer:
    def __init__(self, app, port=None):
        self.app = app
        self.port = port or free_port()
        self.recorder = Recorder()
        self.controller = None
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=self.port, MAIL_TIMEOUT=5)

    def start(self):
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return [msg for _, _, msg in self.recorder.messages]

    @property
    def senders(self):
        """The envelope sender (MAIL FROM) of each message, in order."""
        return [sender for sender, _, _ in self.recorder.messages]

    @property
    def recipients(self):
        return self.recorder.recipients
