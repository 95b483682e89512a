"""Benchmark (not a test): what one check-in costs the app itself, in-process, profiled.

    python benchmarks/checkin_profile.py [--history-days 365] [--requests 1000]
                                         [--database sqlite|postgresql] [--top 25]

Issue 9 asks to profile the write path before changing it; this is that profile, repeatable.
It signs in the write benchmark's patients (checkin_write.py: the same forms, the same history),
then calls the WSGI app directly with their POST /checkin requests, with no HTTP server and no
other request in flight, and prints:

- the CPU time a check-in takes (time.process_time; it moves with the machine's hour);
- the Python function calls a check-in makes, under cProfile. For the same code and data they
  do not move with the machine or its hour (runs differ by a few calls: a session's
  once-a-minute touch, an occasional prune), so they compare one version of the write path
  with another where timings cannot (docs/benchmarks.md quotes them);
- the functions that took the most time, by their own time and with what they call.

The first requests of each patient recompute their whole analysis (no stored analysis yet) and
are left out: what is measured is an evening's check-in, one replacing today's."""
import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.test import EnvironBuilder  # noqa: E402

import checkin_write  # noqa: E402  (beside this file)
from clinic_scale import database, migrated_app  # noqa: E402
from monitor.extensions import db  # noqa: E402


def prepared_app(url: str, tmp: str, patients: int, history_days: int):
    """The app on a migrated database with `patients` signed-in patients (each with
    `history_days` of history up to yesterday), and the POST requests their phones send."""
    app = migrated_app(url, tmp, SECRET_KEY="bench-secret", SESSION_COOKIE_SECURE=False, RATELIMIT_ENABLED=False)
    with app.app_context():
        checkin_write.add_patients("w", history_days, patients)
        db.session.commit()
        db.engine.dispose()
    requests = []
    for form in checkin_write.sessions(app, "w", patients=patients):
        environ = EnvironBuilder(path="/checkin", method="POST", data=form["body"],
                                 headers={"Cookie": form["cookie"], "Host": "127.0.0.1"},
                                 content_type="application/x-www-form-urlencoded").get_environ()
        requests.append((environ, form["body"].encode()))
    return app, requests


def send(app, requests: list, count: int) -> None:
    """`count` check-ins, taking the requests in turn; each must be answered 303 (saved)."""
    for n in range(count):
        environ, body = requests[n % len(requests)]
        status = []
        response = app({**environ, "wsgi.input": io.BytesIO(body)}, lambda s, headers, exc_info=None: status.append(s))
        b"".join(response)
        response.close()
        if not status[0].startswith("303"):
            raise RuntimeError(f"a check-in was answered {status[0]}, not 303: the benchmark's forms no longer fit the page")


def measure(database_kind: str = "sqlite", *, history_days: int = checkin_write.HISTORY_DAYS, requests: int = 1000,
            patients: int = checkin_write.PATIENTS) -> dict:
    """CPU ms and Python calls per check-in, and the profile's statistics (pstats.Stats)."""
    with database(database_kind) as url, tempfile.TemporaryDirectory() as tmp:
        app, forms = prepared_app(url, tmp, patients, history_days)
        send(app, forms, len(forms))  # each patient's first check-in stores their analysis whole
        started = time.process_time()
        send(app, forms, requests)
        cpu_ms = (time.process_time() - started) * 1000 / requests
        profile = cProfile.Profile()
        profile.enable()
        send(app, forms, requests)
        profile.disable()
        stats = pstats.Stats(profile)
        with app.app_context():
            db.engine.dispose()
    return {"database": database_kind, "history_days": history_days, "requests": requests,
            "cpu_ms": cpu_ms, "calls": stats.total_calls / requests, "stats": stats}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--history-days", type=int, default=checkin_write.HISTORY_DAYS)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25, help="functions listed by own time and by cumulative time")
    args = parser.parse_args()
    r = measure(args.database, history_days=args.history_days, requests=args.requests)
    print(f"{r['database']}, {r['history_days']} days of history, {r['requests']} check-ins in-process:\n"
          f"  CPU {r['cpu_ms']:.2f} ms a check-in (without the profiler)\n"
          f"  {r['calls']:,.0f} Python function calls a check-in (cProfile)\n")
    r["stats"].sort_stats("tottime").print_stats(args.top)
    r["stats"].sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
