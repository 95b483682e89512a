"""Benchmarks (not tests): python benchmarks/run.py prints a Markdown table for docs/benchmarks.md.

Measures the pure analysis and the figure builders on a year of daily check-ins with 52 weekly
sessions, the worst case a clinic will see for one patient, and what the chart pages weigh."""
import gzip
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from decimal import Decimal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plotly.graph_objects as go  # noqa: E402

from monitor import durability  # noqa: E402
from monitor.charts import individual as patient_charts  # noqa: E402
from monitor.charts import PLOTLY_JS, to_json  # noqa: E402

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
    return statistics.median(samples), min(samples)


def main():
    totals, sessions = year_of_data()
    rows = []
    med, best = timed(lambda: durability.analyse_patient(totals.items(), sessions, TODAY), repeat=200)
    rows.append(("analyse_patient: 365 days, %d sessions" % len(sessions), med, best))
    analysis = durability.analyse_patient(totals.items(), sessions, TODAY)
    many = [(totals, analysis)] * 100
    med, best = timed(lambda: durability.cohort(many), repeat=20)
    rows.append(("cohort: 100 such patients", med, best))
    data = SimpleNamespace(totals=totals, today=TODAY, analysis=analysis, checkins=[])
    treatments = {d: SimpleNamespace(route="intramuscular", dose_mg=Decimal("50")) for d in sessions}
    med, best = timed(lambda: to_json(patient_charts.timeline(data, treatments).figure), repeat=20)
    rows.append(("timeline figure + JSON (session lines in the layout)", med, best))

    def add_vline_way():
        fig = go.Figure(go.Scatter(x=list(totals), y=list(totals.values())))
        for d in sessions:
            fig.add_vline(x=d)
        return fig
    med, best = timed(add_vline_way, repeat=3)
    rows.append(("the same session lines added one by one with add_vline", med, best))

    print("| what | median ms | best ms |\n|---|---:|---:|")
    for name, med, best in rows:
        print(f"| {name} | {med:.2f} | {best:.2f} |")
    js = (Path(__file__).resolve().parents[1] / "monitor" / "static" / PLOTLY_JS).read_bytes()
    figure_json = to_json(patient_charts.timeline(data, treatments).figure).encode()
    print(f"\nplotly.js basic bundle: {len(js) / 1024:.0f} KiB, {len(gzip.compress(js)) / 1024:.0f} KiB gzipped")
    print(f"timeline figure JSON for a year: {len(figure_json) / 1024:.0f} KiB, "
          f"{len(gzip.compress(figure_json)) / 1024:.0f} KiB gzipped")


if __name__ == "__main__":
    main()
