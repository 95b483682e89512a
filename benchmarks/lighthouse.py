"""Benchmark (not a test): Lighthouse (mobile, default throttling) on the demo clinic's chart pages.

    flask --app monitor demo &                      # the demo clinic on 127.0.0.1:5000
    npm install --prefix /tmp/lh lighthouse@12      # once; the npm registry is reachable
    python benchmarks/lighthouse.py [--lighthouse /tmp/lh/node_modules/.bin/lighthouse]

Signs in as a demo patient and a demo provider, then runs the npm `lighthouse` package on
Debian's Chromium against the check-in, the patient's trend, a provider's patient page and the
report, and prints each performance score with its largest contentful paint and blocking time.
Budgets (issue 9): at least 95 on the check-in, at least 90 on the other three."""
import argparse
import json
import re
import subprocess
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

BASE = "http://127.0.0.1:5000"
PASSWORD = "demo-clinic-password"
PATIENT, PROVIDER = "maya.patel@demo-clinic.example", "rosa.rivera@demo-clinic.example"
BUDGETS = {"check-in": 95, "patient trend": 90, "provider's patient page": 90, "report": 90}


def signed_in(email: str) -> tuple[str, str]:
    """The session cookie of a demo account, and the page it lands on."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(BASE + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": PASSWORD, "remember": "y"}).encode()
    landed = opener.open(BASE + "/login", data).read().decode()
    cookie = next(c for c in jar if c.name == "session")
    return f"session={cookie.value}", landed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lighthouse", default="/tmp/lh/node_modules/.bin/lighthouse")
    args = parser.parse_args()
    patient, _ = signed_in(PATIENT)
    provider, dashboard = signed_in(PROVIDER)
    patient_id = re.search(r'href="/patients/(\d+)"', dashboard).group(1)
    pages = [("check-in", "/checkin", patient), ("patient trend", "/me/trend", patient),
             ("provider's patient page", f"/patients/{patient_id}", provider), ("report", "/report", provider)]
    print("| page | score | budget | largest contentful paint | total blocking time |\n|---|---:|---:|---:|---:|")
    for name, path, cookie in pages:
        done = subprocess.run(
            [args.lighthouse, BASE + path, "--only-categories=performance", "--output=json", "--output-path=stdout",
             "--quiet", "--extra-headers=" + json.dumps({"Cookie": cookie}), "--chrome-path=/usr/bin/chromium",
             "--chrome-flags=--headless=new --no-sandbox"], capture_output=True, text=True, timeout=300)
        report = json.loads(done.stdout)
        audits = report["audits"]
        print(f"| {name} | {round(report['categories']['performance']['score'] * 100)} | {BUDGETS[name]} | "
              f"{audits['largest-contentful-paint']['displayValue']} | {audits['total-blocking-time']['displayValue']} |")


if __name__ == "__main__":
    main()
