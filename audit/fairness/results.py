"""Typed, frozen results of an audit, serialised to the evidence JSON (`to_json`) and read back (`from_json`).

The JSON keys are the documented schema; other apps read evidence through these types, not raw keys.
"""

from dataclasses import dataclass, field

from audit.fairness.spec import HEADLINE

Interval = tuple[float | None, float | None]


def _interval(value) -> Interval:
    low, high = value if value is not None else (None, None)
    return low, high


@dataclass(frozen=True)
class Figure:
    value: float | None
    ci: Interval


@dataclass(frozen=True)
class GroupResult:
    n: int
    sufficient: bool
    figures: dict[str, Figure]
    positives: int | None = None
    negatives: int | None = None
    undefined_replicates: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        entry: dict = {"n": self.n, "sufficient": self.sufficient}
        if self.positives is not None:
            entry.update(positives=self.positives, negatives=self.negatives)
        for name, figure in self.figures.items():
            entry[name] = figure.value
            entry[f"{name}_ci"] = list(figure.ci)
        if self.undefined_replicates:
            entry["undefined_replicates"] = dict(self.undefined_replicates)
        return entry

    @classmethod
    def from_json(cls, entry: dict) -> "GroupResult":
        names = [k[: -len("_ci")] for k in entry if k.endswith("_ci")]
        return cls(
            n=entry["n"],
            sufficient=entry["sufficient"],
            figures={name: Figure(entry.get(name), _interval(entry[f"{name}_ci"])) for name in names},
            positives=entry.get("positives"),
            negatives=entry.get("negatives"),
            undefined_replicates=dict(entry.get("undefined_replicates", {})),
        )


@dataclass(frozen=True)
class Gap:
    """A gap (largest difference between groups) or a ratio (lowest over highest), with its verdict if judged."""

    metric: str
    scale: str  # "difference" or "ratio"
    value: float | None
    ci: Interval
    highest: str | None = None
    lowest: str | None = None
    pairs: int = 0
    insufficient_groups: tuple[str, ...] = ()
    undefined_replicates: int = 0
    critical_value: float | None = None
    adjusted_for: int = 1  # how many verdicts the interval is simultaneous over
    threshold: float | None = None
    verdict: str | None = None
    n_needed: int | None = None
    pass_bound: float | None = None

    @property
    def judged(self) -> bool:
        return self.verdict is not None

    def to_json(self) -> dict:
        entry = {
            "value": self.value,
            "ci": list(self.ci),
            "scale": self.scale,
            "pairs": self.pairs,
            "insufficient_groups": list(self.insufficient_groups),
            "undefined_replicates": self.undefined_replicates,
            "critical_value": self.critical_value,
            "adjusted_for": self.adjusted_for,
        }
        if self.highest is not None:
            entry.update(highest=self.highest, lowest=self.lowest)
        if self.judged:
            entry.update(threshold=self.threshold, verdict=self.verdict, n_needed=self.n_needed,
                         pass_bound=self.pass_bound)  # fmt: skip
        return entry

    @classmethod
    def from_json(cls, metric: str, entry: dict) -> "Gap":
        return cls(
            metric=metric,
            scale=entry.get("scale", "difference"),
            value=entry["value"],
            ci=_interval(entry["ci"]),
            highest=entry.get("highest"),
            lowest=entry.get("lowest"),
            pairs=entry.get("pairs", 0),
            insufficient_groups=tuple(entry.get("insufficient_groups", ())),
            undefined_replicates=entry.get("undefined_replicates", 0),
            critical_value=entry.get("critical_value"),
            adjusted_for=entry.get("adjusted_for", 1),
            threshold=entry.get("threshold"),
            verdict=entry.get("verdict"),
            n_needed=entry.get("n_needed"),
            pass_bound=entry.get("pass_bound"),
        )


@dataclass(frozen=True)
class Trend:
    order: tuple[str, ...]
    groups_used: tuple[str, ...]
    slope: float | None
    ci: Interval
    definition: str = (
        "least-squares slope of the group mean scores per step along the ordered groups, each group weighted "
        "by its size (equal to the item-level regression of score on the group's position)"
    )

    def to_json(self) -> dict:
        return {"order": list(self.order), "groups_used": list(self.groups_used), "definition": self.definition,
                "slope": self.slope, "ci": list(self.ci), "weights": "group size"}  # fmt: skip

    @classmethod
    def from_json(cls, entry: dict) -> "Trend":
        return cls(tuple(entry["order"]), tuple(entry["groups_used"]), entry["slope"], _interval(entry["ci"]),
                   entry["definition"])  # fmt: skip


@dataclass(frozen=True)
class ImpactRatio:
    """NYC Local Law 144: a category's selection rate over the highest category's."""

    n: int
    selection_rate: float | None
    value: float | None
    ci: Interval
    excluded: bool
    scoring_rate: float | None
    scoring_impact_ratio: float | None
    scoring_impact_ratio_ci: Interval
    reason: str | None = None

    def to_json(self) -> dict:
        return {"n": self.n, "selection_rate": self.selection_rate, "value": self.value, "ci": list(self.ci),
                "excluded": self.excluded, "reason": self.reason, "scoring_rate": self.scoring_rate,
                "scoring_impact_ratio": self.scoring_impact_ratio,
                "scoring_impact_ratio_ci": list(self.scoring_impact_ratio_ci)}  # fmt: skip

    @classmethod
    def from_json(cls, entry: dict) -> "ImpactRatio":
        return cls(entry["n"], entry["selection_rate"], entry["value"], _interval(entry["ci"]), entry["excluded"],
                   entry["scoring_rate"], entry["scoring_impact_ratio"],
                   _interval(entry["scoring_impact_ratio_ci"]), entry.get("reason"))  # fmt: skip


@dataclass(frozen=True)
class Section:
    """One grouping: an attribute alone or an intersection."""

    attributes: tuple[str, ...]
    order: tuple[str, ...]
    groups: dict[str, GroupResult]
    insufficient_groups: tuple[str, ...]
    reference: str | None
    gaps: dict[str, Gap]
    versus_reference: dict[str, dict[str, Figure]]
    impact_ratios: dict[str, ImpactRatio]
    unknown_rows: int = 0
    trend: Trend | None = None

    @property
    def headline(self) -> Gap:
        return self.gaps[HEADLINE]

    def to_json(self) -> dict:
        section = {
            "attributes": list(self.attributes),
            "order": list(self.order),  # JSON objects (and PostgreSQL's jsonb) do not keep key order
            "groups": {label: group.to_json() for label, group in self.groups.items()},
            "insufficient_groups": list(self.insufficient_groups),
            "reference": self.reference,
            "mean_score_gap": self.headline.to_json(),
            "gaps": {metric: gap.to_json() for metric, gap in self.gaps.items()},
            "versus_reference": {
                label: {metric: {"value": f.value, "ci": list(f.ci)} for metric, f in figures.items()}
                for label, figures in self.versus_reference.items()
            },
            "impact_ratios": {label: ratio.to_json() for label, ratio in self.impact_ratios.items()},
            "unknown_rows": self.unknown_rows,
        }
        if self.trend is not None:
            section["trend"] = self.trend.to_json()
        return section

    @classmethod
    def from_json(cls, entry: dict) -> "Section":
        return cls(
            attributes=tuple(entry["attributes"]),
            order=tuple(entry["order"]),
            groups={label: GroupResult.from_json(g) for label, g in entry["groups"].items()},
            insufficient_groups=tuple(entry["insufficient_groups"]),
            reference=entry["reference"],
            gaps={metric: Gap.from_json(metric, g) for metric, g in entry["gaps"].items()},
            versus_reference={
                label: {m: Figure(f["value"], _interval(f["ci"])) for m, f in figures.items()}
                for label, figures in entry["versus_reference"].items()
            },
            impact_ratios={label: ImpactRatio.from_json(r) for label, r in entry.get("impact_ratios", {}).items()},
            unknown_rows=entry.get("unknown_rows", 0),
            trend=Trend.from_json(entry["trend"]) if "trend" in entry else None,
        )


@dataclass(frozen=True)
class Verdict:
    grouping: str
    gap: Gap

    def to_json(self) -> dict:
        return {"grouping": self.grouping, "metric": self.gap.metric, **self.gap.to_json()}

    @classmethod
    def from_json(cls, entry: dict) -> "Verdict":
        return cls(entry["grouping"], Gap.from_json(entry["metric"], entry))


@dataclass(frozen=True)
class RunVerdict:
    """The audit's own verdict: pass only when every judged grouping and metric passes."""

    verdict: str
    counts: dict[str, int]
    failures: tuple[str, ...]  # "grouping: metric", failures first in the order judged
    inconclusive: tuple[str, ...]
    not_judged: tuple[str, ...]
    error_control: str

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "counts": dict(self.counts), "failures": list(self.failures),
                "inconclusive": list(self.inconclusive), "not_judged": list(self.not_judged),
                "error_control": self.error_control}  # fmt: skip

    @classmethod
    def from_json(cls, entry: dict) -> "RunVerdict":
        return cls(entry["verdict"], dict(entry["counts"]), tuple(entry["failures"]), tuple(entry["inconclusive"]),
                   tuple(entry["not_judged"]), entry["error_control"])  # fmt: skip


@dataclass(frozen=True)
class Findings:
    attributes: dict[str, Section]
    intersections: dict[str, Section]
    verdicts: tuple[Verdict, ...]
    run: RunVerdict
    warnings: tuple[str, ...] = ()

    @property
    def sections(self) -> dict[str, Section]:
        return {**self.attributes, **self.intersections}

    def to_json(self) -> dict:
        return {
            "attributes": {name: s.to_json() for name, s in self.attributes.items()},
            "intersections": {name: s.to_json() for name, s in self.intersections.items()},
            "verdicts": [v.to_json() for v in self.verdicts],
            "verdict": self.run.to_json(),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, evidence: dict) -> "Findings":
        return cls(
            attributes={name: Section.from_json(s) for name, s in evidence["attributes"].items()},
            intersections={name: Section.from_json(s) for name, s in evidence["intersections"].items()},
            verdicts=tuple(Verdict.from_json(v) for v in evidence["verdicts"]),
            run=RunVerdict.from_json(evidence["verdict"]),
            warnings=tuple(evidence.get("warnings", ())),
        )
