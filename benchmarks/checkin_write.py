"""Benchmark (not a test): the check-in write path under load, against the machine's ceiling.

    python benchmarks/checkin_write.py [--database sqlite|postgresql] [--connections 32] [--seconds 10]

Needs `gunicorn` (pip) and `wrk` (apt). Both apps run under the same gunicorn settings (4 sync
workers on loopback) in the same run:

- the bare ceiling: a Flask endpoint that inserts one row with the database driver itself
  (sqlite3 in WAL mode with synchronous=NORMAL, or psycopg), nothing else;
- the app: signed-in patients POST /checkin with a valid form and CSRF token, as their phones
  do, each replacing today's check-in (so every request writes a check-in and a revision).

Prints requests a second, the ratio to the ceiling, the 99th percentile and the errors.
Budget (issue 9): at least 0.25 of the ceiling, a 99th percentile of at most 100 ms, no errors."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinic_scale import database, migrated_app  # noqa: E402  (benchmarks/clinic_scale.py, beside this file)

from monitor.extensions import db  # noqa: E402
from monitor.models import User  # noqa: E402
from monitor.passwords import hash_password  # noqa: E402

PASSWORD = "benchmark-password-1"
WORKERS = 4
PATIENTS = 64
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


def gunicorn(app_spec: str, port: int, env: dict, cwd: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         app_spec], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wrk(url: str, script: str, connections: int, seconds: int) -> dict:
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                           "-s", script, url], capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rate": rate, "p99_ms": p99_ms, "errors": (int(bad.group(1)) if bad else 0)
            + (sum(map(int, errors.groups())) if errors else 0)}


def sessions(app) -> list[dict]:
    """A signed-in cookie and a valid check-in form for each benchmark patient."""
    forms = []
    for n in range(PATIENTS):
        client = app.test_client()
        response = client.post("/login", data={"email": f"w{n}@bench.test", "password": PASSWORD,
                                               "csrf_token": _token(client.get("/login").get_data(as_text=True))})
        assert response.status_code == 302, "benchmark sign-in failed"
        page = client.get("/checkin").get_data(as_text=True)
        day = re.search(r'<option[^>]*value="(\d{4}-\d\d-\d\d)"', page).group(1)
        cookie = client.get_cookie("session")
        body = "&".join(f"{k}={v}" for k, v in {"csrf_token": _token(page), "local_date": day,
                                                 "submission_key": "", **{f"q{i}": i % 4 for i in range(1, 8)}}.items())
        forms.append({"cookie": f"session={cookie.value}", "body": body})
    return forms


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with database(args.database) as url, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": url.replace("+psycopg", ""), "SECRET_KEY": "bench-secret",
               "SESSION_COOKIE_SECURE": "0", "BASE_URL": "http://127.0.0.1", "PYTHONPATH": str(Path(__file__).parents[1])}
        app = migrated_app(url, tmp, SECRET_KEY="bench-secret", SESSION_COOKIE_SECURE=False, RATELIMIT_ENABLED=False)
        with app.app_context():
            password_hash = hash_password(PASSWORD)
            db.session.add_all([User(email=f"w{n}@bench.test", role="patient", timezone="America/New_York",
                                     password_hash=password_hash) for n in range(PATIENTS)])
            db.session.execute(db.text("create table bare (id integer primary key, at timestamp)")
                               if args.database == "sqlite" else
                               db.text("create table bare (id serial primary key, at timestamp)"))
            db.session.commit()
            db.engine.dispose()
        forms = sessions(app)  # (the rate limits are on for the gunicorn run: as in production)
        script = Path(tmp) / "checkin.lua"
        script.write_text(LUA % ("{" + ",".join("{cookie=%s, body=%s}" % (json.dumps(f["cookie"]), json.dumps(f["body"]))
                                                for f in forms) + "}"))
        bare_script = Path(tmp) / "bare.lua"
        bare_script.write_text('wrk.method = "POST"\n')
        (Path(tmp) / "bare.py").write_text(BARE_APP)
        results = {}
        for name, spec, port, cwd, lua, path in (
            ("bare ceiling", "bare:app", 8765, tmp, bare_script, "/write"),
            ("check-in", "monitor:create_app()", 8766, str(Path(__file__).parents[1]), script, "/checkin"),
        ):
            server = gunicorn(spec, port, {**env, "BARE_DATABASE": url}, cwd)
            wait_for(f"http://127.0.0.1:{port}/")
            try:
                results[name] = wrk(f"http://127.0.0.1:{port}{path}", str(lua), args.connections, args.seconds)
            finally:
                server.terminate()
                server.wait(timeout=30)
    bare = results["bare ceiling"]
    print(f"{args.database}, gunicorn -w {WORKERS}, wrk {args.connections} connections for {args.seconds} s\n")
    print("| what | requests/s | ratio to ceiling | p99 ms | errors |\n|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['rate']:,.0f} | {r['rate'] / bare['rate']:.2f} | {r['p99_ms']:,.0f} | {r['errors']} |")


if __name__ == "__main__":
    main()
