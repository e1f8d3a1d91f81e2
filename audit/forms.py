"""The compliance officer's forms for audit policies and audit runs."""

from django import forms
from django.utils import timezone

from audit.fairness import GAP_METRICS
from audit.fairness.spec import FOUR_FIFTHS, LABEL_METRICS, TARGET_METRICS
from audit.models import AuditPolicy
from consent.selectors import attribute_schemas
from scoring.selectors import evaluation_sets, frozen_evaluation_sets, model_versions

# Metrics a registry run can judge: the others need ground truth that registry items do not carry.
REGISTRY_METRICS = [m for m in GAP_METRICS if m not in LABEL_METRICS | TARGET_METRICS]


def attribute_choices() -> list[tuple[str, str]]:
    """Every attribute of every attribute schema, raw and through each of its bandings."""
    choices: dict[str, str] = {}
    for schema in attribute_schemas():
        for name, attribute in schema.rules().attributes.items():
            choices.setdefault(name, f"{name} — {attribute.label or name}: {', '.join(attribute.values)}")
            for banding, bands in attribute.bandings.items():
                choices.setdefault(f"{name}:{banding}", f"{name} banded {banding}: {', '.join(bands)}")
    return list(choices.items())


class PolicyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="A policy is never edited: a name already in use gets its next version."
    )
    attributes = forms.MultipleChoiceField(
        label="Protected attributes",
        widget=forms.CheckboxSelectMultiple,
        help_text="Each is audited alone; with intersections on, every combination of them too.",
    )
    references = forms.CharField(
        label="Reference groups",
        required=False,
        help_text="Optional, e.g. “sex=female, skin_tone:monk_3=light”. Without one, the largest judged group is the "
        "reference for the comparisons; the gaps do not depend on it.",
    )
    intersections = forms.BooleanField(label="Also audit the intersections of the attributes", required=False)
    metrics = forms.MultipleChoiceField(
        label="Gaps and ratios judged",
        choices=[(m, f"{m.replace('_', ' ')}: {GAP_METRICS[m]}") for m in REGISTRY_METRICS],
        widget=forms.CheckboxSelectMultiple,
        help_text="The mean score gap is always judged. Gaps (differences) are held against the threshold, ratios "
        "against the ratio threshold.",
        required=False,
    )
    threshold = forms.FloatField(
        label="Threshold (provider-chosen)",
        initial=0.05,
        min_value=0,
        max_value=1,
        help_text="The largest acceptable gap. The EU AI Act sets no number: 0.05 is this platform's default, chosen "
        "by the provider, and reports say so.",
    )
    ratio_threshold = forms.FloatField(
        label="Ratio threshold",
        initial=FOUR_FIFTHS,
        required=False,
        min_value=0,
        max_value=1,
        help_text="The lowest acceptable ratio of a group's rate to the highest group's, for the ratio metrics (such "
        "as the disparate impact ratio). Left blank, 0.8: the four-fifths rule of US employment practice.",
    )
    confidence = forms.FloatField(label="Confidence level", initial=0.95, help_text="Of the intervals, e.g. 0.95.")
    replicates = forms.IntegerField(label="Bootstrap replicates", initial=1000, min_value=1)
    seed = forms.IntegerField(
        initial=0, min_value=0, help_text="Of the bootstrap; the same seed gives the same intervals."
    )
    min_group_size = forms.IntegerField(
        label="Minimum group size", initial=30, min_value=1, help_text="Smaller groups are reported, not judged."
    )
    decision_threshold = forms.FloatField(
        initial=0.5, min_value=0, max_value=1, help_text="A score at or over it counts as selected (selection rates)."
    )
    check_against = forms.ModelChoiceField(
        label="Check the attributes against",
        queryset=evaluation_sets(),
        required=False,
        empty_label="— no check now (checked when a run starts) —",
        help_text="An evaluation set whose dataset's attributes the policy must fit.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    # Fields named by the service and the engine, and the field that shows them.
    ALIASES = {"bootstrap": "replicates"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attributes"].choices = attribute_choices()
        if not self.is_bound:
            self.initial.setdefault("intersections", True)
            self.initial.setdefault("metrics", ["mean_score_gap"])

    @classmethod
    def initial_from(cls, policy: AuditPolicy) -> dict:
        """The form filled from an existing version, to define the next one."""

        def column(entry):
            return f"{entry['attribute']}:{entry['banding']}" if entry.get("banding") else entry["attribute"]

        return {
            "name": policy.name,
            "attributes": [column(e) for e in policy.attributes],
            "references": ", ".join(f"{column(e)}={e['reference']}" for e in policy.attributes if e.get("reference")),
            "intersections": policy.intersections,
            "metrics": policy.metrics,
            "threshold": policy.threshold,
            "ratio_threshold": policy.ratio_threshold,
            "confidence": policy.confidence,
            "replicates": policy.replicates,
            "seed": policy.seed,
            "min_group_size": policy.min_group_size,
            "decision_threshold": policy.decision_threshold,
            "description": policy.description,
        }

    def clean_references(self) -> dict[str, str]:
        references = {}
        for part in filter(None, (p.strip() for p in self.cleaned_data["references"].split(","))):
            column, separator, group = part.partition("=")
            if not separator or not column.strip() or not group.strip():
                raise forms.ValidationError(f"“{part}”: write attribute=group, e.g. sex=female")
            references[column.strip()] = group.strip()
        return references

    def clean_ratio_threshold(self) -> float:
        value = self.cleaned_data["ratio_threshold"]
        return FOUR_FIFTHS if value is None else value

    def clean(self):
        cleaned = super().clean()
        chosen = set(cleaned.get("attributes") or [])
        unknown = sorted(set(cleaned.get("references") or {}) - chosen)
        if unknown:
            self.add_error("references", f"{unknown[0]} is not one of the chosen attributes")
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        entries = []
        for column in data["attributes"]:
            attribute, _, banding = column.partition(":")
            entries.append(
                {"attribute": attribute, "banding": banding or None, "reference": data["references"].get(column)}
            )
        metrics = ["mean_score_gap", *[m for m in data["metrics"] if m != "mean_score_gap"]]
        return {
            "name": data["name"].strip(),
            "attributes": entries,
            "metrics": metrics,
            "threshold": data["threshold"],
            "ratio_threshold": data["ratio_threshold"],
            "confidence": data["confidence"],
            "replicates": data["replicates"],
            "seed": data["seed"],
            "min_group_size": data["min_group_size"],
            "decision_threshold": data["decision_threshold"],
            "intersections": data["intersections"],
            "description": data["description"],
            "evaluation_set": data["check_against"],
        }


def current_quarter() -> str:
    today = timezone.now()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


class PolicyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, policy):
        return (
            f"{policy} — threshold {policy.threshold:g}, ratio threshold {policy.ratio_threshold:g}, "
            f"{policy.confidence:.0%} intervals"
        )


class EvaluationSetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, evaluation_set):
        drawn = evaluation_set.report.get("drawn", 0)
        return (
            f"{evaluation_set.name} — {evaluation_set.dataset}, {drawn:,} items, {evaluation_set.manifest_sha256[:8]}"
        )


class StartRunForm(forms.Form):
    model_version = forms.ModelChoiceField(
        label="Model version",
        queryset=model_versions(),
        empty_label="Choose a model version",
    )
    evaluation_set = EvaluationSetChoiceField(
        queryset=frozen_evaluation_sets(),
        empty_label="Choose a frozen evaluation set",
        help_text="Frozen sets only. Consent is checked again when the run starts: members withdrawn since the freeze "
        "are left out and counted.",
    )
    policy = PolicyChoiceField(
        queryset=AuditPolicy.objects.order_by("name", "-version"), empty_label="Choose a policy version"
    )
    period = forms.CharField(label="Quarter", max_length=7, help_text="The reporting quarter, e.g. 2026-Q4.")

    # Problems named by the service, and the field that shows them.
    ALIASES = {"attributes": "policy", "model": "model_version"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("period", current_quarter())

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "model": data["model_version"],
            "evaluation_set": data["evaluation_set"],
            "policy": data["policy"],
            "period": data["period"].strip(),
        }
