"""Command-line tools: `flask --app monitor <command>`. Each command parses its arguments,
calls a function that does the work, and prints the outcome; problems go to stderr with a
non-zero exit status and nothing stored."""
import logging
import os
import sys
import threading
from typing import NoReturn

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple
from sqlalchemy import select
from email_validator import EmailNotValidError, validate_email

from . import analysis, config, demo, digits, exports, imports, outbox, serving, stored_analysis
from .accounts import ROLES, DuplicateEmail, add_account, find_by_email, normalise_email
from .audit import record
from .clinic import clinic_name, get_clinic
from .extensions import db
from .models import Role, User
from .passwords import hash_password, known_words, password_problem
from .timeutil import is_valid_timezone
from .wording import plural

NAME_MAX_LENGTH = 80  # User.first_name / last_name

log = logging.getLogger(__name__)


def init_app(app) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(import_checkins_command)
    app.cli.add_command(import_treatments_command)
    app.cli.add_command(import_gad7s_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(reset_two_factor_command)
    app.cli.add_command(export_durability_command)
    app.cli.add_command(refresh_analysis_command)
    app.cli.add_command(rotate_secrets_command)
    from . import nudges_cli  # send-nudges
    nudges_cli.init_app(app)
    from . import backups_cli  # backup, restore
    backups_cli.init_app(app)
    from . import exports_cli  # export-fhir, export-research
    exports_cli.init_app(app)


def _fail(problems: list) -> NoReturn:
    """Print every problem to stderr and exit with status 1."""
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    raise click.exceptions.Exit(1)


# --- create-user ---------------------------------------------------------------------------

@click.command("create-user")
@click.argument("email")
@click.option("--role", required=True, metavar="ROLE", help="patient, provider or admin.")
@click.option("--provider", "provider_emails", multiple=True, metavar="EMAIL",
              help="A patient's provider (repeat for several).")
@click.option("--tz", "tz", default=None, metavar="ZONE",
              help="IANA time zone, e.g. America/Chicago. Default: the clinic's.")
@click.option("--first-name", default="", help="First name.")
@click.option("--last-name", default="", help="Last name.")
def create_user_command(email, role, provider_emails, tz, first_name, last_name):
    """Create an account with a password.

    The password is prompted for on a terminal; otherwise it is read from standard input:
    the first line is the password, and a second line, if given, must repeat it."""
    role = role.strip().lower()
    tz = tz if tz is not None else get_clinic().timezone
    email, providers, problems = _check_new_account(email, role, provider_emails, tz, first_name, last_name)
    if problems:
        _fail(problems)  # before asking for a password that would be thrown away
    password = _read_password()
    if problem := password_problem(password, known_words(first_name, last_name, email, clinic_name())):
        _fail([problem])
    user = User(email=email, role=role, timezone=tz, first_name=first_name.strip(),
                last_name=last_name.strip(), password_hash=hash_password(password))
    try:
        add_account(user, action="account.created", actor=None, detail=f"{role}, from the command line",
                    providers=providers)
    except DuplicateEmail:  # created by someone else since the check above
        _fail([f"an account with the email {email} already exists"])
    db.session.commit()
    click.echo(f"Created {role} account {email} (id {user.id}).")


def _check_new_account(email: str, role: str, provider_emails: tuple[str, ...], tz: str,
                       first_name: str, last_name: str) -> tuple[str, list[User], list[str]]:
    """The normalised email, the providers to assign, and every problem with the arguments."""
    problems = []
    email = normalise_email(email)
    if find_by_email(email) is not None:
        problems.append(f"an account with the email {email} already exists")
    else:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError as error:
            problems.append(f"'{email}' is not a valid email address: {error}")
    if role not in ROLES:
        problems.append(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    if provider_emails and role != Role.PATIENT.value:
        problems.append("--provider is only for patient accounts")
    providers = []
    for provider_email in dict.fromkeys(normalise_email(e) for e in provider_emails):
        provider = find_by_email(provider_email)
        if provider is None:
            problems.append(f"--provider {provider_email}: no account has this email")
        elif not provider.is_staff:
            problems.append(f"--provider {provider_email}: this is a patient account, "
                            "not a provider's or an admin's")
        else:
            providers.append(provider)
    if not is_valid_timezone(tz):
        problems.append(f"unknown time zone '{tz}'; use an IANA name such as America/New_York")
    for option, value in (("--first-name", first_name), ("--last-name", last_name)):
        if len(value.strip()) > NAME_MAX_LENGTH:
            problems.append(f"{option} is too long (at most {NAME_MAX_LENGTH} characters)")
    return email, providers, problems


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _read_password() -> str:
    if _stdin_is_terminal():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    # Scripts pipe the password in, so that it never appears in the process list.
    lines = sys.stdin.read().splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        _fail(["no password on standard input (give it on the first line)"])
    if len(lines) > 2:
        _fail(["standard input has more than two lines; give the password, and optionally "
               "repeat it on a second line"])
    if len(lines) == 2 and lines[0] != lines[1]:
        _fail(["the two password lines on standard input do not match"])
    return lines[0]


# --- import-checkins, import-sessions, import-gad7 -------------------------------------------

@click.command("import-checkins", short_help="Import daily check-ins from a CSV file.")
@click.argument("file", type=click.Path())
def import_checkins_command(file):
    """Import daily check-ins from a CSV file (SPEC 7); all rows or none.

    Header: patient_email,date,q1,...,q7 then optionally se_dissociation, se_dizziness,
    se_nausea, se_headache, se_drowsiness, se_bladder, se_vision, note. A date that already has
    a check-in is replaced; the earlier version is kept in its history."""
    _run_import(imports.import_checkins, file)


@click.command("import-sessions", short_help="Import treatment sessions from a CSV file.")
@click.argument("file", type=click.Path())
def import_treatments_command(file):
    """Import treatment sessions from a CSV file (SPEC 7); all rows or none.

    Header: patient_email,datetime,route,dose_mg then optionally notes. A datetime without a
    UTC offset is in the clinic's time zone."""
    _run_import(imports.import_treatments, file)


@click.command("import-gad7", short_help="Import standard GAD-7s from a CSV file.")
@click.argument("file", type=click.Path())
def import_gad7s_command(file):
    """Import standard GAD-7s (SPEC 2.2) from a CSV file; all rows or none.

    Header: patient_email,date,q1,...,q7 then optionally difficulty. Each answer is 0-3 or its
    LOINC answer code (LA6568-5, LA6569-3, LA6570-1, LA6571-9; LA18938-3 is read as 2); the
    difficulty is its LOINC answer code (LA6572-7, LA6573-5, LA6575-0, LA6574-3) or empty. A
    date that already has a standard GAD-7 is replaced, as import-checkins does."""
    _run_import(imports.import_gad7s, file)


def _run_import(import_function, path: str) -> None:
    try:
        stream = imports.read_csv_file(path)
    except imports.UnreadableFile as error:
        _fail([error])
    with stream:
        outcome = import_function(stream)
    if not outcome.ok:
        db.session.rollback()  # parsing may have created the clinic settings row; keep nothing
        for problem in outcome.problems:
            click.echo(str(problem), err=True)
        count = len(outcome.problems)
        click.echo(f"Nothing was imported: {plural(count, 'problem')}.", err=True)
        raise click.exceptions.Exit(1)
    db.session.commit()
    click.echo(outcome.summary.message())


# --- export-durability ---------------------------------------------------------------------

@click.command("export-durability", short_help="Print a patient's durability analysis as CSV.")
@click.argument("email")
def export_durability_command(email):
    """Print one patient's durability analysis (SPEC 4, 7) as CSV on standard output: one row
    per session, with the columns session_date, route, baseline, reference, nadir, gain,
    responded, wane_day, status and last_observed_day. The export is audited."""
    patient = find_by_email(email)
    if patient is None:
        _fail([f"no account has the email {normalise_email(email)}"])
    if not patient.is_patient:
        _fail([f"{patient.email} is a staff account ({patient.role}), not a patient's"])
    text = exports.durability_csv(analysis.load_one(patient))
    record("export.durability", target_type="patient", target_id=patient.id, detail="cli")
    db.session.commit()
    click.echo(text, nl=False)


# --- refresh-analysis ----------------------------------------------------------------------

@click.command("refresh-analysis", short_help="Bring every stored durability analysis up to date.")
def refresh_analysis_command():
    """Recompute every patient whose stored analysis is out of date (after an upgrade, or
    after a change of the clinic's settings if the background refresh was interrupted), a
    batch at a time, each batch committed. Safe to run at any time, and again."""
    done = stored_analysis.refresh_stale(commit=db.session.commit)
    db.session.commit()
    click.echo(f"{done} patients' analyses brought up to date.")


# --- seed-demo -----------------------------------------------------------------------------

@click.command("seed-demo", short_help="Fill an empty database with a demo clinic.")
def seed_demo_command():
    """Fill an empty database with a demo clinic: 90 days of made-up patients and sessions."""
    try:
        summary = demo.seed_demo()
    except demo.DemoRefused as error:
        _fail([error])
    db.session.commit()
    _print_demo_summary(summary)


def _print_demo_summary(summary) -> None:
    click.echo(f"Created {summary.clinic_name}: {sum(a.role == 'patient' for a in summary.accounts)} patients, "
               f"{summary.checkins} check-ins, {summary.treatments} treatment sessions "
               f"({summary.planned_treatments} planned).")
    click.echo(f"Every demo account's password is: {summary.password}")
    click.echo("(Demo data only. Never use this database for real patients.)")
    width = max(len(a.email) for a in summary.accounts)
    for a in summary.accounts:
        about = f"  ({a.about})" if a.about else ""
        click.echo(f"  {a.role:<9} {a.email:<{width}}  {a.name}{about}")


# --- demo ----------------------------------------------------------------------------------

class _Port(click.ParamType):
    """A TCP port written with the digits 0-9 (click's int would read "٥٠٠٠" as 5000)."""

    name = "port"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            port = digits.whole_number(str(value).strip(), "--port")
        except ValueError as error:
            self.fail(str(error), param, ctx)
        if not 1 <= port <= 65535:
            self.fail("--port must be from 1 to 65535.", param, ctx)
        return port


PORT = _Port()


@click.command("demo", short_help="Migrate, seed the demo clinic if empty, and serve it.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=PORT)
@with_appcontext
def demo_command(host, port):
    """The README's one-line start: the embedded SQLite database under instance/, migrated,
    filled with the demo clinic when it has no accounts yet, served by Flask's server; the
    emails its pages queue are delivered every few seconds by this same process."""
    if os.environ.get("DATABASE_URL"):
        # Never put made-up patients into a real clinic's database.
        _fail(["the demo runs only on the embedded SQLite database; unset DATABASE_URL"])
    settings = current_app.config
    # The demo needs none of a real install's settings (monitor/startup_checks.py does not check
    # it): a key of this machine's own in instance/secret_key, and links to where it serves
    # (also when MONITOR_DEV=1 gave BASE_URL flask run's address, port 5000).
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = config.load_or_create_secret_key(current_app.instance_path)
    if settings["BASE_URL"] in (None, config.DEV_BASE_URL):
        settings["BASE_URL"] = config.demo_base_url(host, port)
    upgrade()
    if db.session.scalar(select(User.id).limit(1)) is None:
        summary = demo.seed_demo()
        db.session.commit()
        _print_demo_summary(summary)
    else:
        click.echo("The database already has accounts; serving it as it is.")
    click.echo(f"Open http://{host}:{port}/ (Ctrl+C to stop). Demo only: plain http, and staff "
               "sign in without a second factor.")
    settings["SESSION_COOKIE_SECURE"] = False  # the demo serves plain http on 127.0.0.1
    # Made-up patients on a developer's machine: staff may look around without an authenticator
    # app. A real clinic (flask run, gunicorn) always requires the second factor for staff.
    settings["TWO_FACTOR_REQUIRED_FOR_STAFF"] = False
    app = current_app._get_current_object()
    # No runner is scheduled on a developer's machine: this process delivers what requests
    # queue (invitations, resets), as .eml files under instance/mail/ unless MAIL_SERVER is set.
    stop = threading.Event()
    courier = threading.Thread(target=_deliver_mail_until, args=(app, stop), name="demo-mail", daemon=True)
    courier.start()
    try:
        # Flask ignores app.run() inside its own CLI, so serve with Werkzeug directly; its
        # request handler names no versions (serving.py).
        run_simple(host, port, app, threaded=True, request_handler=serving.RequestHandler)
    finally:
        stop.set()
        courier.join(timeout=DEMO_MAIL_SECONDS + 30)


# How often the demo delivers its outbox.
DEMO_MAIL_SECONDS = 3


def _deliver_mail_until(app, stop: threading.Event) -> None:
    """The demo's own runner: the outbox delivered every few seconds until `stop` is set."""
    while True:
        with app.app_context():
            try:
                outbox.deliver_due()
            except Exception:  # noqa: BLE001 (a thread has no caller to raise to; try again soon)
                db.session.rollback()
                log.exception("demo: delivering the outbox failed")
            finally:
                db.session.remove()
        if stop.wait(DEMO_MAIL_SECONDS):
            return


# --- reset-two-factor ----------------------------------------------------------------------

@click.command("reset-two-factor", short_help="Turn off an account's second factor (lost phone).")
@click.argument("email")
def reset_two_factor_command(email):
    """For an account whose authenticator and recovery codes are both lost, after checking who
    is asking by other means: removes the second factor and every recovery code and ends the
    account's sessions. Staff must then set up a new authenticator at their next sign-in."""
    from . import sessions, twofactor

    user = find_by_email(email)
    if user is None:
        _fail([f"no account has the email {normalise_email(email)}"])
    twofactor.disable(user)
    sessions.end_all(user)
    record("2fa.reset", target_type="user", target_id=user.id, detail="cli")
    db.session.commit()
    click.echo(f"The second factor of account {user.id} is off and its sessions have ended.")


# --- rotate-secrets ------------------------------------------------------------------------

@click.command("rotate-secrets", short_help="Re-encrypt stored secrets under the current SECRET_KEY.")
def rotate_secrets_command():
    """After a new SECRET_KEY is set with the previous one in SECRET_KEY_FALLBACKS: encrypts
    every stored second-factor secret under the new key, so that the fallback can then be
    dropped. Safe to run again; when some secret no configured key decrypts, nothing changes."""
    from . import twofactor

    rotated, current, lost = twofactor.reencrypt_secrets()
    if lost:
        _fail([f"the second-factor secret of {len(lost)} account(s) (ids {', '.join(map(str, lost))}) "
               "cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS: add the key they were "
               "made with to SECRET_KEY_FALLBACKS, or reset them with reset-two-factor"])
    record("secrets.rotated", detail=f"{rotated} second-factor secrets re-encrypted")
    db.session.commit()
    click.echo(f"{rotated} second-factor secret(s) re-encrypted under the current SECRET_KEY; "
               f"{current} already were.")
