"""Benchmark (not a test): the audit viewer's patient filter on a year of a clinic's audit log.

    python benchmarks/audit_log.py [--database sqlite|postgresql] [--events 200000]

Generates a log of `--events` events (default 200,000, a year of a busy clinic) over 2,000
patients: 30% dashboard pages and 5% report pages listing 50 patients each, one clinic export
in a thousand listing all 2,000, the rest single-patient pages, treatment pages and sign-ins;
millions of rows of shown patients. Then times, as an admin through the app (sign-in session
checks and audit hook included), the viewer unfiltered, filtered by a patient (pages 1 and 3),
by a target, and the patient-filtered CSV. Medians in ms. PostgreSQL as in clinic_scale.py."""
import argparse
import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text  # noqa: E402

from clinic_scale import NOW, PASSWORD, database, get, migrated_app, signed_in, timed  # noqa: E402
from monitor import timeutil  # noqa: E402
from monitor.clinic import get_clinic  # noqa: E402
from monitor.extensions import db  # noqa: E402
from monitor.models import AuditEvent, AuditEventPatient, Treatment, User  # noqa: E402
from monitor.passwords import hash_password  # noqa: E402

PATIENTS = 2000
PANEL = 500


def bulk(model, rows: list[dict]) -> None:
    """Multi-row INSERTs of some 10,000 values each: far faster than an executemany on PostgreSQL."""
    per = 10_000 // len(rows[0])
    for start in range(0, len(rows), per):
        db.session.execute(insert(model).values(rows[start:start + per]))


def populate(events: int, rng: random.Random) -> dict:
    password_hash = hash_password(PASSWORD)
    admin = User(email="admin@bench.test", role="admin", first_name="Ada", last_name="Admin",
                 password_hash=password_hash)
    providers = [User(email=f"pr{n}@bench.test", role="provider", password_hash=password_hash) for n in range(4)]
    db.session.add_all([admin, *providers])
    db.session.flush()
    db.session.execute(insert(User), [{"email": f"p{n}@bench.test", "role": "patient", "timezone": "America/New_York"}
                                      for n in range(PATIENTS)])
    patients = list(db.session.scalars(select(User.id).where(User.role == "patient").order_by(User.id)))
    db.session.execute(insert(Treatment), [
        {"patient_id": p, "administered_at": NOW - timedelta(days=7 * k), "route": "lozenge", "dose_mg": 50,
         "created_at": NOW, "updated_at": NOW, "source": "web"} for p in patients for k in range(10)])
    treatments = list(db.session.scalars(select(Treatment.id)))
    staff = [p.id for p in providers]

    rows, shown, first_id = [], [], 1
    for n in range(events):
        at = NOW - timedelta(seconds=(events - n) * 150)  # spread over the year, oldest first
        event = {"id": first_id + n, "at": at, "actor_id": rng.choice(staff), "ip": "198.51.100.7",
                 "target_type": None, "target_id": None, "detail": None}
        roll = rng.random()
        if roll < 0.30:
            panel = rng.randrange(PATIENTS // PANEL) * PANEL
            listed = rng.sample(patients[panel:panel + PANEL], 50)
            event.update(action="dashboard.viewed", detail=f"50 of {PANEL} patients")
        elif roll < 0.35:
            listed = rng.sample(patients, 50)
            event.update(action="report.viewed", detail=f"clinic, {PATIENTS} patients")
        elif roll < 0.351:
            listed = patients
            event.update(action="export.checkins", detail=f"all visible patients ({PATIENTS})")
        else:
            listed = []
            if roll < 0.75:
                event.update(action="patient.viewed", target_type="patient", target_id=rng.choice(patients))
            elif roll < 0.85:
                event.update(action="treatment.viewed", target_type="treatment", target_id=rng.choice(treatments))
            else:
                event.update(action="login", target_type="user", target_id=rng.choice(staff))
        rows.append(event)
        shown += [{"event_id": event["id"], "patient_id": p} for p in listed]
        if len(shown) > 200_000 or n == events - 1:
            bulk(AuditEvent, rows)
            if shown:
                bulk(AuditEventPatient, shown)
            rows.clear()
            shown.clear()
    if db.engine.dialect.name == "postgresql":  # the ids were given: the app's next event follows them
        db.session.execute(text("select setval(pg_get_serial_sequence('audit_events', 'id'), max(id)) "
                                "from audit_events"))
    db.session.commit()
    return {"admin": admin.email, "patients": patients}


def measure(kind: str, events: int, repeat: int) -> None:
    rng = random.Random(2026)
    with database(kind, prefix="monitor_bench_audit") as url, tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(url, tmp, RATELIMIT_ENABLED=False, TWO_FACTOR_REQUIRED_FOR_STAFF=False,
                           WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=False)
        with app.app_context():
            timeutil.freeze(NOW)
            get_clinic()
            made = populate(events, rng)
            if kind == "postgresql":
                # As autovacuum does after a bulk load: planner statistics, and the visibility map
                # that lets the patient filter read its indexes alone.
                db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("vacuum analyze"))
            counts = (db.session.scalar(select(func.count()).select_from(AuditEvent)),
                      db.session.scalar(select(func.count()).select_from(AuditEventPatient)))
            db.session.remove()
        client = signed_in(app, made["admin"])
        someone = made["patients"][7]  # on the first panel
        urls = {
            "unfiltered, page 1": "/admin/audit",
            "patient, page 1": f"/admin/audit?patient={someone}",
            "patient, page 3": f"/admin/audit?patient={someone}&page=3",
            "patient and dates": f"/admin/audit?patient={someone}&from=2026-06-01&to=2026-06-30",
            "target patient (for comparison)": f"/admin/audit?target_type=patient&target_id={someone}",
            "patient, CSV": f"/admin/audit.csv?patient={someone}",
        }
        print(f"{kind}: {counts[0]:,} events, {counts[1]:,} rows of shown patients\n")
        print("| request | median ms | best ms |\n|---|---:|---:|")
        for name, url in urls.items():
            get(client, url)  # warm
            median, best, _ = timed(lambda: get(client, url), repeat)
            print(f"| {name} | {median:.0f} | {best:.0f} |")
        with app.app_context():
            print("\n" + client.get(f"/admin/audit?patient={someone}").get_data(as_text=True)
                  .split("<caption", 1)[1].split(">", 1)[1].split("<", 1)[0])
        timeutil.freeze(None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    measure(args.database, args.events, args.repeat)
