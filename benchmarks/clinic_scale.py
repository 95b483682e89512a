"""Benchmark (not a test): the pages of issue 9's budgets in a clinic of realistic size.

    python benchmarks/clinic_scale.py [--database sqlite|postgresql] [--patients 2000] [--panel 500]

Generates a clinic (default: 2,000 patients with a year of history: daily check-ins with 10%
missed, a treatment session every week; 500 of them on one provider's panel), migrated with the
project's own migrations, then times real requests through the app (sign-in session checks,
audit hook and all) with Flask's test client:

- the dashboard of the 500-patient panel, warm (nothing written since the previous view: the
  worker keeps what that view read, monitor/write_version.py), and right after a check-in
  elsewhere in the clinic (which moves the write version: everything is read afresh);
- a patient's page (a year, 52 sessions);
- the clinic report, as an admin, warm and right after a check-in elsewhere.

Prints a Markdown table with each budget for docs/benchmarks.md. PostgreSQL: a fresh database
on BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres), dropped after."""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime, time as clock, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, event, insert, text  # noqa: E402

from monitor import create_app, stored_analysis, timeutil  # noqa: E402
from monitor.checkins import save_checkin  # noqa: E402
from monitor.clinic import get_clinic  # noqa: E402
from monitor.config import engine_options  # noqa: E402
from monitor.extensions import db  # noqa: E402
from monitor.models import CheckIn, Treatment, User, care_team  # noqa: E402
from monitor.passwords import hash_password  # noqa: E402
from monitor.serving import settle_heap  # noqa: E402

NOW = datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc)  # 18:00 in New York: the evening rush
ZONE = "America/New_York"
PASSWORD = "benchmark-password-1"
# Budgets of issue 9, in milliseconds (medians).
BUDGETS = {"dashboard warm": 100, "dashboard after a check-in": 300, "patient page": 150, "report": 500,
           "report after a check-in": 500}
# A weekly session's benefit: totals by day since the session, waning from day 5.
PATTERN = [12, 5, 4, 5, 6, 9, 11]


def answers(total: int) -> dict[str, int]:
    values, left = {}, total
    for n in range(1, 8):
        values[f"q{n}"] = min(3, left)
        left -= values[f"q{n}"]
    return values


def history(patient_id: int, last_day: date, days: int, rng: random.Random, now: datetime) -> tuple[list, list]:
    """One patient's bulk rows, check-ins and treatments, for the `days` up to `last_day`: a
    session every week, its benefit waning from day 5 (PATTERN), 10% of days missed."""
    checkins, treatments = [], []
    offset = rng.randrange(7)
    for n in range(days):
        day = last_day - timedelta(days=days - 1 - n)
        if (n + offset) % 7 == 0:
            at = datetime.combine(day, clock(10), tzinfo=ZoneInfo(ZONE)).astimezone(timezone.utc)
            treatments.append({"patient_id": patient_id, "administered_at": at, "route": "lozenge",
                               "dose_mg": Decimal(50), "created_at": at, "updated_at": at, "source": "web"})
        if rng.random() < 0.10:
            continue  # 10% of days missed
        total = PATTERN[(n + offset) % 7] if n + offset >= 7 else 15
        submitted = datetime.combine(day, clock(19), tzinfo=ZoneInfo(ZONE)).astimezone(timezone.utc)
        checkins.append({"patient_id": patient_id, "local_date": day, "total": total,
                         "submitted_at": min(submitted, now), "late_entry": False, "source": "web", **answers(total)})
    return checkins, treatments


def populate(patients: int, panel: int, days: int, rng: random.Random) -> dict:
    """Bulk rows (the services would take far longer for a year of a whole clinic)."""
    password_hash = hash_password(PASSWORD)
    staff = [User(email="panel@bench.test", role="provider", first_name="Pat", last_name="Panel", password_hash=password_hash),
             User(email="other@bench.test", role="provider", first_name="Oli", last_name="Other", password_hash=password_hash),
             User(email="admin@bench.test", role="admin", first_name="Ada", last_name="Admin", password_hash=password_hash)]
    db.session.add_all(staff)
    people = [User(email=f"p{n}@bench.test", role="patient", first_name=f"Pat{n}", last_name=f"Patient{n:05d}",
                   timezone=ZONE, password_hash=password_hash, created_at=NOW - timedelta(days=days + 10))
              for n in range(patients)]
    db.session.add_all(people)
    db.session.flush()
    db.session.execute(insert(care_team), [
        {"provider_id": staff[0 if n < panel else 1].id, "patient_id": p.id} for n, p in enumerate(people)])
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    checkins, treatments = [], []

    def flush():
        if checkins:
            db.session.execute(insert(CheckIn), checkins)
        if treatments:
            db.session.execute(insert(Treatment), treatments)
        checkins.clear()
        treatments.clear()

    for p in people:
        more_checkins, more_treatments = history(p.id, today, days, rng, NOW)
        checkins += more_checkins
        treatments += more_treatments
        if len(checkins) > 50_000:
            flush()
    flush()
    db.session.commit()
    return {"panel_provider": staff[0].email, "admin": staff[2].email, "patients": [p.id for p in people]}


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """Median and best wall-clock ms, and the median CPU ms of this process (the web process's
    own work: a shared machine's other load moves it less than the clock; on PostgreSQL the
    server's work is not in it)."""
    samples, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(samples), min(samples), statistics.median(cpu)


def reference_ms(repeat: int = 60) -> float:
    """How fast the machine ran: the median ms of a fixed piece of pure Python (SPEC 4's
    analysis of one patient's year with 52 sessions, as benchmarks/analysis_functions.py times
    it), taken before and after the pages. This kind of machine is shared and its speed moves
    by half within an hour; beside the pages, this tells a slow hour from a slow page."""
    from analysis_functions import TODAY, year_of_data  # beside this file
    from monitor import durability
    totals, sessions = year_of_data()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        durability.analyse_patient(totals.items(), sessions, TODAY)
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


def signed_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, "benchmark sign-in failed"
    return client


def get(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)


def migrated_app(url: str, tmp: str, **config):
    """The app on a benchmark database, migrated with the project's own migrations; files in tmp."""
    from flask_migrate import upgrade
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
                      "SECRET_KEY": "bench", "MAIL_FILE_DIR": tmp, **config})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return app


@contextmanager
def database(kind: str, prefix: str = "monitor_bench"):
    """A fresh database for one benchmark: a file in a temporary directory, or a PostgreSQL
    database named prefix_<pid> (dropped after)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin_url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    # BENCH_DB_PREFIX: parallel runs on a shared server each keep to their own names.
    name = f"{os.environ.get('BENCH_DB_PREFIX', prefix + '_')}{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def measure(database_kind: str, *, patients: int = 2000, panel: int = 500, days: int = 365, repeat: int = 5) -> dict:
    """Issue 9's page budgets on a generated clinic: medians in ms, and queries per request."""
    rng = random.Random(2026)
    with database(database_kind) as url, tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(url, tmp, RATELIMIT_ENABLED=False, TWO_FACTOR_REQUIRED_FOR_STAFF=False,
                           WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=False)  # the test client speaks plain http
        with app.app_context():
            timeutil.freeze(NOW)
            get_clinic()
            started = time.perf_counter()
            made = populate(patients, panel, days, rng)
            generated = time.perf_counter() - started
            # As `flask --app monitor refresh-analysis` after a bulk load: every stored analysis.
            started = time.perf_counter()
            stored_analysis.refresh_stale(commit=db.session.commit)
            refreshed = time.perf_counter() - started
            if database_kind == "postgresql":
                # Planner statistics, as autovacuum gathers them on its own after a bulk load.
                db.session.execute(text("analyze"))
                db.session.commit()
            provider, admin, ids = made["panel_provider"], made["admin"], made["patients"]
            checkins = db.session.scalar(text("select count(*) from checkins"))
            db.session.remove()
        # As each gunicorn worker does once the app is loaded (monitor/gunicorn_conf.py).
        settle_heap()
        # Requests run outside any app context, each in its own, as in production.
        staff_client, admin_client = signed_in(app, provider), signed_in(app, admin)
        someone = ids[0]

        def a_checkin_elsewhere():
            # A check-in by a patient on another provider's panel, as the evening brings them.
            with app.app_context():
                patient = db.session.get(User, rng.choice(ids[panel:]))
                save_checkin(patient, NOW.astimezone(ZoneInfo(ZONE)).date(), answers(rng.randrange(22)), {}, None)
                db.session.commit()
                db.session.remove()

        def after_a_checkin():
            a_checkin_elsewhere()
            get(staff_client, "/patients")

        def report_after_a_checkin():
            a_checkin_elsewhere()
            get(admin_client, "/report")

        def nothing():
            pass

        # name: (client, url, what is timed, times, what comes before the view whose queries are counted)
        pages = {
            "dashboard warm": (staff_client, "/patients", lambda: get(staff_client, "/patients"), repeat, nothing),
            "dashboard after a check-in": (staff_client, "/patients", after_a_checkin, repeat, a_checkin_elsewhere),
            "patient page": (staff_client, f"/patients/{someone}", lambda: get(staff_client, f"/patients/{someone}"),
                             repeat, nothing),
            "report": (admin_client, "/report", lambda: get(admin_client, "/report"), max(3, repeat // 2), nothing),
            "report after a check-in": (admin_client, "/report", report_after_a_checkin, max(3, repeat // 2),
                                        a_checkin_elsewhere),
        }
        get(staff_client, "/patients")  # warm the process
        get(admin_client, "/report")
        reference = [reference_ms()]
        results = {}
        for name, (client, url, fn, times, before_counting) in pages.items():
            median, best, cpu = timed(fn, times)
            before_counting()
            with app.app_context(), counting(db.engine) as statements:
                get(client, url)
            results[name] = {"median_ms": round(median, 1), "best_ms": round(best, 1), "cpu_ms": round(cpu, 1),
                             "queries": len(statements),
                             "budget_ms": BUDGETS[name]}
        reference.append(reference_ms())
        timeutil.freeze(None)
    return {"database": database_kind, "patients": patients, "panel": panel, "days": days, "checkins": checkins,
            "generated_s": round(generated, 1), "refreshed_s": round(refreshed, 1), "pages": results,
            "reference_ms": reference}


@contextmanager
def counting(engine):
    """Every statement the engine runs meanwhile, whichever session runs it."""
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def table(result: dict) -> str:
    lines = [f"{result['database']}: {result['patients']:,} patients ({result['panel']} on the panel), "
             f"{result['days']} days, {result['checkins']:,} check-ins; generated in {result['generated_s']:.0f} s, "
             f"analyses stored in {result['refreshed_s']:.0f} s; the machine's reference workload "
             f"took {result['reference_ms'][0]} ms before the pages and {result['reference_ms'][1]} ms after", "",
             "| what | median ms | best ms | CPU ms | queries | budget ms | met |", "|---|---:|---:|---:|---:|---:|---|"]
    for name, r in result["pages"].items():
        lines.append(f"| {name} | {r['median_ms']:,.0f} | {r['best_ms']:,.0f} | {r['cpu_ms']:,.0f} | {r['queries']} | "
                     f"{r['budget_ms']} | "
                     f"{'yes' if r['median_ms'] <= r['budget_ms'] else 'no'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--panel", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(table(measure(args.database, patients=args.patients, panel=args.panel, days=args.days, repeat=args.repeat)))


if __name__ == "__main__":
    main()
