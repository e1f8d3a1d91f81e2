"""A realistic report context, as `reports.context.build_context` builds it: one labelled run of a face-scoring
model with two attributes (Monk skin tone in three bands, sex) and their intersection, four quarters of trend
(the first without a run), an evaluation set with exclusions, strata and provenance, sign-off and comments.

`sample_context()` returns a fresh copy each call, so tests may change or delete what they like.
"""

import copy
import hashlib
import json

MODEL = "demo-face-scorer 2026.4"
SKIN = "skin_tone:monk_3"
SEX = "sex"
INTERSECTION = "skin_tone:monk_3 & sex"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def group(name, n, mean, ci, selection, tpr, fpr, *, sufficient=True):
    return {
        "name": name,
        "n": n,
        "sufficient": sufficient,
        "mean_score": mean,
        "mean_score_ci": ci,
        "selection_rate": selection,
        "tpr": tpr,
        "fpr": fpr,
        "fnr": None if tpr is None else 1 - tpr,
    }


def gap(value, ci, verdict, *, n_needed=None, highest=None, lowest=None, threshold=0.05):
    return {
        "value": value,
        "ci": ci,
        "threshold": threshold,
        "verdict": verdict,
        "n_needed": n_needed,
        "highest": highest,
        "lowest": lowest,
    }


ERROR_CONTROL = (
    "FAIL verdicts share one simultaneous band over every pair of groups of all 3 judged gaps (one max-|t| critical "
    "value), so the chance that any FAIL in this audit is false is at most 5%."
)
SKIN_GAP = gap(0.1079, [0.0800, 0.1363], "fail", highest="dark", lowest="light")
SEX_GAP = gap(0.0418, [0.0258, 0.0583], "inconclusive", n_needed=5702, highest="male", lowest="female")

_CONTEXT = {
    "report": {
        "id": "BR-2026-Q4-0001",
        "quarter": "2026-Q4",
        "title": "Quarterly bias report",
        "status": "draft",
        "generated_at": "2026-11-25T10:00:00+00:00",
        "code_version": "0.1.0+git.abc1234",
    },
    "organisation": {
        "name": "Nordlicht Imaging GmbH",
        "contact": "compliance@nordlicht.example",
        "address": "Hafenstrasse 12, 20457 Hamburg, Germany",
    },
    "system": {
        "name": MODEL,
        "description": "Face-analysis model that scores image quality for identity checks (score 0-1).",
    },
    "summary": [
        {"model": MODEL, "attribute": SKIN, "metric": "mean_score_gap", **SKIN_GAP},
        {"model": MODEL, "attribute": SEX, "metric": "mean_score_gap", **SEX_GAP},
    ],
    "threshold_note": (
        "Thresholds are chosen by the provider: a gap is judged against the policy's threshold, "
        "not against a legal standard."
    ),
    "runs": [
        {
            "id": 17,
            "period": "2026-Q4",
            "model": {"name": "demo-face-scorer", "version": "2026.4", "sha256": digest("weights")},
            "evaluation_set": {"name": "demo-2026-Q4", "manifest_sha256": digest("manifest")},
            "policy": {
                "name": "quarterly",
                "version": 3,
                "threshold": 0.05,
                "confidence": 0.95,
                "replicates": 1000,
                "seed": 20261,
                "min_group_size": 30,
                "decision_threshold": 0.5,
                "ratio_threshold": 0.8,
            },
            "verdict": {
                "verdict": "fail",
                "counts": {"pass": 0, "fail": 2, "inconclusive": 1, "insufficient": 0},
                "judged": 3,
                "failures": [f"{SKIN}: mean_score_gap", f"{INTERSECTION}: mean_score_gap"],
                "inconclusive": [f"{SEX}: mean_score_gap"],
                "not_judged": [],
                "error_control": ERROR_CONTROL,
            },
            "score_artifact_sha256": digest("scores"),
            "evidence_sha256": digest("evidence"),
            "labels": True,
            "attributes": [
                {
                    "name": SKIN,
                    "reference": "light",
                    "groups": [
                        group("light", 1204, 0.4612, [0.4521, 0.4703], 0.412, 0.801, 0.104),
                        group("medium", 1518, 0.5097, [0.5011, 0.5180], 0.497, 0.842, 0.152),
                        group("dark", 1187, 0.5691, [0.5589, 0.5795], 0.603, 0.889, 0.231),
                    ],
                    "gap": copy.deepcopy(SKIN_GAP),
                    "trend": {"slope": 0.0540, "ci": [0.0470, 0.0611], "order": ["light", "medium", "dark"]},
                },
                {
                    "name": SEX,
                    "reference": None,
                    "groups": [
                        group("female", 1962, 0.4935, [0.4862, 0.5008], 0.476, 0.833, 0.141),
                        group("male", 1921, 0.5353, [0.5276, 0.5431], 0.529, 0.851, 0.178),
                        group("intersex", 26, 0.5021, [0.4410, 0.5650], 0.500, 0.846, 0.154, sufficient=False),
                    ],
                    "gap": copy.deepcopy(SEX_GAP),
                    "trend": None,
                },
            ],
            "intersections": {
                "largest": [
                    {
                        "grouping": INTERSECTION,
                        "value": 0.1116,
                        "ci": [0.0937, 0.1621],
                        "threshold": 0.05,
                        "verdict": "fail",
                        "highest": "dark & male",
                        "lowest": "light & female",
                    },
                ],
                "too_small": [
                    {"grouping": INTERSECTION, "group": "light & intersex", "n": 8},
                    {"grouping": INTERSECTION, "group": "medium & intersex", "n": 11},
                    {"grouping": INTERSECTION, "group": "dark & intersex", "n": 7},
                ],
            },
            "cross_check": {
                "libraries": {"fairlearn": "0.15.0", "aif360": "0.6.1"},
                "compared": 412,
                "largest_difference": 9.6e-11,
                "tolerance": 1e-9,
                "passed": True,
            },
            "excluded": {"consent withdrawn": 3},
        }
    ],
    "trend": [
        {
            "model": "demo-face-scorer",
            "attribute": SKIN,
            "threshold": 0.05,
            "points": [
                {"quarter": "2026-Q1", "value": None, "ci": [None, None], "verdict": ""},
                {"quarter": "2026-Q2", "value": 0.1342, "ci": [0.1101, 0.1590], "verdict": "fail"},
                {"quarter": "2026-Q3", "value": 0.1203, "ci": [0.0981, 0.1432], "verdict": "fail"},
                {"quarter": "2026-Q4", "value": 0.1079, "ci": [0.0800, 0.1363], "verdict": "fail"},
            ],
        },
        {
            "model": "demo-face-scorer",
            "attribute": SEX,
            "threshold": 0.05,
            "points": [
                {"quarter": "2026-Q1", "value": None, "ci": [None, None], "verdict": ""},
                {"quarter": "2026-Q2", "value": 0.0211, "ci": [0.0102, 0.0334], "verdict": "pass"},
                {"quarter": "2026-Q3", "value": 0.0307, "ci": [0.0188, 0.0461], "verdict": "pass"},
                {"quarter": "2026-Q4", "value": 0.0418, "ci": [0.0258, 0.0583], "verdict": "inconclusive"},
            ],
        },
    ],
    "governance": {
        "evaluation_sets": [
            {
                "name": "demo-2026-Q4",
                "members": 3960,
                "audited": 3909,
                "consent_coverage": 3909 / 3960,
                "excluded": {
                    "consent withdrawn": 21,
                    "consent expired": 9,
                    "no consent for evaluation": 12,
                    "erased": 4,
                    "copyright disputed": 3,
                    "minor without guardian": 2,
                },
                "strata": [
                    {"stratum": f"{tone} | {sex}", "available": available, "eligible": eligible, "drawn": drawn}
                    for tone, sex, available, eligible, drawn in [
                        ("light", "female", 912, 840, 640),
                        ("light", "male", 880, 801, 620),
                        ("medium", "female", 1120, 1032, 780),
                        ("medium", "male", 1090, 1010, 770),
                        ("dark", "female", 870, 799, 600),
                        ("dark", "male", 845, 776, 590),
                    ]
                ],
                "provenance": [
                    {
                        "source": "Studio capture 2025",
                        "licence": "LicenseRef-Consented-Research",
                        "copyright_status": "owned",
                        "items": 2410,
                    },
                    {
                        "source": "Partner clinic panel",
                        "licence": "CC-BY-4.0",
                        "copyright_status": "licensed",
                        "items": 1499,
                    },
                ],
            }
        ],
        "withdrawn_since_approval": [{"report": "BR-2026-Q3-0001", "quarter": "2026-Q3", "members": 14}],
    },
    "methodology": {
        "metrics": {
            "mean_score_gap": "highest group mean score minus the lowest",
            "selection_rate_gap": "highest selection rate minus the lowest (demographic parity difference)",
        },
        "plain": "A gap is judged by comparing every pair of groups.",
        "bootstrap": "Poisson bootstrap weights as a deterministic function of (item key, replicate, seed).",
        "interval_rule": "For every pair of groups judged on a figure, the signed difference d gets a standard error.",
        "n_needed": "n_needed, given with an inconclusive verdict, is the number of items per group at which the "
        "pair of groups that decides the verdict would settle it with 80% power.",
        "verdict_rule": "pass if the interval's upper bound is below the threshold, fail if its lower bound is "
        "above it, inconclusive otherwise",
        "libraries": {
            "numpy": "2.4.6",
            "pandas": "3.1.1",
            "fairlearn": "0.15.0",
            "aif360": "0.6.1",
            "torch": "2.9.0",
            "weasyprint": "70.0",
        },
        "seeds": [20261],
        "notes": ["Groups under the policy's minimum size are reported but not judged."],
    },
    "signoff": [
        {
            "action": "generated",
            "by": "olivia",
            "role": "Compliance officer",
            "at": "2026-11-25T10:00:00+00:00",
            "comment": "generated",
        },
        {
            "action": "reviewed",
            "by": "arthur",
            "role": "Auditor",
            "at": "2026-11-26T14:30:00+00:00",
            "comment": "Figures checked against the evidence file.",
        },
    ],
    "findings_comments": [
        {
            "finding": f"{SKIN} / mean_score_gap",
            "by": "arthur",
            "at": "2026-11-26T14:20:00+00:00",
            "text": "The gap narrows each quarter but is still twice the threshold.",
        },
    ],
}

EVIDENCE = {
    "schema": "bias-audit-evidence/1",
    "attributes": {SKIN: {"mean_score_gap": SKIN_GAP}},
    "data": {"items": 3909},
}


def sample_context() -> dict:
    return copy.deepcopy(_CONTEXT)


def evidence_bytes() -> bytes:
    return json.dumps(EVIDENCE, sort_keys=True).encode()
