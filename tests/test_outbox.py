"""The outbox (monitor/outbox.py, issue 10 point 1): mail never runs inside a request. What a
request produces (an invitation, a password reset) is queued in its own transaction and sent
by the runner (`deliver-mail`, `send-nudges`, the demo's thread) with the nudges' claims and
retries, exactly once however many runners race, against a real SMTP server on loopback. The
stored email holds a live link: it is wiped once the row will never be sent. And the reset
form answers an address with an account and one without the same, in content and in time."""
import re
import signal
import statistics
import threading
import time as clock
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from monitor import accounts, cli, delivery, outbox
from monitor.extensions import db
from monitor.models import AccountToken, OutboxMessage, User
from tests.factories import (NOW, add_patient, deliver_mail, events, outbox_rows, read_outbox, read_output, runner_env,
                             start_runner)

RESET = "/account/reset"


def ask_reset(client, address: str):
    return client.post(RESET, data={"email": address})


def invite(*patients) -> None:
    """As the enrolment view does: the invitation queued in the request's one commit."""
    for patient in patients:
        outbox.queue_invitation(patient)
    db.session.commit()


# --- Queued in the request, sent by the runner.

def test_a_reset_is_queued_by_the_request_and_sent_by_the_runner(app, client, users, smtp):
    response = ask_reset(client, users.patient_a.email)
    assert response.status_code == 302
    assert smtp.recorder.data_attempts == 0  # the request never spoke to the mail server
    [row] = outbox_rows()
    assert (row.kind, row.status, row.requested_address, row.user_id) == (
        "password_reset", "pending", "alice@example.test", None)

    run = deliver_mail()
    assert (run.mail.sent, run.mail.failed) == (1, 0)
    [msg] = smtp.messages
    assert (msg["To"], msg["Subject"]) == ("alice@example.test", "Reset your password")
    [row] = outbox_rows()
    # Metadata kept, the email (and the live link in it) and the address typed wiped.
    assert (row.kind, row.user_id, row.status, row.attempts, row.sent_at) == (
        "password_reset", users.patient_a.id, "sent", 1, NOW)
    assert (row.message, row.requested_address) == (None, None)

    deliver_mail(NOW + timedelta(hours=1))
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("who", ["unknown", "invited, no password yet", "deactivated"])
def test_a_reset_for_an_address_without_a_usable_account_sends_nothing_and_keeps_no_address(app, client, smtp, who):
    address = {"unknown": "nobody@example.test", "invited, no password yet": "new@example.test",
               "deactivated": "gone@example.test"}[who]
    add_patient("new@example.test", password=False)
    add_patient("gone@example.test", active=False)
    ask_reset(client, address)
    run = deliver_mail()
    assert (run.mail.sent, run.mail.not_sent) == (0, 1)
    assert smtp.recorder.data_attempts == 0
    [row] = outbox_rows()
    assert (row.status, row.user_id, row.requested_address, row.message) == ("skipped", None, None, None)
    assert db.session.scalar(select(func.count()).select_from(AccountToken)) == 0


def test_the_reset_form_is_audited_alike_for_every_address_and_the_link_against_the_account(app, client, users):
    ask_reset(client, users.patient_a.email)
    ask_reset(client, "nobody@example.test")
    deliver_mail()
    known, unknown = outbox_rows()
    asked = events("account.reset_requested")
    assert [(e.target_type, e.target_id, e.actor_id) for e in asked] == [
        ("outbox", known.id, None), ("outbox", unknown.id, None)]
    assert all("nobody" not in (e.detail or "") for e in events())
    [issued] = events("account.reset_issued")
    assert (issued.target_id, issued.actor_id, issued.detail) == (users.patient_a.id, users.patient_a.id,
                                                                  f"outbox {known.id}")


def test_an_invitation_is_stored_with_its_token_in_one_transaction(app, users):
    patient = add_patient("new@example.test", password=False)
    outbox.queue_invitation(patient)
    db.session.rollback()  # the request failed after queueing: neither the link nor its email
    assert outbox_rows() == []
    assert db.session.scalar(select(func.count()).select_from(AccountToken)) == 0
    invite(patient)
    [row] = outbox_rows()
    assert (row.kind, row.user_id, row.status) == ("invitation", patient.id, "pending")
    assert db.session.scalar(select(func.count()).select_from(AccountToken)) == 1
    assert b"Set up your account" in row.message


def test_an_email_that_cannot_be_composed_is_retried_like_a_failed_send(app, client, users, smtp, monkeypatch):
    real = accounts.password_reset
    calls = []

    def broken_once(user, **kw):
        calls.append(user.id)
        if len(calls) == 1:
            raise RuntimeError("template missing")
        return real(user, **kw)

    monkeypatch.setattr(accounts, "password_reset", broken_once)
    ask_reset(client, users.patient_a.email)
    assert deliver_mail().mail.failed == 1
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "RuntimeError")
    assert row.requested_address == "alice@example.test"  # still to be looked up
    assert db.session.scalar(select(func.count()).select_from(AccountToken)) == 0  # rolled back
    deliver_mail(NOW + timedelta(minutes=2))
    assert smtp.recipients == ["alice@example.test"]


# --- The nudges' retry rules.

def test_server_down_then_back_delivers_exactly_once_after_the_backoff(app, users, smtp_down):
    patient = add_patient("new@example.test", password=False)
    invite(patient)
    run = deliver_mail()
    assert run.mail.failed == 1
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "ConnectionRefusedError")
    assert row.next_attempt_at == NOW + delivery.BACKOFF[0]
    assert row.message is not None  # kept for the next attempt

    smtp_down.start()
    deliver_mail(NOW + timedelta(minutes=1))  # still backing off
    assert smtp_down.recipients == []
    deliver_mail(NOW + timedelta(minutes=2))
    assert smtp_down.recipients == ["new@example.test"]
    for minutes in (3, 15, 60):
        deliver_mail(NOW + timedelta(minutes=minutes))
    assert smtp_down.recipients == ["new@example.test"]
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.message) == ("sent", 2, None)


def test_three_refused_attempts_are_abandoned_wiped_and_never_tried_again(app, smtp):
    invite(add_patient("new@example.test", password=False))
    smtp.recorder.refuse = True
    deliver_mail()
    deliver_mail(NOW + timedelta(minutes=2))
    deliver_mail(NOW + timedelta(minutes=11))  # too early: 10 minutes after attempt 2
    assert smtp.recorder.data_attempts == 2
    assert deliver_mail(NOW + timedelta(minutes=12)).mail.abandoned == 1
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.last_error, row.message) == ("abandoned", 3, "SMTPDataError", None)
    smtp.recorder.refuse = False
    for minutes in (30, 200):
        deliver_mail(NOW + timedelta(minutes=minutes))
    assert smtp.recorder.data_attempts == 3 and smtp.recipients == []


def test_a_run_stops_early_while_the_server_keeps_failing(app, smtp_down):
    invite(*[add_patient(f"p{n}@example.test", password=False) for n in range(5)])
    run = deliver_mail()
    assert run.stopped_early and run.mail.failed == delivery.STOP_AFTER_CONSECUTIVE_FAILURES
    assert [r.attempts for r in outbox_rows()] == [1, 1, 1, 0, 0]
    smtp_down.start()
    deliver_mail(NOW + timedelta(minutes=2))
    assert sorted(smtp_down.recipients) == [f"p{n}@example.test" for n in range(5)]


def test_a_row_left_in_sending_is_never_sent_again_and_its_link_is_wiped(app, smtp, caplog):
    invite(add_patient("new@example.test", password=False))
    [row] = outbox_rows()
    assert delivery.claim(OutboxMessage, row.id, NOW) == 1  # a runner that died mid-send
    db.session.commit()
    with caplog.at_level("WARNING", logger="monitor.outbox"):
        first = deliver_mail(NOW + timedelta(minutes=5))
        assert first.stuck == 0  # a send may still be under way
        later = deliver_mail(NOW + timedelta(hours=1))
    assert later.stuck == 1 and "1 left in 'sending'" in later.line()
    assert "left in 'sending'" in caplog.text
    assert deliver_mail(NOW + timedelta(hours=2)).stuck == 0  # reported once
    assert smtp.recipients == []
    [row] = outbox_rows()
    assert (row.status, row.message) == ("sending", None)


def test_a_newer_invitation_drops_the_queued_older_one(app, smtp):
    patient = add_patient("new@example.test", password=False)
    invite(patient)
    invite(patient)
    deliver_mail()
    assert [(r.status, r.message) for r in outbox_rows()] == [("skipped", None), ("sent", None)]
    assert len(smtp.messages) == 1


def test_logs_name_rows_by_id_never_a_recipient_or_a_subject(app, client, users, smtp_down, caplog):
    invite(add_patient("nia@example.test", first_name="Nia", password=False))
    ask_reset(client, users.patient_a.email)
    ask_reset(client, "nobody@example.test")
    with caplog.at_level("INFO", logger="monitor"):
        deliver_mail()
        smtp_down.start()
        deliver_mail(NOW + timedelta(minutes=2))
    assert len(smtp_down.messages) == 2
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("monitor"))
    assert "ConnectionRefusedError" in logged and re.search(r"outbox \d+ sent", logged)
    for secret in ("nia@", "Nia", "alice@", "Alice", "nobody@", "Set up your account", "Reset your password"):
        assert secret not in logged


# --- Several runners at once (the nudge race tests' subprocesses, on SQLite and PostgreSQL).

AT = "2026-11-26T15:00:00Z"  # NOW: 10:00 in New York, before anyone's nudge


def test_concurrent_runners_deliver_each_queued_email_exactly_once(app, db_url, users, smtp):
    invited = [add_patient(f"p{n}@example.test", password=False) for n in range(10)]
    invite(*invited)
    resetters = [add_patient(f"r{n}@example.test") for n in range(5)]
    for address in [p.email for p in resetters] + ["nobody1@example.test", "nobody2@example.test"]:
        outbox.queue_password_reset(address)  # as the reset form does
    db.session.commit()
    smtp.recorder.delay = 0.05  # each send takes a while, so the runners overlap
    env = runner_env(app, db_url, smtp.port)
    for wave in range(2):  # a second wave finds everything done
        # deliver-mail and send-nudges both deliver the outbox: race them against each other.
        procs = [start_runner(env, "--now", AT, command=command)
                 for command in ("deliver-mail", "send-nudges", "deliver-mail", "send-nudges")]
        outputs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, err
        sent = [int(re.search(r"(?:mail |: )(\d+) sent", out).group(1)) for out, _ in outputs]
        if wave == 0:
            assert sum(sent) == 15
    assert sent == [0, 0, 0, 0]
    expected = sorted(p.email for p in invited + resetters)
    assert sorted(smtp.recipients) == expected  # each once
    rows = outbox_rows()
    assert sorted((r.status, r.attempts) for r in rows) == [("sent", 1)] * 15 + [("skipped", 1)] * 2
    assert {(r.message, r.requested_address) for r in rows} == {(None, None)}
    assert db.session.scalar(select(func.count()).select_from(AccountToken)
                             .where(AccountToken.purpose == "reset")) == 5  # one link each


def test_concurrent_runners_with_the_server_down_retry_without_duplicates(app, db_url, smtp_down):
    invite(*[add_patient(f"p{n}@example.test", password=False) for n in range(2)])
    env = runner_env(app, db_url, smtp_down.port)
    for p in [start_runner(env, "--now", AT, command="deliver-mail") for _ in range(2)]:
        p.communicate(timeout=120)
    assert {(r.status, r.attempts) for r in outbox_rows()} == {("failed", 1)}
    smtp_down.start()
    for p in [start_runner(env, "--now", "2026-11-26T15:02:00Z", command="deliver-mail") for _ in range(2)]:
        p.communicate(timeout=120)
    assert sorted(smtp_down.recipients) == ["p0@example.test", "p1@example.test"]
    assert {(r.status, r.attempts) for r in outbox_rows()} == {("sent", 2)}


# --- The command line.

def test_deliver_mail_prints_a_one_line_summary_with_counts_only(app, runner, smtp):
    invite(add_patient("nia@example.test", first_name="Nia", password=False))
    result = runner.invoke(args=["deliver-mail"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "deliver-mail 2026-11-26T15:00:00+00:00: 1 sent, 0 failed, 0 abandoned, 0 not sent."]
    assert smtp.recipients == ["nia@example.test"]


def test_dry_runs_list_queued_emails_by_id_and_send_nothing(app, runner, smtp):
    invite(add_patient("nia@example.test", first_name="Nia", password=False))
    [row] = outbox_rows()
    for command in ("deliver-mail", "send-nudges"):
        result = runner.invoke(args=[command, "--dry-run"])
        assert result.exit_code == 0, result.output
        assert f"would deliver queued email {row.id}" in result.output
        assert "1 queued email(s)" in result.output
        assert "nia@" not in result.output and "Nia" not in result.output
    assert smtp.recipients == []
    assert outbox_rows()[0].status == "pending"


def test_send_nudges_delivers_the_outbox_too(app, runner, smtp):
    invite(add_patient("nia@example.test", password=False))
    result = runner.invoke(args=["send-nudges"])
    assert result.exit_code == 0, result.output
    assert "mail 1 sent, 0 failed, 0 abandoned, 0 not sent; nudges 0 sent" in result.output
    assert smtp.recipients == ["nia@example.test"]


@pytest.mark.parametrize("args, message", [
    (["--now", "2026-11-26T20:00:00"], "has no UTC offset"),
    (["--now", "tonight"], "is not an ISO 8601 date and time"),
    (["--loop", "--now", "2026-11-27T01:00:00Z"], "cannot be combined with --loop"),
])
def test_deliver_mail_options_are_checked(app, runner, smtp, args, message):
    invite(add_patient("nia@example.test", password=False))
    result = runner.invoke(args=["deliver-mail", *args])
    assert result.exit_code == 1 and message in result.output
    assert smtp.recipients == []


def test_deliver_mail_loop_runs_every_few_seconds_and_stops_on_sigterm(app, db_url, smtp):
    invite(add_patient("nia@example.test", password=False))
    proc = start_runner(runner_env(app, db_url, smtp.port), "--loop", command="deliver-mail")
    try:
        lines = read_output(proc, until=lambda lines: sum("deliver-mail 20" in line for line in lines) >= 2)
        summaries = [line for line in lines if "deliver-mail 20" in line]
        assert len(summaries) == 2, lines
        assert ": 1 sent" in summaries[0] and ": 0 sent" in summaries[1]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert smtp.recipients == ["nia@example.test"]


# --- The demo delivers on its own.

def test_the_demo_process_delivers_its_outbox_as_eml_files(app, runner, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(cli, "DEMO_MAIL_SECONDS", 0.1)
    seen = {}

    def serve(host, port, served_app, **kw):
        """Stands in for the web server: a visitor asks for a reset, and the mail arrives
        with no runner but the demo's own thread."""
        seen["to"] = db.session.scalar(select(User.email).where(User.role == "patient").order_by(User.id).limit(1))
        ask_reset(served_app.test_client(), seen["to"])
        deadline = clock.monotonic() + 30
        while not read_outbox(served_app) and clock.monotonic() < deadline:
            clock.sleep(0.05)
        seen["mail"] = read_outbox(served_app)
        seen["threads"] = [t.name for t in threading.enumerate()]

    monkeypatch.setattr("monitor.cli.run_simple", serve)
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    [msg] = seen["mail"]  # an .eml file under MAIL_FILE_DIR (instance/mail/ outside tests)
    assert (msg["To"], msg["Subject"]) == (seen["to"], "Reset your password")
    assert "demo-mail" in seen["threads"]
    assert "demo-mail" not in [t.name for t in threading.enumerate()]  # stopped with the server


# --- The reset form tells nothing (issue 10): same answer, same time, known or not.

def _timed_resets(client, known: str, unknown: str, rounds: int = 30) -> dict:
    """`rounds` POSTs for each address, interleaved (in alternating order) so that any drift
    of the machine's speed falls on both alike: each answer's status, location and body, and
    its duration in seconds."""
    answers, durations = {known: set(), unknown: set()}, {known: [], unknown: []}
    for n in range(rounds):
        for address in (known, unknown) if n % 2 else (unknown, known):
            started = clock.perf_counter()
            response = ask_reset(client, address)
            durations[address].append(clock.perf_counter() - started)
            answers[address].add((response.status_code, response.headers["Location"], response.get_data()))
    return {"answers": answers, "durations": durations}


@pytest.mark.parametrize("server", ["slow (150 ms a message)", "down (closed port)"])
def test_the_reset_answer_is_the_same_in_content_and_time_for_known_and_unknown_addresses(
        app, client, users, request, server):
    app.config["RATELIMIT_ENABLED"] = False  # 60 resets from one client in a minute
    if server.startswith("slow"):
        smtp = request.getfixturevalue("smtp")
        smtp.recorder.delay = 0.15
    else:
        smtp = request.getfixturevalue("smtp_down")  # MAIL_SERVER points at a closed port
    known, unknown = users.patient_a.email, "nobody@example.test"
    _timed_resets(client, known, unknown, rounds=3)  # warm up: templates compiled, pool filled
    measured = _timed_resets(client, known, unknown)
    answers, durations = measured["answers"], measured["durations"]
    assert answers[known] == answers[unknown] and len(answers[known]) == 1
    [(status, location, _)] = answers[known]
    assert (status, location) == (302, "/login")  # no 5xx: a redirect to the sign-in page
    medians = {address: statistics.median(times) for address, times in durations.items()}
    assert abs(medians[known] - medians[unknown]) < 0.010, medians
    assert smtp.recorder.data_attempts == 0  # no request spoke to the mail server

    if server.startswith("slow"):  # the runner, not the form, waits for the slow server
        smtp.recorder.delay = 0
        deliver_mail()
        assert set(smtp.recipients) == {known}
