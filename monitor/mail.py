"""The one mail transport: SMTP when MAIL_SERVER is set, otherwise .eml files under instance/mail.
Only the runner sends (outbox.py, nudges.py): a request queues its emails in the outbox.

Every email is a template triple under templates/email/: NAME.subject.txt, NAME.txt, NAME.html."""
import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app, render_template

from . import private_files

log = logging.getLogger(__name__)


def build_message(to: str, subject: str, text: str, html: str | None = None,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="monitor.local")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def render_message(template: str, to: str, headers: dict[str, str] | None = None, **context) -> EmailMessage:
    subject = render_template(f"email/{template}.subject.txt", **context).strip()
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)
    return build_message(to, subject, text, html, headers)


def deliver(msg: EmailMessage) -> None:
    """Send through the configured transport; raises on failure so callers can retry."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        _send_smtp(msg, config)
    else:
        _write_eml(msg, Path(config["MAIL_FILE_DIR"]))


def _send_smtp(msg: EmailMessage, config) -> None:
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(msg)
    # Log the message id only: subjects and recipients can be health information.
    log.info("mail sent via SMTP: %s", msg["Message-ID"])


def _write_eml(msg: EmailMessage, directory: Path) -> None:
    private_files.private_folder(directory)  # 0700, and 0600 below: emails hold sign-in links
    path = directory / f"{uuid.uuid4().hex}.eml"
    private_files.write_private_file(path, bytes(msg))
    log.info("mail written to %s", path)
