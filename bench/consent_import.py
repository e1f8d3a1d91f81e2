"""Benchmark: importing 1,000,000 consent events from CSV (the `import_consent` command's path).

Target (issue 2): at most 60 s on SQLite on the 2-core machine; the PostgreSQL figure is
reported beside it. Each run starts from an empty database, reads the CSV, checks every
row against the consent rules, creates the subjects and chains every event into the ledger.

Usage: python bench/consent_import.py [--events N] [--repeat K] [--database sqlite|postgres]
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402
from bench.population import NOTICE_PUBLISHED, consent_events  # noqa: E402

TARGET_SECONDS = 60.0


def one_run(database_url: str, var_dir: Path, csv_path: Path) -> tuple[float, float]:
    """Import into a fresh database in a child process; returns (import seconds, verify seconds)."""
    import subprocess

    code = f"""
import sys, time
from pathlib import Path
sys.path.insert(0, {str(harness.ROOT)!r})
from bench import harness
harness.setup_django({database_url!r}, Path({str(var_dir)!r}))
from datetime import datetime
from django.core.management import call_command
from core.audit_log import Actor
from consent import ledger, services
services.publish_notice(actor=Actor.system("bench"), version="1", language="en", title="Notice", text="text",
    purposes=["training", "evaluation", "bias_audit", "publication"],
    published_at=datetime.fromisoformat({NOTICE_PUBLISHED!r}))
start = time.perf_counter()
call_command("import_consent", {str(csv_path)!r})
imported = time.perf_counter() - start
start = time.perf_counter()
check = ledger.verify()
verified = time.perf_counter() - start
assert check.ok, check.summary()
print("RESULT", imported, verified)
"""
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    _, imported, verified = line.split()
    return float(imported), float(verified)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 1_000_000)))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 3)))
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with harness.temp_dir("bench-import-") as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "consent-events.csv"
        consent_events(args.events).to_csv(csv_path, index=False)
        print(f"input: {args.events:,} consent events, {csv_path.stat().st_size / 1e6:.0f} MB of CSV")
        imports, verifies = [], []
        for run in range(args.repeat):
            run_dir = tmp / f"run-{run}"
            run_dir.mkdir()
            if args.database == "sqlite":
                imported, verified = one_run(harness.sqlite_url(run_dir), run_dir, csv_path)
            else:
                url = os.environ.get("BENCH_POSTGRES_URL", harness.DEFAULT_POSTGRES_URL)
                with harness.postgres_database(url) as database_url:
                    if database_url is None:
                        print(f"consent import on PostgreSQL: skipped, no server at {url}")
                        return
                    imported, verified = one_run(database_url, run_dir, csv_path)
            imports.append(imported)
            verifies.append(verified)
        label = "SQLite" if args.database == "sqlite" else "PostgreSQL"
        harness.report(f"import {args.events:,} consent events from CSV, {label}", imports, target=TARGET_SECONDS)
        rate = args.events / statistics.median(imports)
        print(f"  {rate:,.0f} events/s; verify_ledger over the result: median {statistics.median(verifies):.2f} s")


if __name__ == "__main__":
    main()
