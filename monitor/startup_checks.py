"""Settings that must agree on every machine of a real install, checked before it serves or
runs a command: the app refuses to start without them rather than quietly going its own way.

- SECRET_KEY set (the environment or instance/config.py). Generating one per machine, as a
  developer's checkout does, would give each replica its own: a session signed on one would be
  refused by the next, and what one encrypted (monitor/crypto.py) the others could not read.
- BASE_URL an https:// address: the links in emails, and the origin a form must come from.
- SESSION_COOKIE_SECURE on: a sign-in cookie never crosses the network in the clear.

MONITOR_DEV=1 says "a developer's machine" and lifts the three (with a warning), the key then
coming from instance/secret_key, generated on first use. The tests (create_app(test_config))
are not checked, and neither is `flask --app monitor demo`, which sets what it needs itself.

When the check runs. gunicorn, any WSGI server and `flask run` / `flask db upgrade` (whose app
is loaded inside the command) call create_app when they are about to serve or to act: the check
raises there and then. For the app's own commands (`create-user`, `send-nudges`, `demo` ...)
Flask calls create_app before it knows which command was asked for, to find it among the app's;
only then can the demo be told apart. So in that one case the check is deferred to the command
chosen: every app command but the demo is handed back as one that refuses (its --help still
works), and the demo runs as it is. Nothing that uses the settings runs before the refusal."""
import copy
import logging
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from . import config

log = logging.getLogger(__name__)

# The app's commands that run without the check: the README's one-line start on a new machine.
UNCHECKED_COMMANDS = {"demo"}
HOW_TO_LIFT = ("On a developer's own machine (never a real install), MONITOR_DEV=1 lifts these checks; "
               "`flask --app monitor demo` needs none of this.")


class UnsafeConfiguration(click.ClickException):
    """A click error, so that every `flask` command prints the message and exits with status 1
    without a traceback; gunicorn shows it as the worker's error and does not start."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"refusing to start: this configuration is not safe to serve real patients.\n{lines}\n"
                         f"{HOW_TO_LIFT}")


def problems(app_config, instance_path: str) -> list[str]:
    """What is wrong with these settings for a real install, each with how to put it right."""
    found = []
    if not app_config.get("SECRET_KEY"):
        found.append(_missing_secret_key(instance_path))
    base_url = app_config.get("BASE_URL")
    if not base_url:
        found.append("BASE_URL is not set. Set it to the https:// address people open, e.g. "
                     "BASE_URL=https://monitor.clinic.example (the links in emails are built on it).")
    elif urlsplit(base_url).scheme.lower() != "https" or not urlsplit(base_url).hostname:
        found.append(f"BASE_URL is {base_url!r}, not an https:// address. Set it to the address people open, "
                     "e.g. BASE_URL=https://monitor.clinic.example, and serve the app behind TLS.")
    if not app_config.get("SESSION_COOKIE_SECURE"):
        found.append("SESSION_COOKIE_SECURE is off, so sign-in cookies would also be sent over plain http. "
                     "Remove SESSION_COOKIE_SECURE=0 from the environment (and instance/config.py).")
    return found


def _missing_secret_key(instance_path: str) -> str:
    message = ("SECRET_KEY is not set. Every machine of an install needs the same one: generate it once "
               "(python3 -c 'import secrets; print(secrets.token_hex(32))'), keep it with the other "
               "secrets, and give it to each machine as SECRET_KEY.")
    if config.instance_secret_key_path(instance_path).exists():
        # Sessions, stored second-factor secrets and unsubscribe links were made under that key:
        # a new one would sign everyone out and lock every authenticator out.
        message += (f" This machine has a key in {config.instance_secret_key_path(instance_path)}, made by an "
                    f"earlier release or by the demo: if this install's data was made under it, use its "
                    f"contents as SECRET_KEY.")
    return message


def check_at_start(app: Flask) -> None:
    """From create_app, for a real install (not the tests): refuse now, defer to the command
    (see the module docstring), or, with MONITOR_DEV=1, warn and carry on."""
    found = problems(app.config, app.instance_path)
    if app.config["MONITOR_DEV"]:
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = config.load_or_create_secret_key(app.instance_path)
        if not app.config.get("BASE_URL"):
            app.config["BASE_URL"] = config.DEV_BASE_URL
        for problem in found:
            log.warning("MONITOR_DEV=1 (a developer's machine): %s", problem.split(". ")[0])
        return
    if not found:
        return
    context = click.get_current_context(silent=True)
    if context is not None and isinstance(context.command, FlaskGroup):
        # Flask's `flask` group loading the app to look up one of its commands. Called before
        # any command is registered, so that every one is registered on the refusing group.
        refusing = RefusingCommands(app.cli.name, found)
        refusing.commands.update(app.cli.commands)
        app.cli = refusing
        return
    raise UnsafeConfiguration(found)


class RefusingCommands(AppGroup):
    """The app's commands as Flask's `flask` group finds them under an unsafe configuration:
    the demo as it is, every other one in a copy that refuses when run."""

    def __init__(self, name: str | None, found: list[str]):
        super().__init__(name)
        self.found = found

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None or name in UNCHECKED_COMMANDS:
            return command
        refusing = copy.copy(command)  # the shared command object itself stays as it was
        refusing.callback = self._refuse
        return refusing

    def _refuse(self, *args, **kwargs):
        raise UnsafeConfiguration(self.found)
