"""The nudge runner (SPEC 5): exactly one nudge per late patient and local date, however often
and however concurrently it runs, against a real SMTP server on loopback (aiosmtpd): with the
server down, refusing, or silent; across both daylight-saving changes; through a time-zone
change; and with several `flask send-nudges` processes at once. Then the provider digest."""
import os
import re
import signal
import socket
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitor import delivery, nudges
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import Nudge, PatientStatusChange, ProviderDigest
from tests.factories import (add_checkin, add_patient, add_provider, message_text, read_outbox, read_output, runner_env,
                             start_runner)



def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def nudge_rows(user=None) -> list[Nudge]:
    query = select(Nudge).order_by(Nudge.patient_id, Nudge.local_date)
    if user is not None:
        query = query.where(Nudge.patient_id == user.id)
    db.session.expire_all()
    return db.session.scalars(query).all()


# 20:00 in New York on Thursday 26 November 2026; 01:00 on the 27th in London.
EVENING = at("2026-11-26T20:00:00-05:00")


# --- One per late patient, and no more.

def test_a_run_sends_one_nudge_to_each_late_patient_and_later_runs_send_nothing_more(app, smtp):
    alice = add_patient("alice@example.test", first_name="Alice")          # 19:00: late
    carl = add_patient("carl@example.test", reminder_time=time(21, 0))     # 21:00: pending
    bob = add_patient("bob@example.test", timezone="Europe/London")        # his 26th is over
    summary = nudges.run(EVENING)
    assert smtp.recipients == ["alice@example.test"]
    assert (summary.nudges.sent, summary.nudges.failed) == (1, 0)
    [row] = nudge_rows()
    assert (row.patient_id, row.local_date, row.status, row.attempts) == (alice.id, date(2026, 11, 26), "sent", 1)
    assert row.sent_at == EVENING

    for minutes in (0, 5, 30):
        nudges.run(EVENING + timedelta(minutes=minutes))
    assert smtp.recipients == ["alice@example.test"]

    nudges.run(at("2026-11-26T21:00:00-05:00"))  # Carl's time; Bob still waits for his 27th
    assert sorted(smtp.recipients) == ["alice@example.test", "carl@example.test"]
    nudges.run(at("2026-11-27T19:00:00+00:00"))  # Bob's 27th (and 14:00 in New York)
    assert sorted(smtp.recipients) == ["alice@example.test", "bob@example.test", "carl@example.test"]
    assert {(r.patient_id, r.local_date) for r in nudge_rows()} == {
        (alice.id, date(2026, 11, 26)), (carl.id, date(2026, 11, 26)), (bob.id, date(2026, 11, 27))}


def test_a_date_that_is_over_is_missed_not_nudged(app, smtp):
    add_patient("alice@example.test")
    nudges.run(at("2026-11-27T00:30:00-05:00"))  # the 26th ended half an hour ago, unnoticed
    assert smtp.recipients == []
    assert nudge_rows() == []


def test_nothing_goes_to_those_who_should_not_get_one(app, smtp, users):
    add_patient("control@example.test")
    add_patient("paused@example.test", status="paused")
    add_patient("discharged@example.test", status="discharged")
    add_patient("optout@example.test", email_opt_out=True)
    add_patient("invited@example.test", password=False)     # has not accepted the invitation
    add_patient("closed@example.test", active=False)         # account switched off
    done = add_patient("done@example.test")
    add_checkin(done, date(2026, 11, 26), 7)
    # users: patient_a and patient_b too (New York and London); staff never get nudges.
    nudges.run(EVENING)
    assert sorted(smtp.recipients) == ["alice@example.test", "control@example.test"]


@pytest.mark.parametrize("module, step", [(nudges, "_create"), (delivery, "claim")])
def test_a_check_in_that_arrives_after_the_selection_stops_the_send(app, smtp, monkeypatch, module, step):
    """The patient checks in while the runner works: after their page of recipients was read,
    before the record is created and claimed, or just after the claim."""
    alice = add_patient("alice@example.test")
    real_step = getattr(module, step)

    def step_then_check_in(*args):
        result = real_step(*args)
        add_checkin(alice, date(2026, 11, 26), 7)  # commits, as the claim would be committed
        return result

    monkeypatch.setattr(module, step, step_then_check_in)
    summary = nudges.run(EVENING)
    assert smtp.recipients == []
    assert summary.nudges.not_sent == 1
    assert [r.status for r in nudge_rows()] == ["skipped"]


def test_two_claims_of_one_record_only_the_first_wins(app):
    alice = add_patient("alice@example.test")
    record_id = nudges._create(Nudge, alice.id, date(2026, 11, 26), EVENING)
    again = nudges._create(Nudge, alice.id, date(2026, 11, 26), EVENING)  # ON CONFLICT DO NOTHING
    assert again == record_id
    assert delivery.claim(Nudge, record_id, EVENING) == 1
    db.session.commit()
    assert delivery.claim(Nudge, record_id, EVENING) is None
    db.session.commit()


def test_a_record_left_in_sending_is_never_sent_again(app, smtp, caplog):
    alice = add_patient("alice@example.test")
    db.session.add(Nudge(patient_id=alice.id, local_date=date(2026, 11, 26), status="sending", attempts=1,
                         next_attempt_at=EVENING, claimed_at=EVENING))
    db.session.commit()
    with caplog.at_level("WARNING", logger="monitor.nudges"):
        summary = nudges.run(EVENING + timedelta(hours=1))
    assert smtp.recipients == []
    assert summary.stuck == 1
    assert "stuck in 'sending'" in caplog.text
    assert "1 left in 'sending'" in summary.line()


# --- Failures, retries and backoff.

def test_server_down_then_back_delivers_exactly_once_after_the_backoff(app, smtp_down):
    alice = add_patient("alice@example.test")
    summary = nudges.run(EVENING)
    assert summary.nudges.failed == 1
    [row] = nudge_rows()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "ConnectionRefusedError")
    assert row.next_attempt_at == EVENING + timedelta(minutes=2)

    smtp_down.start()
    nudges.run(EVENING + timedelta(minutes=1))  # still backing off
    assert smtp_down.recipients == []
    nudges.run(EVENING + timedelta(minutes=2))
    assert smtp_down.recipients == ["alice@example.test"]
    for minutes in (3, 15, 60):
        nudges.run(EVENING + timedelta(minutes=minutes))
    assert smtp_down.recipients == ["alice@example.test"]
    [row] = nudge_rows(alice)
    assert (row.status, row.attempts) == ("sent", 2)


def test_three_refused_attempts_are_abandoned_and_never_tried_again(app, smtp):
    add_patient("alice@example.test")
    smtp.recorder.refuse = True
    nudges.run(EVENING)                                 # attempt 1
    nudges.run(EVENING + timedelta(minutes=2))          # attempt 2 (after 2 minutes)
    nudges.run(EVENING + timedelta(minutes=11))         # too early: 10 minutes after attempt 2
    assert smtp.recorder.data_attempts == 2
    summary = nudges.run(EVENING + timedelta(minutes=12))  # attempt 3
    assert summary.nudges.abandoned == 1
    [row] = nudge_rows()
    assert (row.status, row.attempts, row.last_error) == ("abandoned", 3, "SMTPDataError")

    smtp.recorder.refuse = False
    for minutes in (30, 60, 200):
        nudges.run(EVENING + timedelta(minutes=minutes))
    assert smtp.recorder.data_attempts == 3
    assert smtp.recipients == []


def test_a_silent_server_times_out_and_is_retried(app, smtp):
    good_port = smtp.port
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        app.config.update(MAIL_PORT=silent.getsockname()[1], MAIL_TIMEOUT=1)
        add_patient("alice@example.test")
        summary = nudges.run(EVENING)
    assert summary.nudges.failed == 1
    [row] = nudge_rows()
    # smtplib reports the timed-out greeting as a disconnection.
    assert (row.status, row.last_error) == ("failed", "SMTPServerDisconnected")
    app.config.update(MAIL_PORT=good_port, MAIL_TIMEOUT=5)
    nudges.run(EVENING + timedelta(minutes=2))
    assert smtp.recipients == ["alice@example.test"]


def test_a_run_stops_early_while_the_server_keeps_failing_and_claims_nothing_more(app, smtp_down):
    for n in range(5):
        add_patient(f"p{n}@example.test")
    summary = nudges.run(EVENING)
    assert summary.stopped_early
    assert summary.nudges.failed == delivery.STOP_AFTER_CONSECUTIVE_FAILURES
    assert len(nudge_rows()) == delivery.STOP_AFTER_CONSECUTIVE_FAILURES  # the others untouched
    smtp_down.start()
    nudges.run(EVENING + timedelta(minutes=2))
    assert len(smtp_down.recipients) == 5
    assert sorted(set(smtp_down.recipients)) == sorted(smtp_down.recipients)


def test_failures_are_logged_by_id_and_error_class_without_addresses(app, smtp_down, caplog):
    alice = add_patient("alice@example.test", first_name="Alice")
    with caplog.at_level("INFO", logger="monitor"):
        nudges.run(EVENING)
        smtp_down.start()
        nudges.run(EVENING + timedelta(minutes=2))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("monitor"))
    assert "ConnectionRefusedError" in logged
    assert "alice@example.test" not in logged and "Alice" not in logged
    assert f"nudges {nudge_rows(alice)[0].id} sent" in logged


# --- Daylight saving and travel.

def run_every(start: datetime, end: datetime, minutes: int = 15):
    now = start
    while now <= end:
        nudges.run(now)
        now += timedelta(minutes=minutes)


def nudged_dates(user) -> list[date]:
    return [r.local_date for r in nudge_rows(user) if r.status == "sent"]


@pytest.mark.parametrize("zone, first, last", [
    ("America/New_York", date(2026, 3, 7), date(2026, 3, 9)),     # spring forward on the 8th
    ("America/New_York", date(2026, 10, 31), date(2026, 11, 2)),  # fall back on the 1st
    ("Europe/London", date(2026, 3, 28), date(2026, 3, 30)),      # spring forward on the 29th
    ("Europe/London", date(2026, 10, 24), date(2026, 10, 26)),    # fall back on the 25th
])
def test_daylight_saving_changes_neither_skip_a_date_nor_nudge_twice(app, zone, first, last):
    # Reminder times on either side of and inside the changed hour, and the evening default.
    reminders = [time(0, 30), time(1, 30), time(2, 30), time(19, 0), time(23, 45)]
    people = [add_patient(f"p{n}@example.test", timezone=zone, reminder_time=r) for n, r in enumerate(reminders)]
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(0, 0), tz).astimezone(timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(0, 0), tz).astimezone(timezone.utc) - timedelta(minutes=1)
    run_every(start, end)
    expected = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    for person in people:
        assert nudged_dates(person) == expected, person.reminder_time
    assert len(read_outbox(app)) == len(people) * len(expected)


def test_the_repeated_hour_nudges_at_its_first_occurrence_only(app):
    alice = add_patient("alice@example.test", reminder_time=time(1, 30))
    run_every(at("2026-11-01T05:00:00+00:00"), at("2026-11-01T07:30:00+00:00"), minutes=5)
    [row] = nudge_rows(alice)
    assert row.sent_at == at("2026-11-01T05:30:00+00:00")  # 01:30 EDT, not 01:30 EST an hour later


def change_zone(user, zone, when):
    """As the settings page does it, at this instant."""
    user.change_timezone(zone, when)
    db.session.commit()


def test_moving_west_after_the_nudge_does_not_nudge_the_same_date_again(app, smtp):
    bob = add_patient("bob@example.test", timezone="Europe/London")
    nudges.run(at("2026-11-26T19:05:00+00:00"))
    assert smtp.recipients == ["bob@example.test"]
    change_zone(bob, "America/Los_Angeles", at("2026-11-26T19:05:00+00:00"))  # 11:05 on the 26th there: 19:00 comes round again
    run_every(at("2026-11-26T19:10:00+00:00"), at("2026-11-27T07:59:00+00:00"))  # to 23:59 in LA
    assert smtp.recipients == ["bob@example.test"]
    run_every(at("2026-11-27T08:00:00+00:00"), at("2026-11-28T07:59:00+00:00"))  # LA's 27th
    assert nudged_dates(bob) == [date(2026, 11, 26), date(2026, 11, 27)]
    assert len(smtp.recipients) == 2


def test_moving_west_before_the_nudge_moves_it_to_the_new_evening(app, smtp):
    bob = add_patient("bob@example.test", timezone="Europe/London")
    nudges.run(at("2026-11-26T18:00:00+00:00"))
    change_zone(bob, "America/New_York", at("2026-11-26T18:00:00+00:00"))  # 13:00 on the same date
    run_every(at("2026-11-26T18:15:00+00:00"), at("2026-11-27T04:59:00+00:00"))
    assert nudged_dates(bob) == [date(2026, 11, 26)]
    assert nudge_rows(bob)[0].sent_at == at("2026-11-27T00:00:00+00:00")  # 19:00 in New York
    assert smtp.recipients == ["bob@example.test"]


def test_moving_east_past_the_reminder_time_nudges_at_once_and_once(app, smtp):
    alice = add_patient("alice@example.test")
    nudges.run(at("2026-11-26T15:00:00-05:00"))
    change_zone(alice, "Europe/London", at("2026-11-26T20:00:00+00:00"))  # 20:00 on the same date there: late now
    run_every(at("2026-11-26T20:00:00+00:00"), at("2026-11-26T23:59:00+00:00"))
    change_zone(alice, "America/New_York", at("2026-11-26T23:59:00+00:00"))  # and back: 19:00 in New York comes round again
    run_every(at("2026-11-27T00:00:00+00:00"), at("2026-11-27T04:59:00+00:00"))
    assert nudged_dates(alice) == [date(2026, 11, 26)]
    assert smtp.recipients == ["alice@example.test"]


def test_moving_east_past_midnight_still_nudges_the_date_that_ended_in_the_new_zone(app, smtp):
    """18:00 in New York on the 26th, then Tokyo: 08:00 on the 27th. The 26th's reminder comes
    at the instant it was due (19:00 New York time, 09:00 in Tokyo), the 27th's at 19:00 Tokyo."""
    alice = add_patient("alice@example.test")
    run_every(at("2026-11-26T12:00:00-05:00"), at("2026-11-26T18:00:00-05:00"))
    change_zone(alice, "Asia/Tokyo", at("2026-11-26T18:00:00-05:00"))
    run_every(at("2026-11-26T18:15:00-05:00"), at("2026-11-28T23:59:00+09:00"))
    sent = [(r.local_date, r.sent_at) for r in nudge_rows(alice)]
    assert sent == [(date(2026, 11, 26), at("2026-11-27T09:00:00+09:00")),
                    (date(2026, 11, 27), at("2026-11-27T19:00:00+09:00")),
                    (date(2026, 11, 28), at("2026-11-28T19:00:00+09:00"))]
    assert smtp.recipients == ["alice@example.test"] * 3


def test_a_backfilled_check_in_for_the_carried_date_stops_its_nudge(app, smtp):
    alice = add_patient("alice@example.test")
    change_zone(alice, "Asia/Tokyo", at("2026-11-26T18:00:00-05:00"))
    add_checkin(alice, date(2026, 11, 26), 7, now=at("2026-11-27T08:30:00+09:00"))  # a late entry on arrival
    run_every(at("2026-11-26T18:15:00-05:00"), at("2026-11-27T18:59:00+09:00"))
    assert nudge_rows(alice) == [] and smtp.recipients == []


def test_moving_east_past_midnight_after_the_nudge_sends_nothing_more_for_that_date(app, smtp):
    alice = add_patient("alice@example.test")
    nudges.run(at("2026-11-26T20:00:00-05:00"))
    change_zone(alice, "Asia/Tokyo", at("2026-11-26T20:30:00-05:00"))  # 10:30 on the 27th
    run_every(at("2026-11-26T20:45:00-05:00"), at("2026-11-27T18:59:00+09:00"))
    assert nudged_dates(alice) == [date(2026, 11, 26)]
    assert smtp.recipients == ["alice@example.test"]


# --- Several runner processes at once.

def test_concurrent_runner_processes_deliver_exactly_one_nudge_per_patient_and_date(app, db_url, smtp):
    get_clinic()
    people = [add_patient(f"p{n}@example.test", first_name=f"P{n}") for n in range(8)]
    db.session.commit()
    env = runner_env(app, db_url, smtp.port)
    for wave in range(2):  # a second wave finds everything done
        procs = [start_runner(env, "--now", "2026-11-26T20:00:00-05:00") for _ in range(4)]
        outputs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, err
            assert re.search(r"nudges \d+ sent", out), out
    assert sorted(smtp.recipients) == sorted(p.email for p in people)
    rows = nudge_rows()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * len(people)
    sent = [int(re.search(r"nudges (\d+) sent", o).group(1)) for o, _ in outputs]
    assert sent == [0, 0, 0, 0]  # the second wave


def test_concurrent_runner_processes_with_the_server_down_retry_without_duplicates(app, db_url, smtp_down):
    get_clinic()
    people = [add_patient(f"p{n}@example.test") for n in range(2)]
    env = runner_env(app, db_url, smtp_down.port)
    procs = [start_runner(env, "--now", "2026-11-26T20:00:00-05:00") for _ in range(3)]
    for p in procs:
        p.communicate(timeout=120)
    assert {(r.status, r.attempts) for r in nudge_rows()} == {("failed", 1)}
    smtp_down.start()
    procs = [start_runner(env, "--now", "2026-11-26T20:05:00-05:00") for _ in range(3)]
    for p in procs:
        p.communicate(timeout=120)
    assert sorted(smtp_down.recipients) == sorted(p.email for p in people)
    assert {(r.status, r.attempts) for r in nudge_rows()} == {("sent", 2)}


def test_loop_runs_every_minute_and_stops_on_sigterm(app, db_url, smtp):
    get_clinic()
    db.session.commit()
    proc = start_runner(runner_env(app, db_url, smtp.port), "--loop")
    try:
        lines = read_output(proc, until=lambda lines: any("send-nudges 20" in line for line in lines))
        line = lines[-1] if lines else ""
        assert "send-nudges 20" in line, proc.stderr.read() if proc.poll() is not None else "no summary line"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_loop_survives_a_failed_run_and_finishes_the_run_under_way_on_sigterm(app, runner, monkeypatch, caplog):
    from monitor import nudges_cli
    calls = []

    def fake_run(now, dry_run=False):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database restarting")
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-run: this run still completes
        return nudges.RunSummary(now=now)

    monkeypatch.setattr(nudges_cli.nudges, "run", fake_run)
    monkeypatch.setattr(nudges_cli, "_seconds_to_next_minute", lambda: 0.01)
    previous = signal.getsignal(signal.SIGTERM)
    with caplog.at_level("ERROR", logger="monitor.nudges_cli"):
        result = runner.invoke(args=["send-nudges", "--loop"])
    assert result.exit_code == 0, result.output
    assert len(calls) == 3
    assert "this run failed" in caplog.text
    assert result.output.count("nudges 0 sent") == 2
    assert result.output.strip().endswith("send-nudges: stopped.")
    assert signal.getsignal(signal.SIGTERM) == previous


# --- The command line.

def test_command_prints_a_one_line_summary_with_counts_only(app, runner, smtp):
    add_patient("alice@example.test", first_name="Alice")
    result = runner.invoke(args=["send-nudges", "--now", "2026-11-26T20:00:00-05:00"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "send-nudges 2026-11-27T01:00:00+00:00: mail 0 sent, 0 failed, 0 abandoned, 0 not sent; "
        "nudges 1 sent, 0 failed, 0 abandoned, 0 not sent; digests 0 sent, 0 failed, 0 abandoned, 0 not sent."]
    assert smtp.recipients == ["alice@example.test"]


def test_dry_run_lists_what_would_be_sent_by_id_and_sends_nothing(app, runner, smtp):
    alice = add_patient("alice@example.test", first_name="Alice", last_name="Archer")
    result = runner.invoke(args=["send-nudges", "--dry-run", "--now", "2026-11-26T20:00:00-05:00"])
    assert result.exit_code == 0, result.output
    assert f"would nudge patient {alice.id} for 2026-11-26" in result.output
    assert "1 nudge(s) and 0 digest(s) would be sent" in result.output
    assert "alice@" not in result.output and "Alice" not in result.output and "Archer" not in result.output
    assert smtp.recipients == []
    assert nudge_rows() == []


@pytest.mark.parametrize("value, message", [
    ("2026-11-26T20:00:00", "has no UTC offset"),
    ("2026-11-26 20:00", "has no UTC offset"),
    ("tonight", "is not an ISO 8601 date and time"),
    ("2026-13-01T00:00:00Z", "is not an ISO 8601 date and time"),
])
def test_now_must_be_an_instant_with_an_offset(app, runner, smtp, value, message):
    add_patient("alice@example.test")
    result = runner.invoke(args=["send-nudges", "--now", value])
    assert result.exit_code == 1
    assert message in result.output
    assert smtp.recipients == []


def test_now_accepts_z_and_offsets(app, runner, smtp):
    add_patient("alice@example.test")
    result = runner.invoke(args=["send-nudges", "--now", "2026-11-27T01:00:00Z"])
    assert result.exit_code == 0, result.output
    assert smtp.recipients == ["alice@example.test"]


def test_loop_and_now_do_not_combine(app, runner):
    result = runner.invoke(args=["send-nudges", "--loop", "--now", "2026-11-27T01:00:00Z"])
    assert result.exit_code == 1
    assert "cannot be combined with --loop" in result.output


# --- Provider digests.

@pytest.fixture
def panel(app):
    """Provider Paula: Lena (lapsed: nothing since the 26th), Kim (checked in yesterday).
    Provider Peter: Kim only. Nobody is lapsed for Peter."""
    paula = add_provider("paula@clinic.test", first_name="Paula", last_name="Avery")
    peter = add_provider("peter@clinic.test", first_name="Peter", last_name="Brook")
    lena = add_patient("lena@example.test", first_name="Lena", last_name="Lapsed", providers=[paula])
    kim = add_patient("kim@example.test", first_name="Kim", last_name="Keeping", providers=[paula, peter])
    add_checkin(lena, date(2026, 11, 26), 7)
    for day in range(26, 30):
        add_checkin(kim, date(2026, 11, day), 7)
    get_clinic()
    db.session.commit()

    class Panel:
        pass

    p = Panel()
    p.paula, p.peter, p.lena, p.kim = paula, peter, lena, kim
    return p


def digests() -> list[ProviderDigest]:
    db.session.expire_all()
    return db.session.scalars(select(ProviderDigest).order_by(ProviderDigest.provider_id)).all()


def digest_messages(server):
    return [m for m in server.messages if m["Subject"] != "Your daily check-in"]


def test_digest_at_eight_clinic_time_once_a_day_with_the_count_and_no_names(app, smtp, panel):
    # 30 November: Lena has missed the 27th, 28th and 29th (3 = the clinic's lapse_days).
    nudges.run(at("2026-11-30T07:59:00-05:00"))
    assert digest_messages(smtp) == []
    nudges.run(at("2026-11-30T08:00:00-05:00"))
    [msg] = digest_messages(smtp)
    assert msg["To"] == "paula@clinic.test"
    text = message_text(msg)
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "1 patient has missed" in text
    assert "http://localhost/patients?flag=lapsed" in text and "http://localhost/patients?flag=lapsed" in html
    for part in (msg["Subject"], text, html):
        for word in ("Lena", "Lapsed", "lena@", "Kim", "Keeping", "kim@", "ketamine", "anxiety"):
            assert word not in part
    for hours in (1, 5, 12):
        nudges.run(at("2026-11-30T08:00:00-05:00") + timedelta(hours=hours))
    assert len(digest_messages(smtp)) == 1
    assert [(d.provider_id, d.local_date, d.status, d.patient_count) for d in digests()] == [
        (panel.paula.id, date(2026, 11, 30), "sent", 1)]

    nudges.run(at("2026-12-01T08:05:00-05:00"))  # next day, still lapsed: one more
    assert [m["To"] for m in digest_messages(smtp)] == ["paula@clinic.test"] * 2


def test_no_digest_when_nobody_is_lapsed(app, smtp, panel):
    add_checkin(panel.lena, date(2026, 11, 29), 7)
    nudges.run(at("2026-11-30T09:00:00-05:00"))
    assert digest_messages(smtp) == []
    assert digests() == []


def test_the_digest_counts_each_providers_own_lapsed_patients(app, smtp, panel):
    tess = add_patient("tess@example.test", providers=[panel.paula, panel.peter])
    add_checkin(tess, date(2026, 11, 20), 7)
    nudges.run(at("2026-11-30T08:00:00-05:00"))
    by_recipient = {m["To"]: message_text(m) for m in digest_messages(smtp)}
    assert "2 patients have missed" in by_recipient["paula@clinic.test"]
    assert "1 patient has missed" in by_recipient["peter@clinic.test"]


def test_the_digest_follows_the_clinics_zone(app, smtp, panel):
    get_clinic().timezone = "Europe/London"
    db.session.commit()
    nudges.run(at("2026-11-30T07:59:00+00:00"))
    assert digest_messages(smtp) == []
    nudges.run(at("2026-11-30T08:00:00+00:00"))  # 03:00 in New York
    assert len(digest_messages(smtp)) == 1


def test_paused_patients_are_not_lapsed_and_paused_days_are_not_missed_after_resuming(app, smtp, panel):
    panel.lena.status = "paused"
    db.session.commit()
    nudges.run(at("2026-11-30T08:00:00-05:00"))
    assert digest_messages(smtp) == []
    # Resumed on 1 December: the paused days do not count; 2 December she has missed only the 1st.
    for day in (30,):
        add_checkin(panel.kim, date(2026, 11, day), 7)
    for day in (1, 2, 3):
        add_checkin(panel.kim, date(2026, 12, day), 7)
    panel.lena.status = "active"
    db.session.add(PatientStatusChange(patient_id=panel.lena.id, status="active",
                                       changed_at=at("2026-12-01T09:00:00-05:00")))
    db.session.commit()
    nudges.run(at("2026-12-02T08:00:00-05:00"))
    assert digest_messages(smtp) == []
    nudges.run(at("2026-12-04T08:00:00-05:00"))  # the 1st, 2nd and 3rd missed: lapsed again
    assert [m["To"] for m in digest_messages(smtp)] == ["paula@clinic.test"]


def test_without_a_clinic_row_the_digest_uses_the_default_zone_and_lapse_days(app, smtp):
    from monitor.models import Clinic
    provider = add_provider("paula@clinic.test")
    lena = add_patient("lena@example.test", providers=[provider])
    add_checkin(lena, date(2026, 11, 26), 7)
    assert db.session.scalars(select(Clinic)).all() == []
    nudges.run(at("2026-11-30T07:59:00-05:00"))  # New York, 3 days
    assert smtp.messages == []
    nudges.run(at("2026-11-30T08:00:00-05:00"))
    assert [m["To"] for m in smtp.messages] == ["paula@clinic.test"]


def test_dry_run_lists_digests_by_id(app, runner, smtp, panel):
    result = runner.invoke(args=["send-nudges", "--dry-run", "--now", "2026-11-30T08:00:00-05:00"])
    assert f"would send a digest to staff {panel.paula.id} for 2026-11-30 (1 lapsed)" in result.output
    assert "paula@" not in result.output
    assert digests() == []
    assert smtp.messages == []
