"""`make bench`: every benchmark, each printing its figures and the ratio to its target.

PostgreSQL figures need a server (BENCH_POSTGRES_URL, default the one `.ci/run` starts);
without one they are reported as skipped.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = [
    ["consent_import.py", "--database", "sqlite"],
    ["consent_import.py", "--database", "postgres"],
    ["consent_check.py", "--database", "sqlite"],
    ["consent_check.py", "--database", "postgres"],
    ["scoring_tabular.py"],
    ["scoring_images.py"],
    ["coverage.py"],
    ["fairness.py"],
    ["report_render.py"],
    ["api_consent_load.py", "--database", "sqlite"],
    ["api_consent_load.py", "--database", "sqlite", "--think", "0"],
    ["api_consent_load.py", "--database", "postgres"],
]


def main() -> int:
    failed = 0
    for script, *args in BENCHMARKS:
        print(f"== {script} {' '.join(args)}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *args])
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
