"""Benchmark (not a test): Lighthouse (mobile, default throttling) on the demo clinic's chart pages.

    npm install --prefix /tmp/lh lighthouse@12      # once; the npm registry is reachable
    python benchmarks/lighthouse.py [--database sqlite|postgresql] [--runs 3] [--lighthouse PATH]

Builds the demo clinic (`flask seed-demo`'s data) in a fresh database migrated with the
project's own migrations, serves it on 127.0.0.1 (a free port from 5100), signs in as a demo
patient and a demo provider, then runs the npm `lighthouse` package on Debian's Chromium
against the check-in, the patient's trend, a provider's patient page and the report, `--runs`
times each, and prints each page's median performance score with its largest contentful paint
and total blocking time (the medians of the runs). Budgets (issue 9): at least 95 on the
check-in, at least 90 on the other three.

Lighthouse 12 has no PWA audits any more, so installability (issue 13) is asked of Chromium
itself, as those audits did: Playwright opens the check-in in a profile on disk (never offered
in incognito), waits for the service worker, and prints what the DevTools protocol's
`Page.getInstallabilityErrors` returns ("none" when the app can be installed)."""
import argparse
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server  # noqa: E402

from clinic_scale import database as fresh_database, migrated_app  # noqa: E402  (benchmarks/clinic_scale.py, beside this file)
from monitor import demo  # noqa: E402
from monitor.extensions import db  # noqa: E402

LIGHTHOUSE = "/tmp/lh/node_modules/.bin/lighthouse"
CHROMIUM = "/usr/bin/chromium"
PORTS = range(5100, 5200)
PATIENT, PROVIDER = "maya.patel@demo-clinic.example", "rosa.rivera@demo-clinic.example"
BUDGETS = {"check-in": 95, "patient trend": 90, "provider's patient page": 90, "report": 90}


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5100-5199")


def signed_in(base: str, email: str) -> tuple[str, str]:
    """The session cookie of a demo account ("name=value"), and the page it lands on."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": demo.DEMO_PASSWORD,
                                   "remember": "y"}).encode()
    landed = opener.open(base + "/login", data).read().decode()
    cookie = next(c for c in jar if "session" in c.name)
    return f"{cookie.name}={cookie.value}", landed


def lighthouse(path: str, url: str, cookie: str, attempts: int = 3) -> dict:
    """One Lighthouse run; tried again when Chromium's trace fails (NO_NAVSTART, now and then on
    a busy machine), which says nothing about the page."""
    for attempt in range(attempts):
        done = subprocess.run(
            [path, url, "--only-categories=performance", "--output=json", "--output-path=stdout", "--quiet",
             "--extra-headers=" + json.dumps({"Cookie": cookie}), "--chrome-flags=--headless=new --no-sandbox"],
            env={**os.environ, "CHROME_PATH": CHROMIUM},  # lighthouse 12's launcher reads the path from here
            capture_output=True, text=True, timeout=300)
        if done.returncode == 0:
            break
        if attempt == attempts - 1:
            raise RuntimeError(f"lighthouse failed on {url}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    audits = report["audits"]
    return {"score": round(report["categories"]["performance"]["score"] * 100),
            "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
            "tbt_ms": audits["total-blocking-time"]["numericValue"]}


def installability_errors(base: str, cookie: str) -> list[str]:
    """Chromium's reasons not to offer installing the app from the check-in; [] when it would."""
    from playwright.sync_api import sync_playwright

    name, _, value = cookie.partition("=")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context.add_cookies([{"name": name, "value": value, "url": base}])
            page = context.new_page()
            page.goto(base + "/checkin", timeout=30_000)
            # A function, not an expression: Playwright evals a bare expression, which the CSP forbids.
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
            errors = context.new_cdp_session(page).send("Page.getInstallabilityErrors")["installabilityErrors"]
            return [e["errorId"] + "".join(f" {a['name']}={a['value']}" for a in e.get("errorArguments", []))
                    for e in errors]
        finally:
            context.close()


def measure(database: str = "sqlite", runs: int = 3, lighthouse_path: str = LIGHTHOUSE) -> dict:
    """{page: {score, lcp_ms, tbt_ms (medians of `runs`), budget, scores (every run)}} on the demo clinic."""
    with fresh_database(database) as url, tempfile.TemporaryDirectory() as tmp:
        app = migrated_app(url, tmp, RATELIMIT_ENABLED=False, TWO_FACTOR_REQUIRED_FOR_STAFF=False,
                           SESSION_COOKIE_SECURE=False)  # plain http on 127.0.0.1, as `flask demo`
        with app.app_context():
            demo.seed_demo()
            db.session.commit()
            db.engine.dispose()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_port}"
            patient, _ = signed_in(base, PATIENT)
            provider, dashboard = signed_in(base, PROVIDER)
            patient_id = re.search(r'href="/patients/(\d+)"', dashboard).group(1)
            pages = [("check-in", "/checkin", patient), ("patient trend", "/me/trend", patient),
                     ("provider's patient page", f"/patients/{patient_id}", provider),
                     ("report", "/report", provider)]
            results = {"installability errors": installability_errors(base, patient)}
            for name, path, cookie in pages:
                samples = [lighthouse(lighthouse_path, base + path, cookie) for _ in range(runs)]
                results[name] = {
                    "score": statistics.median(s["score"] for s in samples),
                    "lcp_ms": round(statistics.median(s["lcp_ms"] for s in samples)),
                    "tbt_ms": round(statistics.median(s["tbt_ms"] for s in samples)),
                    "budget": BUDGETS[name],
                    "scores": [s["score"] for s in samples],
                }
            return results
        finally:
            server.shutdown()
            thread.join(5)
            with app.app_context():
                db.engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lighthouse", default=LIGHTHOUSE)
    args = parser.parse_args()
    results = measure(args.database, args.runs, args.lighthouse)
    errors = results.pop("installability errors")
    print(f"installable (Chromium's Page.getInstallabilityErrors on the check-in): "
          f"{'yes, no errors' if not errors else 'NO: ' + '; '.join(errors)}\n")
    print(f"{args.database}, median of {args.runs} Lighthouse runs (mobile) per page\n")
    print("| page | score | budget | runs | largest contentful paint | total blocking time |\n"
          "|---|---:|---:|---|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['score']:g} | {r['budget']} | {', '.join(map(str, r['scores']))} | "
              f"{r['lcp_ms'] / 1000:.1f} s | {r['tbt_ms']:,} ms |")


if __name__ == "__main__":
    main()
