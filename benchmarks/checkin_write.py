"""Benchmark (not a test): the check-in write path under load, against the machine's ceiling.

    python benchmarks/checkin_write.py [--database sqlite|postgresql] [--connections 32] [--seconds 10]
                                       [--port 8765]

Needs `gunicorn` (pip) and `wrk` (apt). Both apps run under the same gunicorn settings (4 sync
workers on loopback) in the same run:

- the bare ceiling: a Flask endpoint that inserts one row with the database driver itself
  (sqlite3 in WAL mode with synchronous=NORMAL, or psycopg), nothing else;
- the app: signed-in patients POST /checkin with a valid form and CSRF token, as their phones
  do, each replacing today's check-in (so every request writes a check-in and a revision).
  Each of the 64 patients has a year of history (a check-in on 9 days in 10 and a session every
  week: 52), so the stored analysis that every check-in brings up to date is a year's;
- the app again, for 64 other patients without history: what the web stack costs a check-in
  when the analysis has next to nothing to redo (not a budget; it says where the time goes).

The two servers listen on --port and the port after it (BENCH_PORT; default 8765), on loopback.

Prints requests a second, the ratio to the ceiling, the 99th percentile and the errors.
Budget (issue 9): at least 0.25 of the ceiling, a 99th percentile of at most 100 ms, no errors."""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinic_scale import database, history, migrated_app  # noqa: E402  (beside this file)
from sqlalchemy import insert  # noqa: E402

from monitor.extensions import db  # noqa: E402
from monitor.models import CheckIn, Treatment, User  # noqa: E402
from monitor.passwords import hash_password  # noqa: E402

PASSWORD = "benchmark-password-1"
WORKERS = 4
PATIENTS = 64
HISTORY_DAYS = 365  # up to yesterday; 52 weekly sessions in it
ZONE = "America/New_York"
BARE_APP = textwrap.dedent('''
    import os, sqlite3, threading
    from flask import Flask
    url = os.environ["BARE_DATABASE"]
    app = Flask(__name__)
    local = threading.local()

    def connection():
        if not hasattr(local, "db"):
            if url.startswith("sqlite"):
                local.db = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
                local.db.execute("pragma journal_mode=wal")
                local.db.execute("pragma synchronous=normal")
            else:
                import psycopg
                local.db = psycopg.connect(url.replace("+psycopg", ""))
        return local.db

    @app.post("/write")
    def write():
        db = connection()
        db.execute("insert into bare (at) values (current_timestamp)")
        db.commit()
        return "ok"
''')


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # an answer, even a 404, means it is up
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def gunicorn(app_spec: str, port: int, env: dict, cwd: str, log, *options: str) -> subprocess.Popen:
    # The log to a file, not a pipe nobody reads: a full pipe would stall the workers.
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *options, "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", app_spec], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)


def cpu_seconds(master: int) -> float:
    """CPU time used so far by gunicorn's master and workers (Linux /proc). Per request, it
    says what a request costs whatever else the machine is doing (a shared machine's other
    work lowers requests a second, not this); the database server's own work is not in it."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in [master, *map(int, children)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def wrk(url: str, script: str, connections: int, seconds: int) -> dict:
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                           "-s", script, url], capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rate": rate, "p99_ms": p99_ms, "requests": requests, "errors": (int(bad.group(1)) if bad else 0)
            + (sum(map(int, errors.groups())) if errors else 0)}


def add_history(patients: list[User], now: datetime, rng: random.Random, days: int = HISTORY_DAYS) -> int:
    """A year up to yesterday for each patient (bulk rows: the services would take minutes).
    How many check-ins."""
    yesterday = now.astimezone(ZoneInfo(ZONE)).date() - timedelta(days=1)
    checkins, treatments = [], []
    for p in patients:
        more_checkins, more_treatments = history(p.id, yesterday, days, rng, now)
        checkins += more_checkins
        treatments += more_treatments
    if checkins:
        db.session.execute(insert(CheckIn), checkins)
    if treatments:
        db.session.execute(insert(Treatment), treatments)
    return len(checkins)


def add_patients(prefix: str, history_days: int, patients: int = PATIENTS) -> int:
    """The benchmark's patients, prefix0@bench.test and on, signed up with PASSWORD, each with
    `history_days` of history up to yesterday (none: enrolled today). How many check-ins."""
    password_hash = hash_password(PASSWORD)
    enrolled = {"created_at": datetime.now(timezone.utc) - timedelta(days=history_days + 10)} if history_days else {}
    people = [User(email=f"{prefix}{n}@bench.test", role="patient", timezone=ZONE, password_hash=password_hash,
                   **enrolled) for n in range(patients)]
    db.session.add_all(people)
    db.session.flush()
    return add_history(people, datetime.now(timezone.utc), random.Random(2026), history_days) if history_days else 0


VARIANTS = 4  # forms per patient, with different totals: each save changes the analysis


def sessions(app, prefix: str = "w", patients: int = PATIENTS, password: str = PASSWORD) -> list[dict]:
    """A signed-in cookie and valid check-in forms for each benchmark patient, in the order sent:
    a patient's consecutive submissions carry different answers (a different total).
    tests/test_benchmark_scripts.py sends them, so a change to the pages cannot break this unseen."""
    forms = [[] for _ in range(VARIANTS)]
    for n in range(patients):
        client = app.test_client()
        response = client.post("/login", data={"email": f"{prefix}{n}@bench.test", "password": password,
                                               "csrf_token": _token(client.get("/login").get_data(as_text=True))})
        assert response.status_code == 302, "benchmark sign-in failed"
        page = client.get("/checkin").get_data(as_text=True)
        day = re.search(r'name="local_date" value="(\d{4}-\d\d-\d\d)"', page).group(1)
        cookie = client.get_cookie(app.session_interface.get_cookie_name(app))
        for v in range(VARIANTS):
            body = "&".join(f"{k}={val}" for k, val in {
                "csrf_token": _token(page), "local_date": day, "submission_key": "",
                **{f"q{i}": (i + v) % 4 for i in range(1, 8)}}.items())
            forms[v].append({"cookie": f"{cookie.key}={cookie.value}", "body": body})
    return [form for variant in forms for form in variant]


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


LUA = '''
local forms = %s
local n = 0
request = function()
  n = n + 1
  local f = forms[(n %% #forms) + 1]
  return wrk.format("POST", "/checkin", {["Cookie"] = f.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded"}, f.body)
end
'''


def measure(database_kind: str, *, connections: int = 32, seconds: int = 10, port: int | None = None,
            history_days: int = HISTORY_DAYS, app_spec: str = "monitor:create_app()") -> dict:
    """Requests a second, 99th percentile and errors of the bare ceiling and of the app, in one run."""
    port = port or int(os.environ.get("BENCH_PORT", "8765"))
    with database(database_kind) as url, tempfile.TemporaryDirectory() as tmp:
        # MONITOR_DEV=1: plain http on 127.0.0.1, which a real install refuses (monitor/startup_checks.py).
        env = {**os.environ, "DATABASE_URL": url.replace("+psycopg", ""), "SECRET_KEY": "bench-secret",
               "SESSION_COOKIE_SECURE": "0", "BASE_URL": "http://127.0.0.1", "MONITOR_DEV": "1",
               "PYTHONPATH": str(Path(__file__).parents[1])}
        app = migrated_app(url, tmp, SECRET_KEY="bench-secret", SESSION_COOKIE_SECURE=False, RATELIMIT_ENABLED=False)
        with app.app_context():
            history = add_patients("w", history_days)
            # As many again without history: what the web stack costs when the analysis has
            # nothing to redo (the third run below), to say how much of a check-in is the refresh.
            add_patients("new", 0)
            db.session.execute(db.text("create table bare (id integer primary key, at timestamp)")
                               if database_kind == "sqlite" else
                               db.text("create table bare (id serial primary key, at timestamp)"))
            db.session.commit()
            db.engine.dispose()
        scripts = {}
        for prefix in ("w", "new"):  # (the rate limits are on for the gunicorn run: as in production)
            scripts[prefix] = Path(tmp) / f"checkin_{prefix}.lua"
            scripts[prefix].write_text(LUA % ("{" + ",".join(
                "{cookie=%s, body=%s}" % (json.dumps(f["cookie"]), json.dumps(f["body"]))
                for f in sessions(app, prefix)) + "}"))
        bare_script = Path(tmp) / "bare.lua"
        bare_script.write_text('wrk.method = "POST"\n')
        (Path(tmp) / "bare.py").write_text(BARE_APP)
        results = {}
        for name, spec, at, cwd, lua, path in (
            ("bare", "bare:app", port, tmp, bare_script, "/write"),
            ("app", app_spec, port + 1, str(Path(__file__).parents[1]), scripts["w"], "/checkin"),
            ("no_history", app_spec, port + 1, str(Path(__file__).parents[1]), scripts["new"], "/checkin"),
        ):
            with open(Path(tmp) / f"{name}.log", "w") as log:
                # The app as the README deploys it, with the shipped settings (monitor/gunicorn_conf.py).
                options = () if name == "bare" else ("-c", "python:monitor.gunicorn_conf")
                server = gunicorn(spec, at, {**env, "BARE_DATABASE": url}, cwd, log, *options)
                wait_for(f"http://127.0.0.1:{at}/")
                time.sleep(2)  # every worker booted: their start-up is not counted below
                stored_before = stored_writes(app)
                try:
                    before = cpu_seconds(server.pid)
                    results[name] = wrk(f"http://127.0.0.1:{at}{path}", str(lua), connections, seconds)
                    results[name]["cpu_ms"] = (cpu_seconds(server.pid) - before) * 1000 / results[name]["requests"]
                finally:
                    server.terminate()
                    server.wait(timeout=30)
                if name != "bare":
                    # A 3xx is a success to wrk, and so would be a redirect to the sign-in page:
                    # count what was stored instead (every request replaced a check-in: one
                    # revision each, or created today's). Requests in flight when wrk stopped may
                    # add a few.
                    results[name]["errors"] += max(0, results[name]["requests"] - (stored_writes(app) - stored_before))
    bare, app_, floor = results["bare"], results["app"], results["no_history"]
    return {"database": database_kind, "workers": WORKERS, "connections": connections, "seconds": seconds,
            "patients": PATIENTS, "history_days": history_days, "history_checkins": history,
            "bare_rate": bare["rate"], "bare_p99_ms": bare["p99_ms"], "bare_errors": bare["errors"],
            "app_rate": app_["rate"], "app_p99_ms": app_["p99_ms"], "app_errors": app_["errors"],
            "bare_cpu_ms_per_request": bare["cpu_ms"], "app_cpu_ms_per_request": app_["cpu_ms"],
            "ratio": app_["rate"] / bare["rate"],
            "no_history_rate": floor["rate"], "no_history_p99_ms": floor["p99_ms"], "no_history_errors": floor["errors"],
            "no_history_cpu_ms_per_request": floor["cpu_ms"], "no_history_ratio": floor["rate"] / bare["rate"],
            "met": app_["rate"] / bare["rate"] >= 0.25 and app_["p99_ms"] <= 100 and app_["errors"] == 0}


def stored_writes(app) -> int:
    """Check-ins and revisions stored so far: each check-in request adds one of either."""
    with app.app_context():
        count = (db.session.scalar(db.text("select count(*) from checkin_revisions"))
                 + db.session.scalar(db.text("select count(*) from checkins")))
        db.session.remove()
        db.engine.dispose()
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--port", type=int, default=None, help="the bare app's; the app's is the next (BENCH_PORT)")
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS, help="of each patient, up to yesterday")
    parser.add_argument("--app", default="monitor:create_app()",
                        help="the WSGI app to measure, from the repository's root (a variant under study)")
    args = parser.parse_args()
    r = measure(args.database, connections=args.connections, seconds=args.seconds, port=args.port,
                history_days=args.history_days, app_spec=args.app)
    print(f"{r['database']}, gunicorn -w {r['workers']}, wrk {r['connections']} connections for {r['seconds']} s; "
          f"{r['patients']} patients with {r['history_days']} days of history ({r['history_checkins']:,} check-ins)\n")
    print("| what | requests/s | ratio to ceiling | p99 ms | errors | CPU ms a request (gunicorn) |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, key in (("bare ceiling", "bare"), ("check-in", "app"), ("check-in, no history", "no_history")):
        print(f"| {name} | {r[key + '_rate']:,.0f} | {r[key + '_rate'] / r['bare_rate']:.2f} | "
              f"{r[key + '_p99_ms']:,.0f} | {r[key + '_errors']} | {r[key + '_cpu_ms_per_request']:.2f} |")


if __name__ == "__main__":
    main()
