"""The verdict table printed by `run_audit --wait` and `audit_file`."""

from audit.fairness.results import Findings, Gap, RunVerdict
from audit.fairness.spec import RATIO_METRICS


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def warning_lines(evidence: dict) -> list[str]:
    return [f"Warning: {warning}" for warning in evidence.get("warnings", [])]


def run_verdict_line(run: RunVerdict) -> str:
    """'Audit verdict: FAIL (2 of 7 judged fail, 1 inconclusive, 4 pass; 1 not judged: too few items)'."""
    counts = {outcome: run.counts.get(outcome, 0) for outcome in ("fail", "inconclusive", "pass")}
    judged = sum(counts.values())
    if not judged:
        detail = "nothing could be judged"
    elif run.verdict == "pass":
        detail = f"all {judged} judged pass"
    else:
        first = run.verdict if run.verdict in counts else "fail"
        rest = [f"{counts[outcome]} {outcome}" for outcome in counts if outcome != first and counts[outcome]]
        detail = ", ".join([f"{counts[first]} of {judged} judged {first}", *rest])
    if run.not_judged:
        detail += f"; {len(run.not_judged)} not judged: too few items"
    return f"Audit verdict: {run.verdict.upper()} ({detail})"


def _note(gap: Gap) -> str:
    if gap.n_needed:
        return f"needs ~{gap.n_needed:,} per group"
    if gap.verdict == "pass" and gap.pass_bound is not None:
        # A pass rests on each pair's one-sided bound, which is tighter than the simultaneous interval shown.
        side = ">" if gap.scale == "ratio" else "<"
        return f"one-sided bound {_figure(gap.pass_bound)} {side} {_figure(gap.threshold)}"
    return ""


def verdict_lines(evidence: dict) -> list[str]:
    findings = Findings.from_json(evidence)
    policy = evidence["policy"]
    rows = [("grouping", "metric", "value", "interval", "threshold", "verdict", "")]
    for v in findings.verdicts:
        gap = v.gap
        note = _note(gap)
        rows.append(
            (v.grouping, gap.metric, _figure(gap.value), f"[{_figure(gap.ci[0])}, {_figure(gap.ci[1])}]",
             _figure(gap.threshold), (gap.verdict or "").upper(), note)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines = [run_verdict_line(findings.run), "", table[0], "-" * len(table[0]), *table[1:]]
    lines.append(
        f"Intervals: {policy['confidence']:.0%}, Poisson bootstrap with {policy['bootstrap']['replicates']:,} "
        "replicates, simultaneous over every pair of groups; thresholds are chosen by the provider."
    )
    if any(v.gap.metric in RATIO_METRICS for v in findings.verdicts):
        lines.append(
            "Differences pass under their threshold; ratios (lowest group over the highest) pass over theirs "
            "(0.8 is the four-fifths rule)."
        )
    insufficient = [
        f"{name}: {', '.join(section.insufficient_groups)}"
        for name, section in findings.sections.items()
        if section.insufficient_groups
    ]
    if insufficient:
        lines.append(f"Groups under the minimum size of {policy['min_group_size']} (reported, not judged):")
        lines.extend(f"  {line}" for line in insufficient)
    check = evidence["cross_check"]
    lines.append(
        f"Cross-check: {check['compared']} figures recomputed with Fairlearn {check['libraries']['fairlearn']} and "
        f"AIF360 {check['libraries']['aif360']}; largest difference {check['largest_difference']:.2g}."
    )
    lines.append(f"Error control: {findings.run.error_control}")
    return lines
