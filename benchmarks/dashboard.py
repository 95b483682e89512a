"""Benchmark (not a test): python benchmarks/dashboard.py prints the cost of the triage dashboard
in a clinic of 200 patients with a year of daily check-ins and weekly sessions each (73,000
check-ins, 10,400 sessions), for a provider whose panel is 20 of them.

The analysis is stored (monitor/stored_analysis.py): the first view computes and stores every
patient's (cold), later views read it (warm)."""
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, event, insert  # noqa: E402

from monitor import create_app, dashboard, timeutil  # noqa: E402
from monitor.clinic import get_clinic  # noqa: E402
from monitor.extensions import db  # noqa: E402
from monitor.models import CheckIn, PatientAnalysisRow, Treatment, TreatmentResultRow, User, care_team  # noqa: E402
from run import timed  # noqa: E402  (benchmarks/run.py, beside this file)

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)
PATIENTS, PANEL, DAYS = 200, 20, 365
PATTERN = [12, 5, 4, 5, 6, 9, 11]  # totals by day since the weekly session: waning on day 5


def populate():
    provider = User(email="provider@bench.test", role="provider", first_name="P", last_name="Rovider")
    db.session.add(provider)
    patients = [User(email=f"p{n}@bench.test", role="patient", first_name=f"P{n}", last_name=f"Patient{n:03d}",
                     timezone="America/New_York", created_at=NOW - timedelta(days=DAYS + 10))
                for n in range(PATIENTS)]
    db.session.add_all(patients)
    db.session.flush()
    db.session.execute(insert(care_team), [{"provider_id": provider.id, "patient_id": p.id} for p in patients[:PANEL]])
    today = NOW.date()
    checkins, treatments = [], []
    for p in patients:
        for n in range(DAYS):
            day = today - timedelta(days=DAYS - 1 - n)
            total = PATTERN[n % 7]
            answers = {f"q{i}": min(3, max(0, total - 3 * (i - 1))) for i in range(1, 8)}
            answers["q7"] += total - sum(answers.values())
            checkins.append({"patient_id": p.id, "local_date": day, "total": total, "submitted_at": NOW, **answers})
            if n % 7 == 0:
                at = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=15)
                treatments.append({"patient_id": p.id, "administered_at": at, "route": "lozenge", "dose_mg": Decimal(50)})
    db.session.execute(insert(CheckIn), checkins)
    db.session.execute(insert(Treatment), treatments)
    db.session.commit()
    return provider


def main():
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                          "SECRET_KEY": "bench", "MAIL_FILE_DIR": tmp})
        with app.app_context():
            db.create_all()
            timeutil.freeze(NOW)
            get_clinic()
            provider = populate()
            queries = []
            event.listen(db.engine, "before_cursor_execute", lambda *args: queries.append(1))

            def cold():
                db.session.execute(delete(TreatmentResultRow))
                db.session.execute(delete(PatientAnalysisRow))
                db.session.expire_all()
                dashboard.build(provider, now=NOW)
                db.session.rollback()

            def warm():
                db.session.expire_all()
                dashboard.build(provider, now=NOW)

            rows = [("dashboard, 20 patients, nothing stored yet (every patient analysed)", *timed(cold, 3))]
            dashboard.build(provider, now=NOW)
            db.session.commit()
            rows.append(("dashboard, 20 patients, analysis stored", *timed(warm, 20)))
            queries.clear()
            warm()
            warm_queries = len(queries)
            print(f"{PATIENTS} patients x {DAYS} days ({PATIENTS * DAYS:,} check-ins), panel of {PANEL}, SQLite\n")
            print("| what | median ms | best ms |\n|---|---:|---:|")
            for name, med, best in rows:
                print(f"| {name} | {med:.1f} | {best:.1f} |")
            print(f"\nqueries per warm dashboard: {warm_queries}")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
