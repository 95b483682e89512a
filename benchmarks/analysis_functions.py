"""Benchmark (not a test): the pure SPEC 4 analysis on the worst case one patient brings (a year
of daily check-ins, 52 weekly sessions), the cohort over 100 such patients, and what the
plotly bundle weighs on the wire.

    python benchmarks/analysis_functions.py"""
import gzip
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import brotli

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import durability  # noqa: E402
from monitor.charts import PLOTLY_JS  # noqa: E402

TODAY = date(2026, 11, 26)
START = TODAY - timedelta(days=364)


def year_of_data():
    sessions = [START + timedelta(days=7 + 7 * k) for k in range(52) if START + timedelta(days=7 + 7 * k) <= TODAY]
    totals = {}
    for n in range(365):
        d = START + timedelta(days=n)
        since = min(((d - s).days for s in sessions if s <= d), default=None)
        totals[d] = 15 if since is None else [12, 5, 4, 5, 6, 9, 11][since % 7]
    return totals, sessions


def timed(fn, repeat=50):
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(samples), 2), round(min(samples), 2)


def measure(database_kind: str | None = None) -> dict:
    totals, sessions = year_of_data()
    analysis = durability.analyse_patient(totals.items(), sessions, TODAY)
    rows = {}
    rows[f"analyse_patient: 365 days, {len(sessions)} sessions"] = timed(
        lambda: durability.analyse_patient(totals.items(), sessions, TODAY), repeat=200)
    many = [(totals, analysis)] * 100
    rows["cohort: 100 such patients"] = timed(lambda: durability.cohort(many), repeat=20)
    js = (Path(__file__).resolve().parents[1] / "monitor" / "static" / PLOTLY_JS).read_bytes()
    return {"timings_ms": {name: {"median": m, "best": b} for name, (m, b) in rows.items()},
            "plotly_kib": {"raw": round(len(js) / 1024), "gzip": round(len(gzip.compress(js, 9)) / 1024),
                           "brotli": round(len(brotli.compress(js)) / 1024)}}


def main():
    result = measure()
    print("| what | median ms | best ms |\n|---|---:|---:|")
    for name, r in result["timings_ms"].items():
        print(f"| {name} | {r['median']:.2f} | {r['best']:.2f} |")
    kib = result["plotly_kib"]
    print(f"\nplotly.js bundle: {kib['raw']} KiB, {kib['gzip']} KiB gzip, {kib['brotli']} KiB brotli")


if __name__ == "__main__":
    main()
