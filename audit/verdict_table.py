"""The verdict table printed by `run_audit --wait` and `audit_file`."""


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def verdict_lines(evidence: dict) -> list[str]:
    rows = [("grouping", "metric", "gap", "interval", "threshold", "verdict", "")]
    confidence = evidence["policy"]["confidence"]
    for v in evidence["verdicts"]:
        low, high = v["ci"]
        note = f"needs ~{v['n_needed']:,} per group" if v.get("n_needed") else ""
        rows.append(
            (v["grouping"], v["metric"], _figure(v["value"]), f"[{_figure(low)}, {_figure(high)}]",
             _figure(v["threshold"]), v["verdict"].upper(), note)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"Intervals: {confidence:.0%} Poisson bootstrap, {evidence['policy']['bootstrap']['replicates']:,} "
                 f"replicates; the threshold is chosen by the provider.")  # fmt: skip
    insufficient = [
        f"{name}: {', '.join(section['insufficient_groups'])}"
        for name, section in {**evidence["attributes"], **evidence["intersections"]}.items()
        if section["insufficient_groups"]
    ]
    if insufficient:
        lines.append(f"Groups under the minimum size of {evidence['policy']['min_group_size']} (reported, not judged):")
        lines.extend(f"  {line}" for line in insufficient)
    check = evidence["cross_check"]
    lines.append(
        f"Cross-check: {check['compared']} figures recomputed with Fairlearn {check['libraries']['fairlearn']} and "
        f"AIF360 {check['libraries']['aif360']}; largest difference {check['largest_difference']:.2g}."
    )
    return lines
