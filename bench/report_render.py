"""Benchmark: one quarterly report rendered to PDF/A-3b with `reports.render` (no Django, no database).

Target: under 5 s per report (median), for a report with four attributes (skin tone in three bands,
sex, five age bands, two regions: 3 x 2 x 5 x 2 = 60 intersectional groups), labels, the ten largest of
the eleven intersectional gaps and the intersectional groups too small to judge, four quarters of trend,
an evaluation set with strata and provenance, and six charts (four attribute charts, two trend charts of
two attributes each), with a 1 MB evidence JSON attached. Each run renders the whole report: charts,
HTML, layout, font subsetting and PDF writing. The first render in a process also pays for importing
matplotlib and WeasyPrint; that warm-up is reported, not counted.

Usage: python bench/report_render.py [--repeat K]
"""

import argparse
import itertools
import json
import sys
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.harness import report, timed  # noqa: E402

TARGET_SECONDS = 5.0
ATTRIBUTES = {
    "skin_tone:monk_3": ("light", "medium", "dark"),
    "sex": ("female", "male"),
    "age_band": ("18-24", "25-34", "35-49", "50-64", "65+"),
    "region": ("urban", "rural"),
}
QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")
MIN_GROUP_SIZE = 30
THRESHOLD = 0.05


def make_context(seed: int = 0) -> dict:
    """A full report context with made-up but coherent figures."""
    rng = np.random.default_rng(seed)
    cells = list(itertools.product(*ATTRIBUTES.values()))
    sizes = {cell: int(n) for cell, n in zip(cells, rng.integers(8, 400, len(cells)), strict=True)}
    effects = {name: rng.normal(0, 0.03, len(groups)) for name, groups in ATTRIBUTES.items()}
    names = list(ATTRIBUTES)

    def figures(members: list[tuple]) -> dict:
        n = sum(sizes[c] for c in members)
        mean = 0.5 + float(
            np.mean([sum(effects[a][ATTRIBUTES[a].index(c[i])] for i, a in enumerate(names)) for c in members])
        )
        half = 1.96 * 0.15 / np.sqrt(max(n, 1))
        return {"n": n, "mean": mean, "ci": [mean - half, mean + half]}

    def gap_of(rows: dict, judged: set) -> dict:
        usable = {k: v for k, v in rows.items() if k in judged} or rows
        highest = max(usable, key=lambda k: usable[k]["mean"])
        lowest = min(usable, key=lambda k: usable[k]["mean"])
        value = usable[highest]["mean"] - usable[lowest]["mean"]
        ci = [max(0.0, value - 0.02), value + 0.025]
        verdict = "pass" if ci[1] < THRESHOLD else "fail" if ci[0] > THRESHOLD else "inconclusive"
        return {
            "value": value,
            "ci": ci,
            "threshold": THRESHOLD,
            "verdict": verdict,
            "n_needed": 4800 if verdict == "inconclusive" else None,
            "highest": highest,
            "lowest": lowest,
        }

    attributes = []
    for index, (name, groups) in enumerate(ATTRIBUTES.items()):
        rows = {g: figures([c for c in cells if c[index] == g]) for g in groups}
        judged = {g for g, r in rows.items() if r["n"] >= MIN_GROUP_SIZE}
        attributes.append(
            {
                "name": name,
                "reference": groups[0] if index == 0 else None,
                "groups": [
                    {
                        "name": g,
                        "n": r["n"],
                        "sufficient": g in judged,
                        "mean_score": r["mean"],
                        "mean_score_ci": r["ci"],
                        "selection_rate": r["mean"] * 0.9,
                        "tpr": 0.8 + r["mean"] / 10,
                        "fpr": r["mean"] / 4,
                        "fnr": 0.2 - r["mean"] / 10,
                    }
                    for g, r in rows.items()
                ],
                "gap": gap_of(rows, judged),
                "trend": {"slope": 0.012, "ci": [0.004, 0.02], "order": list(groups)} if name == "age_band" else None,
            }
        )

    largest, too_small = [], []
    for size in (2, 3, 4):
        for combo in itertools.combinations(range(len(names)), size):
            grouping = " & ".join(names[i] for i in combo)
            rows = {}
            for key in itertools.product(*(ATTRIBUTES[names[i]] for i in combo)):
                members = [c for c in cells if all(c[i] == k for i, k in zip(combo, key, strict=True))]
                rows[" & ".join(key)] = figures(members)
            judged = {k for k, r in rows.items() if r["n"] >= MIN_GROUP_SIZE}
            largest.append({"grouping": grouping, **{k: v for k, v in gap_of(rows, judged).items() if k != "n_needed"}})
            too_small += [{"grouping": grouping, "group": k, "n": r["n"]} for k, r in rows.items() if k not in judged]
    largest.sort(key=lambda g: g["value"], reverse=True)

    model = "demo-face-scorer"
    summary = [
        {"model": f"{model} 2026.4", "attribute": a["name"], "metric": "mean_score_gap", **a["gap"]} for a in attributes
    ]
    trend = [
        {
            "model": model,
            "attribute": a["name"],
            "threshold": THRESHOLD,
            "points": [
                {"quarter": q, "value": None, "ci": [None, None], "verdict": ""}
                if q == QUARTERS[0]
                else {
                    "quarter": q,
                    "value": a["gap"]["value"] * f,
                    "ci": [a["gap"]["ci"][0] * f, a["gap"]["ci"][1] * f],
                    "verdict": a["gap"]["verdict"],
                }
                for q, f in zip(QUARTERS, (1.0, 1.3, 1.15, 1.0), strict=True)
            ],
        }
        for a in attributes
    ]
    digest = "0123456789abcdef" * 4
    return {
        "report": {
            "id": "BR-2026-Q4-0001",
            "quarter": "2026-Q4",
            "title": "Quarterly bias report",
            "status": "reviewed",
            "generated_at": "2026-11-25T10:00:00+00:00",
            "code_version": "0.1.0+git.abc1234",
        },
        "organisation": {
            "name": "Nordlicht Imaging GmbH",
            "contact": "compliance@nordlicht.example",
            "address": "Hafenstrasse 12, 20457 Hamburg, Germany",
        },
        "system": {"name": f"{model} 2026.4", "description": "face-analysis model scoring image quality (0-1)"},
        "summary": summary,
        "threshold_note": "Thresholds are chosen by the provider: a gap is judged against the policy's threshold.",
        "runs": [
            {
                "id": 42,
                "period": "2026-Q4",
                "model": {"name": model, "version": "2026.4", "sha256": digest},
                "evaluation_set": {"name": "demo-2026-Q4", "manifest_sha256": digest},
                "policy": {
                    "name": "quarterly",
                    "version": 3,
                    "threshold": THRESHOLD,
                    "confidence": 0.95,
                    "replicates": 1000,
                    "seed": 7,
                    "min_group_size": MIN_GROUP_SIZE,
                    "decision_threshold": 0.5,
                },
                "score_artifact_sha256": digest,
                "evidence_sha256": digest,
                "labels": True,
                "attributes": attributes,
                "intersections": {"largest": largest[:10], "too_small": too_small},
                "cross_check": {
                    "libraries": {"fairlearn": "0.15.0", "aif360": "0.6.1"},
                    "compared": 2400,
                    "largest_difference": 8.1e-11,
                    "tolerance": 1e-9,
                    "passed": True,
                },
                "excluded": {"consent withdrawn": 4},
            }
        ],
        "trend": trend,
        "governance": {
            "evaluation_sets": [
                {
                    "name": "demo-2026-Q4",
                    "members": sum(sizes.values()) + 60,
                    "audited": sum(sizes.values()),
                    "consent_coverage": sum(sizes.values()) / (sum(sizes.values()) + 60),
                    "excluded": {
                        "consent withdrawn": 30,
                        "consent expired": 12,
                        "erased": 6,
                        "copyright disputed": 4,
                        "no consent for evaluation": 6,
                        "minor without guardian": 2,
                    },
                    "strata": [
                        {"stratum": f"{t} | {s}", "available": 900, "eligible": 820, "drawn": 600}
                        for t in ATTRIBUTES["skin_tone:monk_3"]
                        for s in ATTRIBUTES["sex"]
                    ],
                    "provenance": [
                        {
                            "source": f"source {i}",
                            "licence": "CC-BY-4.0",
                            "copyright_status": "licensed",
                            "items": 1000 + i,
                        }
                        for i in range(4)
                    ],
                }
            ],
            "withdrawn_since_approval": [{"report": "BR-2026-Q3-0001", "quarter": "2026-Q3", "members": 9}],
        },
        "methodology": {
            "metrics": {"mean_score_gap": "highest group mean score minus the lowest"},
            "bootstrap": "Poisson bootstrap, percentile intervals",
            "verdict_rule": "pass below, fail above",
            "libraries": {"numpy": "2.4", "fairlearn": "0.15.0", "aif360": "0.6.1"},
            "seeds": [7],
            "notes": ["Groups under the minimum size are reported but not judged."],
        },
        "signoff": [
            {
                "action": "generated",
                "by": "olivia",
                "role": "Compliance officer",
                "at": "2026-11-25T10:00:00+00:00",
                "comment": "",
            },
            {
                "action": "reviewed",
                "by": "arthur",
                "role": "Auditor",
                "at": "2026-11-26T09:00:00+00:00",
                "comment": "checked",
            },
        ],
        "findings_comments": [
            {
                "finding": "age_band / mean_score_gap",
                "by": "arthur",
                "at": "2026-11-26T08:50:00+00:00",
                "text": "Widening since Q2.",
            }
        ],
    }


def evidence(size: int = 1_000_000) -> bytes:
    """An evidence JSON of about `size` bytes."""
    items = [{"key": f"item-{i:07d}", "score": round(i / 97 % 1, 6)} for i in range(size // 40)]
    return json.dumps({"schema": "bias-audit-evidence/1", "items": items}).encode()


def count_charts(html: str) -> int:
    return html.count("<svg ")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from pypdf import PdfReader

    from reports.render import render_html, render_pdf

    context = make_context()
    attached = {"evidence.json": evidence()}
    run = context["runs"][0]
    groups = 1
    for name in ATTRIBUTES:
        groups *= len(next(a for a in run["attributes"] if a["name"] == name)["groups"])
    charts = count_charts(render_html(context))
    print(
        f"input: {len(run['attributes'])} attributes, {groups} intersectional groups in the finest intersection, "
        f"{len(run['intersections']['largest'])} largest intersectional gaps, "
        f"{len(run['intersections']['too_small'])} intersectional groups too small; {charts} charts; "
        f"{len(attached['evidence.json']) / 1e6:.1f} MB evidence attached"
    )

    start = time.perf_counter()
    render_pdf(make_context(), attachments=attached)
    print(f"first render in the process (imports and caches included): {time.perf_counter() - start:.2f} s")
    seconds, pdf = [], b""
    for _ in range(args.repeat):
        elapsed, pdf = timed(render_pdf, make_context(), attachments=attached)
        seconds.append(elapsed)
    reader = PdfReader(BytesIO(pdf))
    print(f"output: {len(reader.pages)} pages, {len(pdf) / 1e6:.2f} MB, attachments {sorted(reader.attachments)}")
    report("render_pdf (charts + HTML + PDF/A-3b)", seconds, target=TARGET_SECONDS)


if __name__ == "__main__":
    main()
