"""The one command that regenerates docs/benchmarks.md:

    python benchmarks/run.py                 # every benchmark, SQLite and PostgreSQL (10-15 min)
    python benchmarks/run.py --only clinic_scale --only lighthouse   # some; the rest kept as they are
    python benchmarks/run.py --render        # only rewrite the page from benchmarks/results.json

Each benchmark is a script beside this one with `measure(database) -> dict`. Results go to
benchmarks/results.json (committed, with the machine and the date of each run), and the page
is benchmarks/benchmarks.md.j2 rendered with them, so prose and figures cannot drift apart.
Needs what the scripts need: PostgreSQL on BENCH_POSTGRES_URL (default 127.0.0.1:5432),
gunicorn and wrk (checkin_write), npm lighthouse and Debian's Chromium (lighthouse)."""
import argparse
import importlib
import json
import os
import platform
import sqlite3
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

import jinja2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
TEMPLATE = "benchmarks.md.j2"
PAGE = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

# name: the databases it runs on (None: it does not use one of its own).
BENCHMARKS = {
    "analysis_functions": [None],
    "clinic_scale": ["sqlite", "postgresql"],
    "import_checkins": ["sqlite", "postgresql"],
    "checkin_write": ["sqlite", "postgresql"],
    "nudge_selection": ["sqlite", "postgresql"],
    "lighthouse": ["sqlite"],  # the demo clinic, as a reader's phone meets it
}


def machine() -> dict:
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0) if Path("/proc/meminfo").exists() else 0
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    info = {"cores": os.cpu_count(), "memory_gib": round(memory / 1024 / 1024), "cpu": cpu,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    try:
        import psycopg
        url = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        with psycopg.connect(url, connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("show server_version").fetchone()[0].split()[0]
    except Exception:  # noqa: BLE001 (the page then says "unknown")
        info["postgresql"] = None
    return info


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"machine": {}, "runs": {}}


def run(names: list[str], results: dict) -> None:
    results["machine"] = machine()
    for name in names:
        module = importlib.import_module(name)
        for database in BENCHMARKS[name]:
            key = database or "-"
            print(f"== {name} {database or ''}", flush=True)
            try:
                figures = module.measure(database)
            except Exception:  # noqa: BLE001 (one failing benchmark must not lose the others' figures)
                traceback.print_exc()
                print(f"!! {name} {database or ''} failed; its previous figures are kept", flush=True)
                continue
            results["runs"].setdefault(name, {})[key] = {
                "date": datetime.now(timezone.utc).date().isoformat(), "figures": figures}
            RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def render(results: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["n"] = lambda value, digits=0: "–" if value is None else f"{value:,.{digits}f}"
    return env.get_template(TEMPLATE).render(machine=results["machine"], runs=results["runs"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), help="run only these (repeatable)")
    parser.add_argument("--render", action="store_true", help="run nothing: rewrite the page from results.json")
    args = parser.parse_args()
    results = load()
    if not args.render:
        run(args.only or list(BENCHMARKS), results)
    PAGE.write_text(render(results))
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
