"""`flask --app monitor send-nudges`: deliver the outbox (the emails requests queued), then send
the nudges and provider digests that are due, then exit (for cron, a systemd timer or a
Kubernetes CronJob), or keep doing so every minute with --loop.

`flask --app monitor deliver-mail`: the outbox alone, the same way; with --loop every few
seconds, so that a password reset or an invitation leaves soon after it was asked for.

Concurrent runs of either are safe: each email is claimed in the database before it is sent
(monitor.delivery)."""
import logging
import signal
import time
from datetime import datetime

import click

from . import nudges, outbox
from .extensions import db
from .timeutil import utcnow

log = logging.getLogger(__name__)


# deliver-mail --loop: how often the outbox is looked at. A query on an index when there is
# nothing to send; a person waiting for a reset link waits at most this long for it to leave.
MAIL_LOOP_SECONDS = 5


def init_app(app) -> None:
    app.cli.add_command(send_nudges_command)
    app.cli.add_command(deliver_mail_command)


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset; a wall-clock time alone is ambiguous."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"'{text}' is not an ISO 8601 date and time, e.g. 2026-11-26T19:05:00-05:00", param_hint="--now"
        ) from None
    if value.tzinfo is None:
        raise click.BadParameter(
            f"'{text}' has no UTC offset; add one, e.g. 2026-11-26T19:05:00-05:00 or 2026-11-27T00:05:00Z",
            param_hint="--now",
        )
    return value


def _parse_options(loop: bool, now_text: str | None) -> datetime | None:
    try:
        now = parse_now(now_text) if now_text is not None else None
    except click.BadParameter as error:
        click.echo(f"Error: {error.format_message()}", err=True)
        raise click.exceptions.Exit(1)
    if loop and now is not None:
        click.echo("Error: --now evaluates one instant; it cannot be combined with --loop.", err=True)
        raise click.exceptions.Exit(1)
    return now


@click.command("send-nudges", short_help="Deliver queued emails; send the nudges and digests that are due.")
@click.option("--loop", is_flag=True, help="Keep running, once a minute, until stopped (SIGTERM or Ctrl+C).")
@click.option("--now", "now_text", metavar="ISO-8601", default=None,
              help="Evaluate as of this instant, which must carry its UTC offset "
                   "(e.g. 2026-11-26T19:05:00-05:00). For testing a schedule.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent (record ids only); send nothing.")
def send_nudges_command(loop, now_text, dry_run):
    """Deliver the emails requests queued (invitations, password resets: see deliver-mail),
    then send each late patient's one nudge for their local date, and each provider's daily
    digest (08:00 clinic time, only when some of their patients are lapsed), then exit.

    Safe to run every few minutes and from several machines at once: every email is claimed
    in the database before it is sent, so none goes out twice."""
    now = _parse_options(loop, now_text)
    if not loop:
        _report(nudges.run(now, dry_run=dry_run))
        return
    _run_loop("send-nudges", "every minute", lambda: _report(nudges.run(utcnow(), dry_run=dry_run)),
              _seconds_to_next_minute)


@click.command("deliver-mail", short_help="Deliver the emails requests queued (invitations, resets).")
@click.option("--loop", is_flag=True,
              help=f"Keep running, every {MAIL_LOOP_SECONDS} seconds, until stopped (SIGTERM or Ctrl+C).")
@click.option("--now", "now_text", metavar="ISO-8601", default=None,
              help="Evaluate as of this instant (with its UTC offset): which retries are due.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent (record ids only); send nothing.")
def deliver_mail_command(loop, now_text, dry_run):
    """Send the emails that web requests queued in the outbox (invitations, password resets),
    oldest first, then exit. A failed send is retried by later runs, 2 and then 10 minutes
    later, at most 3 attempts, as nudges are; send-nudges delivers them too.

    Safe to run from several machines at once: every email is claimed in the database before
    it is sent, so none goes out twice."""
    now = _parse_options(loop, now_text)
    if not loop:
        _report(outbox.deliver_due(now, dry_run=dry_run))
        return
    _run_loop("deliver-mail", f"every {MAIL_LOOP_SECONDS} seconds",
              lambda: _report(outbox.deliver_due(utcnow(), dry_run=dry_run)), lambda: MAIL_LOOP_SECONDS)


def _report(summary: nudges.RunSummary | outbox.OutboxRun) -> None:
    if summary.dry_run:
        for record_id in summary.would_mail:
            click.echo(f"would deliver queued email {record_id}")
        if isinstance(summary, nudges.RunSummary):
            for r in summary.would_nudge:
                click.echo(f"would nudge patient {r.id} for {r.local_date.isoformat()}")
            for r in summary.would_digest:
                click.echo(f"would send a digest to staff {r.id} for {r.local_date.isoformat()} "
                           f"({r.patient_count} lapsed)")
    click.echo(summary.line())


def _run_loop(name: str, how_often: str, run_once, seconds_to_next) -> None:
    # The signal handler only flips a flag. Anything more (Event.set, logging, echo) could
    # need a lock or a stream the interrupted main thread already holds, and a runner that
    # deadlocks on SIGTERM is never stopped by systemd or Kubernetes until they kill it.
    stop = {"requested": False}

    def request_stop(signum, frame):
        stop["requested"] = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"{name}: running {how_often}; stop with SIGTERM or Ctrl+C.")
    try:
        while not stop["requested"]:
            try:
                run_once()
            except Exception:  # a bad run (database restarting, ...) must not end the loop
                log.exception("%s: this run failed; trying again next time", name)
                db.session.rollback()
            finally:
                db.session.remove()
            _sleep_until(time.monotonic() + seconds_to_next(), stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # Reached only between runs: a run under way when the signal came has finished, so a
    # claimed email was sent and recorded.
    log.info("%s: stopped on request", name)
    click.echo(f"{name}: stopped.")


def _sleep_until(deadline: float, stop: dict) -> None:
    """Sleep in short slices so a stop request is seen within a second."""
    while not stop["requested"]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(1.0, remaining))


def _seconds_to_next_minute() -> float:
    seconds = 60 - (time.time() % 60)
    return seconds if seconds > 0.5 else seconds + 60
