"""Benchmark: do the fairness engine's headline interval and verdicts hold their stated confidence?

Simulation with known truth. Each scenario draws several hundred data sets whose true group means
are known exactly, audits each with `audit.fairness.audit` (mean_score_gap, threshold 0.05,
confidence 0.95, no intersections) and counts how often the engine is right.

Scores are Beta(m * kappa, (1 - m) * kappa) with kappa = 5, so an item's expected score is exactly
its group's mean m (sd about 0.2); the base mean is 0.5. The true gap of an attribute is the
highest true group mean minus the lowest.

Scenarios (one table row each):
  1. 2 equal groups of 2,000, true gap 0.
  2. 2 groups of 2,000, true means 0.50 and 0.53 (true gap 0.03).
  3. 5 equal groups of 1,000, true gap 0.
  4. 3,960 items vs 40 (min_group_size 30), true gap 0.
  5. 6 groups of 700, true means equally spaced from 0.50 to 0.55: true range = threshold.
  6. 12 groups of 300, true means equally spaced from 0.50 to 0.55: true range = threshold.
  7. Run level: 3,000 items, three attributes of two groups each, every item's group in each
     attribute drawn independently with probability 1/2 (about 1,500 items per group). The mean is
     additive, 0.40 + 0.05 * (a1 + a2 + a3); since the attributes are independent of each other
     and balanced in the population the items are drawn from, each attribute's true marginal gap
     is exactly 0.05 = threshold (in a finite sample the other attributes' groups are not exactly
     balanced within each group of one attribute; that is sampling noise the interval must cover).

Measured per scenario:
  coverage     share of headline intervals `ci` with low <= true gap <= high (None counts as a
               miss); in scenario 7 the three attributes' intervals are pooled (3 per data set).
  false FAIL   share of verdicts "fail" where the true gap <= threshold (every scenario). In
               scenario 7 the run-level verdict: FAIL if ANY attribute's verdict is "fail".
  false PASS   share of verdicts "pass" where the true gap >= threshold (scenarios 5, 6, 7). In
               scenario 7 the run-level verdict: PASS if every attribute's verdict is "pass".
  inconclusive share of verdicts neither pass nor fail ("inconclusive" or "insufficient"; in
               scenario 7 the run-level verdict).
Each rate is printed with its Monte-Carlo standard error sqrt(p (1 - p) / n).

Targets (reported, not asserted: the exit status is 0 unless the script itself fails):
  coverage at least 93% (nominal 95%);
  false FAIL at most 2.5% per grouping (scenarios 1-6: the nominal one-sided error of a 95%
  interval when the true gap equals the threshold, scenarios 5 and 6, and an upper bound on it
  below the threshold, scenarios 1-4), and at most 5% across a run (scenario 7);
  false PASS at most 5% (scenarios 5, 6, 7).
The run-level verdict is computed here from the per-attribute verdicts (that is its definition);
where the engine also reports one (findings["verdict"]["verdict"]) disagreements are counted.

Data sets run in parallel processes (each imports the engine; the engine then gets one thread).

Usage: python bench/coverage.py [--datasets N] [--replicates R] [--workers W] [--seed S] [--quick]
"""

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

THRESHOLD = 0.05
CONFIDENCE = 0.95
KAPPA = 5.0
BASE_MEAN = 0.5
RATIO_THRESHOLD = 0.8
MIN_COVERAGE = 0.93
MAX_FALSE_FAIL_GROUPING = 0.025
MAX_FALSE_FAIL_RUN = 0.05
MAX_FALSE_PASS = 0.05
CHUNK = 20  # data sets per task sent to a worker


@dataclass(frozen=True)
class Scenario:
    number: int
    label: str
    true_gap: float  # every attribute's
    sizes: tuple[int, ...] = ()  # groups of the one attribute (scenarios 1-6)
    means: tuple[float, ...] = ()
    min_group_size: int = 30
    run_level: bool = False  # scenario 7: three independent attributes
    rates: tuple[float, ...] = ()  # ratio scenarios: each group's true selection rate (scores drawn apart)

    @property
    def metric(self) -> str:
        return "disparate_impact_ratio" if self.rates else "mean_score_gap"

    @property
    def limit(self) -> float:
        return RATIO_THRESHOLD if self.rates else THRESHOLD

    def fail_is_false(self) -> bool:
        """Whether the truth is on the side where a FAIL is an error (at or inside the limit)."""
        return self.true_gap >= self.limit if self.rates else self.true_gap <= self.limit

    def pass_is_false(self) -> bool:
        return self.true_gap <= self.limit if self.rates else self.true_gap >= self.limit

    @property
    def attributes(self) -> tuple[str, ...]:
        return ("a1", "a2", "a3") if self.run_level else ("group",)


def _spaced(k: int) -> tuple[float, ...]:
    return tuple(float(x) for x in np.linspace(BASE_MEAN, BASE_MEAN + THRESHOLD, k))


SCENARIOS = (
    Scenario(1, "2 x 2,000, gap 0", 0.0, (2000, 2000), (BASE_MEAN,) * 2),
    Scenario(2, "2 x 2,000, gap 0.03", 0.03, (2000, 2000), (BASE_MEAN, BASE_MEAN + 0.03)),
    Scenario(3, "5 x 1,000, gap 0", 0.0, (1000,) * 5, (BASE_MEAN,) * 5),
    Scenario(4, "3,960 vs 40, gap 0", 0.0, (3960, 40), (BASE_MEAN,) * 2, min_group_size=30),
    Scenario(5, "6 x 700, range = thr", THRESHOLD, (700,) * 6, _spaced(6)),
    Scenario(6, "12 x 300, range = thr", THRESHOLD, (300,) * 12, _spaced(12)),
    Scenario(7, "run: 3 attrs x 2, = thr", THRESHOLD, run_level=True),
    Scenario(8, "20 x 30, gap 0", 0.0, (30,) * 20, (BASE_MEAN,) * 20),
    Scenario(9, "20 x 30, range = thr", THRESHOLD, (30,) * 20, _spaced(20)),
    Scenario(10, "DI 2 x 500, ratio = 0.8", 0.8, (500, 500), rates=(0.5, 0.4)),
    Scenario(11, "DI 5,000 vs 40, rate .003", 1.0, (5000, 40), rates=(0.003, 0.003)),
)
RUN_ITEMS = 3000
RUN_BASE_MEAN = 0.40


def make_data(scenario: Scenario, dataset: int, seed: int):
    """One data set of `scenario`, reproducible from (seed, scenario, dataset)."""
    from audit.fairness import AuditData, GroupCodes

    rng = np.random.default_rng([seed, scenario.number, dataset])
    if scenario.run_level:
        n = RUN_ITEMS
        codes = {name: rng.integers(0, 2, n).astype(np.int32) for name in scenario.attributes}
        mean = RUN_BASE_MEAN + THRESHOLD * sum(c.astype(np.float64) for c in codes.values())
        groups = {name: ("0", "1") for name in scenario.attributes}
    else:
        sizes = np.asarray(scenario.sizes)
        n = int(sizes.sum())
        code = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
        codes = {"group": code}
        mean = np.asarray(scenario.means or (BASE_MEAN,) * len(sizes))[code]
        groups = {"group": tuple(f"g{i}" for i in range(len(sizes)))}
    scores = rng.beta(mean * KAPPA, (1 - mean) * KAPPA)
    selected = scores >= 0.5
    if scenario.rates:  # selection drawn at the true rates; the scores play no part in the ratio
        selected = rng.random(n) < np.asarray(scenario.rates)[codes["group"]]
    keys = np.array([f"s{scenario.number}-d{dataset}-{i}" for i in range(n)], dtype=object)
    return AuditData(
        keys=keys,
        scores=scores,
        selected=selected,
        attributes={name: GroupCodes(codes[name], groups[name]) for name in scenario.attributes},
    )


def audit_spec(scenario: Scenario, dataset: int, seed: int, replicates: int):
    from audit.fairness import AttributeSpec, AuditSpec

    return AuditSpec(
        attributes=tuple(AttributeSpec(name) for name in scenario.attributes),
        threshold=THRESHOLD,
        confidence=CONFIDENCE,
        replicates=replicates,
        seed=(seed * 10 + scenario.number) * 1_000_000 + dataset,  # a different bootstrap per data set
        min_group_size=scenario.min_group_size,
        metrics=(scenario.metric,),
        intersections=False,
    )


def simulate(number: int, datasets: list[int], seed: int, replicates: int, threads: int) -> list[dict]:
    """Audit the data sets `datasets` of scenario `number`: per attribute (low, high, verdict)."""
    from audit.fairness import audit

    scenario = next(s for s in SCENARIOS if s.number == number)
    results = []
    for dataset in datasets:
        data = make_data(scenario, dataset, seed)
        findings = audit(data, audit_spec(scenario, dataset, seed, replicates), threads=threads)
        per_attribute = {}
        for name in scenario.attributes:
            gap = findings["attributes"][name]["gaps"][scenario.metric]
            ci = gap.get("ci") or [None, None]
            per_attribute[name] = (ci[0], ci[1], gap.get("verdict"))
        run = findings.get("verdict")
        engine_run = run.get("verdict") if isinstance(run, dict) else None
        results.append({"dataset": dataset, "attributes": per_attribute, "engine_run_verdict": engine_run})
    return results


def covers(low, high, truth: float) -> bool:
    if low is None or high is None:
        return False
    return low <= truth <= high


def run_verdict(verdicts: list[str]) -> str:
    if any(v == "fail" for v in verdicts):
        return "fail"
    if all(v == "pass" for v in verdicts):
        return "pass"
    return "inconclusive"


@dataclass
class Rate:
    hits: int
    n: int

    @property
    def p(self) -> float:
        return self.hits / self.n if self.n else float("nan")

    @property
    def se(self) -> float:
        return math.sqrt(self.p * (1 - self.p) / self.n) if self.n else float("nan")

    def cell(self) -> str:
        return f"{self.p * 100:5.1f}% ({self.se * 100:4.1f})"


def summarise(scenario: Scenario, results: list[dict]) -> dict:
    truth = scenario.true_gap
    intervals = [a for r in results for a in r["attributes"].values()]
    coverage = Rate(sum(covers(lo, hi, truth) for lo, hi, _ in intervals), len(intervals))
    if scenario.run_level:
        verdicts = [run_verdict([v for _, _, v in r["attributes"].values()]) for r in results]
    else:
        verdicts = [r["attributes"]["group"][2] for r in results]
    n = len(verdicts)
    summary = {
        "coverage": coverage,
        "false_fail": Rate(sum(v == "fail" for v in verdicts), n) if scenario.fail_is_false() else None,
        "false_pass": Rate(sum(v == "pass" for v in verdicts), n) if scenario.pass_is_false() else None,
        "inconclusive": Rate(sum(v not in ("pass", "fail") for v in verdicts), n),
        "insufficient": sum(v == "insufficient" for _, _, v in intervals),
    }
    if scenario.run_level:
        per = [v for _, _, v in intervals]
        summary["per_attribute_fail"] = Rate(sum(v == "fail" for v in per), len(per))
        summary["per_attribute_pass"] = Rate(sum(v == "pass" for v in per), len(per))
        reported = [(r["engine_run_verdict"], mine) for r, mine in zip(results, verdicts, strict=True)]
        reported = [(theirs, mine) for theirs, mine in reported if theirs is not None]
        summary["engine_run_verdicts"] = len(reported)
        summary["engine_run_disagreements"] = sum(theirs != mine for theirs, mine in reported)
    return summary


def check(name: str, rate: Rate | None, target: float, *, at_least: bool) -> None:
    if rate is None:
        return
    met = rate.p >= target if at_least else rate.p <= target
    verdict = "meets the target" if met else "MISSES the target"
    if not met and abs(rate.p - target) <= 2 * rate.se:
        verdict += ", within 2 s.e. of it"
    sign = ">=" if at_least else "<="
    ratio = rate.p / target
    print(
        f"    {name:<12} {rate.p * 100:5.1f}% (s.e. {rate.se * 100:.1f}, n {rate.n}); "
        f"target {sign} {target * 100:.1f}%; observed / target = {ratio:.2f} ({verdict})"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=None, help="data sets per scenario (default 400)")
    parser.add_argument("--replicates", type=int, default=None, help="bootstrap replicates (default 1000)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=0, help="base seed of the data and the bootstraps")
    parser.add_argument("--scenarios", default=",".join(str(s.number) for s in SCENARIOS),
                        help="comma-separated scenario numbers")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 data sets, 200 replicates")
    args = parser.parse_args()
    datasets = args.datasets or (40 if args.quick else 400)
    replicates = args.replicates or (200 if args.quick else 1000)
    wanted = {int(s) for s in args.scenarios.split(",")}
    scenarios = [s for s in SCENARIOS if s.number in wanted]
    workers = max(1, args.workers)
    threads = 1 if workers > 1 else 2

    start = time.perf_counter()
    print("coverage of the headline interval (mean_score_gap) and verdict error rates, by simulation:")
    print(f"  {datasets:,} data sets per scenario, {replicates:,} bootstrap replicates, threshold {THRESHOLD},")
    print(f"  confidence {CONFIDENCE}, no intersections; scores Beta(m*{KAPPA:g}, (1-m)*{KAPPA:g});")
    print(f"  {workers} process(es) x {threads} engine thread(s); seed {args.seed}")
    print("  nominal: coverage 95% (target >= 93%); false FAIL <= 2.5% per grouping, <= 5% per run (7);")
    print("  false PASS <= 5%; scenarios 10-11 judge the disparate impact ratio against 0.8 (their 'true gap'")
    print("  is the true ratio; a FAIL is false when the true ratio is at or over 0.8)")

    results: dict[int, list[dict]] = {s.number: [] for s in scenarios}
    with ProcessPoolExecutor(workers) as pool:
        futures = []
        for s in scenarios:
            for first in range(0, datasets, CHUNK):
                chunk = list(range(first, min(first + CHUNK, datasets)))
                futures.append((s.number, pool.submit(simulate, s.number, chunk, args.seed, replicates, threads)))
        for number, future in futures:
            results[number].extend(future.result())
    simulated = time.perf_counter() - start

    summaries = {s.number: summarise(s, results[s.number]) for s in scenarios}
    print()
    print("rates in %, Monte-Carlo standard error in brackets (percentage points); n/a: that error cannot")
    print("happen on this side of the threshold")
    header = (
        f"{'scenario':<27} {'sets':>5} {'true gap':>8}  {'coverage':>13}  {'false FAIL':>13}  "
        f"{'false PASS':>13}  {'inconclusive':>13}"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        m = summaries[s.number]

        def cell(rate):
            return f"{'n/a':>13}" if rate is None else f"{rate.cell():>13}"

        print(
            f"{s.number}  {s.label:<24} {len(results[s.number]):>5} {s.true_gap:>8.3f}  {cell(m['coverage'])}  "
            f"{cell(m['false_fail'])}  {cell(m['false_pass'])}  {cell(m['inconclusive'])}"
        )
    for s in scenarios:
        m = summaries[s.number]
        if m["insufficient"]:
            print(f"  scenario {s.number}: {m['insufficient']} verdict(s) 'insufficient' (counted as inconclusive)")
    if 7 in summaries:
        m = summaries[7]
        print("  7: coverage pools the three attributes' intervals; FAIL / PASS / inconclusive are run-level.")
        fail, passed = m["per_attribute_fail"].cell(), m["per_attribute_pass"].cell()
        print(f"     per attribute (n {m['per_attribute_fail'].n}): false FAIL {fail}, false PASS {passed}")
        if m["engine_run_verdicts"]:
            print(
                f"  7: the engine's own run-level verdict disagrees with any-FAIL / all-PASS in "
                f"{m['engine_run_disagreements']} of {m['engine_run_verdicts']} data sets"
            )

    print()
    print("targets:")
    for s in scenarios:
        m = summaries[s.number]
        print(f"  {s.number}  {s.label}")
        check("coverage", m["coverage"], MIN_COVERAGE, at_least=True)
        fail_target = MAX_FALSE_FAIL_RUN if s.run_level else MAX_FALSE_FAIL_GROUPING
        check("false FAIL", m["false_fail"], fail_target, at_least=False)
        check("false PASS", m["false_pass"], MAX_FALSE_PASS, at_least=False)

    total = time.perf_counter() - start
    audits = sum(len(r) for r in results.values())
    print()
    print(f"wall time {total:.1f} s ({audits:,} audits, {simulated / max(audits, 1) * 1e3:.1f} ms each, wall)")


if __name__ == "__main__":
    main()
