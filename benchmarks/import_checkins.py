"""Benchmark (not a test): `flask --app monitor import-checkins` on a large file, as a clinic
onboarding a year of history would run it.

    python benchmarks/import_checkins.py [--database sqlite|postgresql] [--rows 100000] [--patients 300]

Makes a migrated database with the patients, writes a CSV of `rows` check-ins (one a day per
patient, a tenth with a note; a few rows replace check-ins already stored), runs the real
command in a child process and prints its wall time and peak memory (maximum resident set).
Budget (issue 9): 100,000 rows in at most 30 s, in bounded memory."""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinic_scale import database, migrated_app  # noqa: E402  (benchmarks/clinic_scale.py, beside this file)
from sqlalchemy import insert  # noqa: E402

from monitor.extensions import db  # noqa: E402
from monitor.models import CheckIn, User  # noqa: E402

LAST_DAY = date(2026, 11, 25)  # before any real clock's today, so no row is in the future
SUBMITTED = datetime(2026, 11, 25, 23, tzinfo=timezone.utc)


def write_csv(path: Path, patients: int, rows: int, rng: random.Random) -> None:
    per_patient = rows // patients
    first = LAST_DAY - timedelta(days=per_patient - 1)
    with path.open("w", newline="") as f:
        f.write("patient_email,date,q1,q2,q3,q4,q5,q6,q7,se_nausea,note\n")
        for p in range(patients):
            for d in range(per_patient):
                answers = ",".join(str(rng.randrange(4)) for _ in range(7))
                note = "felt better after the session" if rng.random() < 0.1 else ""
                f.write(f"imp{p}@bench.test,{first + timedelta(days=d)},{answers},{rng.randrange(4)},{note}\n")


def measure(database_kind: str, *, rows: int = 100_000, patients: int = 300) -> dict:
    rng = random.Random(2026)
    with database(database_kind) as url, tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(url, tmp)
        with app.app_context():
            people = [User(email=f"imp{p}@bench.test", role="patient", timezone="America/New_York")
                      for p in range(patients)]
            db.session.add_all(people)
            db.session.flush()
            # A few check-ins already stored: their rows in the file replace them (revisions).
            db.session.execute(insert(CheckIn), [
                {"patient_id": p.id, "local_date": LAST_DAY, "total": 7, "submitted_at": SUBMITTED,
                 "late_entry": False, "source": "web", **{f"q{i}": 1 for i in range(1, 8)}}
                for p in people[:10]])
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        csv_path = Path(tmp) / "checkins.csv"
        write_csv(csv_path, patients, rows, rng)
        # MONITOR_DEV=1: no https BASE_URL on a benchmark machine (monitor/startup_checks.py).
        env = {**os.environ, "DATABASE_URL": url.replace("+psycopg", ""), "SECRET_KEY": "bench", "MONITOR_DEV": "1"}
        peak_file = Path(tmp) / "peak.txt"
        with open(Path(tmp) / "out.txt", "w+") as out:
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", PEAK_REPORTING_FLASK, str(peak_file), "--app", "monitor",
                                   "import-checkins", str(csv_path)], env=env, stdout=out, stderr=subprocess.STDOUT)
            seconds = time.perf_counter() - started
            out.seek(0)
            said = out.read()
        if done.returncode != 0:
            raise RuntimeError(f"import failed:\n{said[-2000:]}")
        peak_kib = int(peak_file.read_text())
    return {"database": database_kind, "rows": rows, "patients": patients, "seconds": round(seconds, 1),
            "peak_mib": round(peak_kib / 1024), "output": said.strip().splitlines()[-1]}


# The flask command in a process that writes its own peak resident set (VmHWM) to a file as it
# exits. Not ru_maxrss: on Linux a child's includes what its parent had resident when it forked,
# and this benchmark's parent may hold a whole generated clinic by then.
PEAK_REPORTING_FLASK = """
import atexit, re, sys
peak_file = sys.argv.pop(1)
def report():
    status = open("/proc/self/status").read()
    open(peak_file, "w").write(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
atexit.register(report)
from flask.cli import main
sys.argv[0] = "flask"
main()
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=300)
    args = parser.parse_args()
    r = measure(args.database, rows=args.rows, patients=args.patients)
    print(f"{r['database']}: {r['rows']:,} rows for {r['patients']} patients: {r['seconds']:.1f} s, "
          f"peak memory {r['peak_mib']} MiB; {r['output']}")


if __name__ == "__main__":
    main()
