"""Benchmark (not a test): the nudge runner's selection in a clinic of 10,000 and 50,000 active
patients (issue 9: at most 5 s, without loading every patient into memory).

    python benchmarks/nudge_selection.py [--database sqlite|postgresql] [--patients 10000 50000] [--repeat 5] [--days 14]

Builds each clinic with Core bulk inserts in a fresh database (a SQLite file in a temporary
directory, or a PostgreSQL database named nudges_bench_<pid>, dropped after), migrated with the
project's own migrations. The clinic at NOW (18:30 in New York, the evening rush):

- active patients in 15 zones from Honolulu to Auckland, half with the default 19:00 reminder,
  the others at quarter hours from 07:00 to 22:45 and a few at odd minutes;
- 14 days of history (--days) with 90% of days checked in; of those already late today, 75% have
  checked in, 40% of the rest were nudged already, a few have a nudge that failed (backing off,
  or due for a retry) or one stuck in "sending"; 15% of the others checked in early;
- 3% lapsed (nothing for 4 to 25 days), 2% enrolled in the last two days, 4% opted out of
  reminders, 1% invited only, 0.5% who changed zone in the last 60 hours, 5% back from a pause;
- plus paused and discharged patients (3% each), and 40 providers with every patient on one
  or two panels.

It times `nudges.run(NOW, dry_run=True)`, which is the whole selection the runner makes before
sending anything (nudges due and the providers' digests of lapsed patients), warm, and reports
the median and best of `repeat` runs, the SQL statements one run issues, and its memory: the
peak of Python allocations (tracemalloc, in a run of its own because tracing slows it), the
same when the recipients are read one at a time and not kept, as a sending run reads them
(`streamed`), and how far one dry run raises the peak resident set of a fresh process (the C
libraries' memory too)."""
import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, time as clock, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinic_scale import database, migrated_app  # noqa: E402  (benchmarks/clinic_scale.py, beside this file)
from sqlalchemy import event, func, insert, select, text  # noqa: E402

from monitor import nudges, schedule  # noqa: E402
from monitor.extensions import db  # noqa: E402
from monitor.models import CheckIn, Clinic, Nudge, PatientStatusChange, User, care_team  # noqa: E402
from monitor.passwords import hash_password  # noqa: E402

NOW = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)  # 18:30 in New York, 08:30 on the 27th in Tokyo
BUDGET_SECONDS = 5.0
HISTORY_DAYS = 14  # default; --days
PROVIDERS = 40
ZONES = {  # zone: weight
    "America/New_York": 30, "America/Chicago": 15, "America/Denver": 6, "America/Phoenix": 2,
    "America/Los_Angeles": 15, "America/Anchorage": 1, "Pacific/Honolulu": 1, "America/Sao_Paulo": 2,
    "Europe/London": 8, "Europe/Berlin": 5, "Asia/Kolkata": 3, "Asia/Kathmandu": 1, "Asia/Tokyo": 3,
    "Australia/Sydney": 3, "Pacific/Auckland": 1,
}
QUARTER_HOURS = [clock(h, m) for h in range(7, 23) for m in (0, 15, 30, 45)]
BATCH = 20_000


def _answers(total: int) -> dict[str, int]:
    values, left = {}, total
    for n in range(1, 8):
        values[f"q{n}"] = min(3, left)
        left -= values[f"q{n}"]
    return values


class Rows:
    """Rows for one table, written with a Core multi-row INSERT every BATCH rows (one
    statement needs the same columns in every row: those not given are NULL)."""

    def __init__(self, table, after: "Rows | None" = None):
        self.table, self.rows, self.count, self.after = table, [], 0, after
        self.nulls = {c.name: None for c in table.columns if c.nullable}

    def add(self, **row) -> None:
        self.rows.append({**self.nulls, **row})
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.after is not None:  # the users these rows point to go in first
            self.after.flush()
        if self.rows:
            db.session.execute(insert(self.table), self.rows)
            self.count += len(self.rows)
            self.rows = []


def populate(active: int, rng: random.Random, history_days: int = HISTORY_DAYS) -> dict[str, int]:
    """The clinic described in the module's docstring; how many rows of each kind."""
    db.session.add(Clinic())
    password_hash = hash_password("benchmark-password-1")
    zones, weights = list(ZONES), list(ZONES.values())
    users = Rows(User.__table__)
    checkins, nudge_rows = Rows(CheckIn.__table__, users), Rows(Nudge.__table__, users)
    team, changes = Rows(care_team, users), Rows(PatientStatusChange.__table__, users)
    for n in range(PROVIDERS):
        users.add(id=n + 1, email=f"provider{n}@bench.test", role="provider", password_hash=password_hash,
                  first_name=f"Pro{n}", last_name="Vider", timezone="America/New_York", reminder_time=clock(19),
                  email_opt_out=False, status="active", active=True, created_at=NOW - timedelta(days=400),
                  previous_timezone=None, timezone_changed_at=None)
    late_on: dict[tuple[str, clock], object] = {}
    patients = active + 2 * round(active * 0.03)
    for n in range(patients):
        patient_id = PROVIDERS + 1 + n
        status = "active" if n < active else ("paused" if (n - active) % 2 else "discharged")
        zone = rng.choices(zones, weights)[0]
        roll = rng.random()
        reminder = (schedule.DEFAULT_REMINDER if roll < 0.5 else rng.choice(QUARTER_HOURS) if roll < 0.98
                    else clock(rng.randrange(24), rng.randrange(60)))
        new = rng.random() < 0.02
        created_at = NOW - (timedelta(hours=rng.uniform(1, 40)) if new else timedelta(days=rng.randrange(30, 400)))
        previous, changed_at = None, None
        if rng.random() < 0.005:
            previous, changed_at = rng.choice(zones), NOW - timedelta(hours=rng.uniform(1, 60))
        opted_out, invited = rng.random() < 0.04, rng.random() < 0.01
        users.add(id=patient_id, email=f"p{n}@bench.test", role="patient", first_name=f"Pat{n}",
                  last_name=f"Patient{n:06d}", password_hash=None if invited else password_hash, timezone=zone,
                  reminder_time=reminder, email_opt_out=opted_out, status=status, active=True, created_at=created_at,
                  previous_timezone=previous if previous != zone else None,
                  timezone_changed_at=changed_at if previous != zone else None)
        team.add(provider_id=1 + n % PROVIDERS, patient_id=patient_id)
        if rng.random() < 0.2:
            team.add(provider_id=1 + (n + 7) % PROVIDERS, patient_id=patient_id)
        if rng.random() < 0.05:
            back = NOW - timedelta(days=rng.uniform(1, 30))
            changes.add(patient_id=patient_id, status="paused", changed_at=back - timedelta(days=20), changed_by_id=1)
            changes.add(patient_id=patient_id, status="active", changed_at=back, changed_by_id=1)
        if new:
            continue
        today = schedule.local_date(NOW, zone)
        if changed_at is not None:
            late = schedule.date_to_nudge(NOW, zone, reminder, previous_zone=previous, zone_changed_at=changed_at)
        else:
            if (zone, reminder) not in late_on:
                late_on[zone, reminder] = schedule.date_to_nudge(NOW, zone, reminder)
            late = late_on[zone, reminder]
        quiet_days = rng.randrange(4, 26) if rng.random() < 0.03 else 0  # lapsed: nothing lately
        dates = set()  # of this patient's check-ins and nudges (one of each per date)
        for back in range(max(1, quiet_days), history_days + quiet_days + 1):
            day = today - timedelta(days=back)
            dates.add(day)
            if rng.random() < 0.9:
                total = rng.randrange(22)
                submitted = datetime.combine(day, clock(19, 30), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
                checkins.add(patient_id=patient_id, local_date=day, total=total, submitted_at=submitted,
                             late_entry=False, source="web", **_answers(total))
            elif rng.random() < 0.8:
                at = NOW - timedelta(days=back)
                nudge_rows.add(patient_id=patient_id, local_date=day, status="sent", attempts=1, next_attempt_at=at,
                               claimed_at=at, sent_at=at, created_at=at)
        if quiet_days or late in dates:  # a zone change's carried date can be in the history
            continue
        checked_today = late is not None and rng.random() < 0.75 or late is None and rng.random() < 0.15
        if checked_today:
            total = rng.randrange(22)
            checkins.add(patient_id=patient_id, local_date=late or today, total=total,
                         submitted_at=NOW - timedelta(minutes=rng.randrange(1, 300)), late_entry=False, source="web",
                         **_answers(total))
        elif late is not None:
            kind = rng.random()
            at = NOW - timedelta(minutes=rng.randrange(1, 120))
            if kind < 0.40:
                nudge_rows.add(patient_id=patient_id, local_date=late, status="sent", attempts=1, next_attempt_at=at,
                               claimed_at=at, sent_at=at, created_at=at)
            elif kind < 0.45:  # failed: backing off (blocked) or due for a retry
                nudge_rows.add(patient_id=patient_id, local_date=late, status="failed", attempts=1,
                               next_attempt_at=NOW + timedelta(minutes=5) if kind < 0.43 else NOW - timedelta(minutes=1),
                               claimed_at=at, created_at=at, last_error="ConnectionRefusedError")
            elif kind < 0.46:
                nudge_rows.add(patient_id=patient_id, local_date=late, status="sending", attempts=1,
                               next_attempt_at=at, claimed_at=NOW - timedelta(hours=1), created_at=at)
    for rows in (users, checkins, nudge_rows, team, changes):
        rows.flush()
    if db.session.get_bind().dialect.name == "postgresql":  # ids were given explicitly
        db.session.execute(text("select setval('users_id_seq', (select max(id) from users))"))
    db.session.commit()
    return {"users": users.count, "checkins": checkins.count, "nudges": nudge_rows.count,
            "status_changes": changes.count}


def selection():
    """Everything the runner selects before it sends: run(dry_run=True)."""
    summary = nudges.run(NOW, dry_run=True)
    return len(summary.would_nudge), len(summary.would_digest)


def streamed():
    """The selection as a sending run reads it: each recipient in turn, none kept (the dry run
    keeps them all to list them)."""
    due, _ = nudges.due_nudges(NOW)
    recipients = sum(1 for _ in due)
    digests, _ = nudges.due_digests(NOW)
    db.session.rollback()
    return recipients, len(digests)


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def peak_rss_growth_mib(fn) -> float:
    """How far the process's peak resident set rises above its current size while fn runs."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux)
    before = _kib("VmRSS")
    fn()
    return (_kib("VmHWM") - before) / 1024


def rss_growth_in_a_fresh_process(url: str, tmp: str) -> float:
    """Peak resident set growth of one selection in a process of its own: in this one, building
    the clinic has already grown the heap, and later runs reuse that memory."""
    done = subprocess.run([sys.executable, __file__, "--rss-of-one-run", url, tmp],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _rss_of_one_run(url: str, tmp: str) -> None:
    app = migrated_app(url, tmp)
    with app.app_context():
        db.session.execute(text("select 1"))  # connected before the baseline
        print(peak_rss_growth_mib(selection))


def traced_peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def count_queries(fn) -> int:
    statements = []

    def count(*args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def measure_clinic(kind: str, active: int, repeat: int, history_days: int = HISTORY_DAYS) -> dict:
    rng = random.Random(2026 + active)
    with database(kind, prefix="nudges_bench") as url, tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(url, tmp)
        with app.app_context():
            started = time.perf_counter()
            rows = populate(active, rng, history_days)
            generated = time.perf_counter() - started
            if kind == "postgresql":
                db.session.execute(text("analyze"))
                db.session.commit()
            db.session.remove()
        with app.app_context():
            would_nudge, would_digest = selection()
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                selection()
                samples.append(time.perf_counter() - started)
            queries = count_queries(selection)
            traced = traced_peak_mib(selection)
            traced_streamed = traced_peak_mib(streamed)
            checked = db.session.scalar(select(func.count()).select_from(CheckIn))
            db.session.remove()
        rss = rss_growth_in_a_fresh_process(url, tmp)
    return {"active_patients": active, "users": rows["users"], "checkins": checked, "nudge_rows": rows["nudges"],
            "generated_seconds": round(generated, 1), "would_nudge": would_nudge, "would_digest": would_digest,
            "median_seconds": round(statistics.median(samples), 3), "best_seconds": round(min(samples), 3),
            "queries": queries, "traced_peak_mib": round(traced, 1),
            "streamed_traced_peak_mib": round(traced_streamed, 1), "rss_growth_mib": round(rss, 1)}


def measure(database: str, patients=(10_000, 50_000), repeat: int = 5, history_days: int = HISTORY_DAYS) -> dict:
    return {"database": database, "now": NOW.isoformat(), "budget_seconds": BUDGET_SECONDS,
            "history_days": history_days,
            "clinics": [measure_clinic(database, n, repeat, history_days) for n in patients]}


def main():
    if sys.argv[1:2] == ["--rss-of-one-run"]:
        return _rss_of_one_run(*sys.argv[2:4])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--days", type=int, default=HISTORY_DAYS, help="days of history before today")
    args = parser.parse_args()
    figures = measure(args.database, args.patients, args.repeat, args.days)
    print(f"{args.database}: nudges.run(dry_run=True) at {NOW.isoformat()}, medians of {args.repeat} warm runs\n")
    print("| active patients | check-ins | would nudge | would digest | median s | best s | queries "
          "| traced peak MiB | streamed: traced peak MiB | RSS growth MiB | budget 5 s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in figures["clinics"]:
        print(f"| {c['active_patients']:,} | {c['checkins']:,} | {c['would_nudge']:,} | {c['would_digest']} "
              f"| {c['median_seconds']:.2f} | {c['best_seconds']:.2f} | {c['queries']} | {c['traced_peak_mib']:.1f} "
              f"| {c['streamed_traced_peak_mib']:.1f} "
              f"| {c['rss_growth_mib']:.1f} | {'met' if c['median_seconds'] <= BUDGET_SECONDS else 'not met'} |")
    for c in figures["clinics"]:
        print(f"\n{c['active_patients']:,} active: {c['users']:,} users, {c['nudge_rows']:,} nudge rows; "
              f"generated in {c['generated_seconds']} s", end="")
    print()


if __name__ == "__main__":
    main()
