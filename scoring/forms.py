"""The compliance officer's forms for evaluation sets and model versions.

Forms check the shape of the input; the services check the rules. A service's RuleViolation
names a field, and `add_problems` puts each message next to that field.
"""

import json

import pandas as pd
from django import forms
from django.urls import reverse

from consent.errors import ImportFailed
from consent.importing import readers
from consent.models import CopyrightStatus, Dataset, ItemKind
from consent.selectors import datasets
from core.uploads import CappedUploadsForm
from scoring.engine import available_architectures, load_architecture
from scoring.engine.sampling import STRATUM_SEPARATOR, Allocation


def add_problems(form: forms.Form, problems, aliases: dict[str, str] | None = None) -> None:
    """Attach a service's (field, message) problems to the form's fields; others go above the form."""
    aliases = aliases or {}
    for field, message in problems:
        name = aliases.get(field, field)
        if name in form.fields:
            form.add_error(name, message)
        else:
            form.add_error(None, f"{field}: {message}" if field else message)


def whole_number(text: str) -> int | None:
    """The value of a whole number written in ASCII digits; None for anything else.

    `str.isdigit()` alone lets through digits such as "²" that int() refuses.
    """
    text = text.strip()
    return int(text) if text.isascii() and text.isdecimal() else None


# Evaluation sets -----------------------------------------------------------------------------


def strata_choices(dataset: Dataset | None) -> list[tuple[str, str]]:
    """Each attribute of the dataset's schema, raw and through each of its bandings (`skin_tone:monk_3`)."""
    choices: dict[str, str] = {}
    for each in [dataset] if dataset is not None else datasets():
        for name, attribute in each.attribute_schema.rules().attributes.items():
            title = attribute.label or name
            choices.setdefault(name, f"{name} — {title}: {', '.join(attribute.values)}")
            for banding, bands in attribute.bandings.items():
                choices.setdefault(f"{name}:{banding}", f"{name} banded {banding}: {', '.join(bands)}")
    return list(choices.items())


ALLOCATIONS = [
    ("per_stratum", "The same count in every stratum"),
    ("total", "A total, split in proportion to each stratum's eligible items, with a minimum per stratum"),
    ("targets", "A target for each stratum"),
]


class EvaluationSetForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Unique, e.g. “faces 2026-Q4”.")
    dataset = forms.ModelChoiceField(
        queryset=datasets(),
        empty_label=None,
        help_text="Changing it lists that dataset's attributes under “Stratify by”.",
    )
    strata = forms.MultipleChoiceField(
        label="Stratify by",
        widget=forms.CheckboxSelectMultiple,
        help_text="Each stratum is one combination of the chosen attributes' values (or bands).",
    )
    allocation = forms.ChoiceField(choices=ALLOCATIONS, initial="per_stratum", widget=forms.RadioSelect)
    per_stratum = forms.IntegerField(label="Items per stratum", min_value=1, required=False)
    total = forms.IntegerField(label="Total items", min_value=1, required=False)
    minimum = forms.IntegerField(label="At least per stratum", min_value=0, required=False, initial=0)
    targets = forms.CharField(
        label="Targets per stratum",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "dark | female: 50\ndark | male: 50"}),
        help_text=f"One stratum per line, “label: count”; a label is the values joined by “{STRATUM_SEPARATOR}” "
        "in the order of the attributes above.",
    )
    item_kind = forms.ChoiceField(
        label="Items",
        choices=[
            ("", "Tabular rows and images"),
            (ItemKind.TABULAR, "Tabular rows only"),
            (ItemKind.IMAGE, "Images only"),
        ],
        required=False,
    )
    seed = forms.IntegerField(min_value=0, initial=0, help_text="The same seed draws the same items.")
    snapshot_at = forms.DateTimeField(
        label="Consent as of",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Only items whose subject consented to evaluation at this time (UTC) are eligible. Empty: now.",
    )
    admit_disputed = forms.BooleanField(
        label="Admit items whose copyright is disputed",
        required=False,
        help_text="Left out by default.",
    )

    def __init__(self, *args, dataset: Dataset | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = dataset
        if self.is_bound:
            try:
                chosen = self.fields["dataset"].clean(self.data.get("dataset"))
            except forms.ValidationError:
                chosen = None
        elif chosen is None:
            chosen = self.fields["dataset"].queryset.first()
        if chosen is not None and not self.is_bound:
            self.initial["dataset"] = chosen.pk
        self.fields["strata"].choices = strata_choices(chosen)
        # Choosing another dataset swaps in its strata choices (htmx; without JavaScript the form still works).
        self.fields["dataset"].widget.attrs.update(
            {
                "hx-get": reverse("scoring:evaluation-set-new"),
                "hx-trigger": "change",
                "hx-target": "#strata-field",
                "hx-select": "#strata-field",
                "hx-swap": "outerHTML",
            }
        )

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("allocation")
        if method == "targets":
            cleaned["targets"] = self._parse_targets(cleaned.get("targets", ""))
        if method in ("per_stratum", "total", "targets") and method in cleaned and not cleaned[method]:
            self.add_error(method, "Give this for the allocation you chose.")
        if self.errors:
            return cleaned
        try:
            if method == "per_stratum":
                cleaned["allocation_spec"] = Allocation(per_stratum=cleaned["per_stratum"])
            elif method == "total":
                cleaned["allocation_spec"] = Allocation(total=cleaned["total"], minimum=cleaned.get("minimum") or 0)
            else:
                cleaned["allocation_spec"] = Allocation(targets=cleaned["targets"])
        except ValueError as exc:
            self.add_error("allocation", str(exc))
        return cleaned

    def _parse_targets(self, text: str) -> dict[str, int]:
        targets, problems = {}, []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            label, separator, count = line.rpartition(":")
            value = whole_number(count)
            if not separator or not label.strip():
                problems.append(f"line {number}: write “label: count”, e.g. “dark | female: 50”")
            elif value is None:
                problems.append(f"line {number}: {count.strip()!r} is not a whole number")
            else:
                targets[label.strip()] = value
        for problem in problems:
            self.add_error("targets", problem)
        return targets

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "dataset": data["dataset"],
            "strata": data["strata"],
            "allocation": data["allocation_spec"],
            "seed": data["seed"],
            "snapshot_at": data["snapshot_at"],
            "excluded_copyright": () if data["admit_disputed"] else (CopyrightStatus.DISPUTED,),
            "item_kind": data["item_kind"] or "",
        }


# Model versions ------------------------------------------------------------------------------

SCORE_PROBLEMS_SHOWN = 20


class ModelVersionForm(CappedUploadsForm):
    """Weights stop at MAX_WEIGHTS_UPLOAD_BYTES and scores at MAX_SCORES_UPLOAD_BYTES while they stream in."""

    name = forms.CharField(max_length=100, help_text="The model's name, e.g. “face-score”.")
    version = forms.CharField(max_length=50, help_text="A new version of an existing name is a new row.")
    kind = forms.ChoiceField(
        label="What you register",
        choices=[
            ("torch", "Safetensors weights for a trusted architecture"),
            ("precomputed", "A file of precomputed scores"),
        ],
        initial="torch",
        widget=forms.RadioSelect,
    )
    architecture = forms.ChoiceField(
        required=False,
        help_text="Trusted code: shipped here or installed by the operator as an entry point.",
    )
    config = forms.CharField(
        label="Architecture configuration",
        required=False,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text='JSON, e.g. {"feature_columns": ["f1", "f2"], "hidden": 64} for tabular-mlp.',
    )
    weights = forms.FileField(
        required=False,
        help_text="A .safetensors file. Pickled weights (.pt, .pth, .pkl, .pt2, TorchScript) are refused.",
    )
    scores = forms.FileField(
        label="Scores file",
        required=False,
        help_text="CSV or Parquet with the columns item (the item's reference) and score (0 to 1).",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    # Problems named by the services, and the field that shows them.
    ALIASES = {"score": "scores", "item": "scores"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["architecture"].choices = [("", "—")] + [(n, n) for n in sorted(available_architectures())]

    def clean_config(self) -> dict:
        text = self.cleaned_data["config"].strip() or "{}"
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"not valid JSON ({exc})") from None
        if not isinstance(config, dict):
            raise forms.ValidationError("the configuration is a JSON object, {…}")
        return config

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "torch":
            if not cleaned.get("weights"):
                self.add_error("weights", "Upload the model's weights as a .safetensors file.")
            if not cleaned.get("architecture"):
                self.add_error("architecture", "Choose the architecture the weights belong to.")
            elif "config" in cleaned:
                self._check_architecture(cleaned["architecture"], cleaned["config"])
        elif cleaned.get("kind") == "precomputed":
            upload = cleaned.get("scores")
            if not upload:
                self.add_error("scores", "Upload a CSV or Parquet file of item and score.")
            else:
                cleaned["scores_frame"] = self._read_scores(upload)
        return cleaned

    def _check_architecture(self, name: str, config: dict) -> None:
        """Build the trusted architecture once, so a missing setting is named before the weights are read."""
        try:
            load_architecture(name, config)
        except KeyError as exc:
            self.add_error("config", f"{name} needs {exc.args[0]!r} in its configuration")
        except (TypeError, ValueError) as exc:
            self.add_error("config", f"{name} cannot be built from this configuration: {exc}")

    def _read_scores(self, upload) -> pd.DataFrame | None:
        """The file as a table of strings, decoded in batches under the import limits (no Parquet bomb)."""
        try:
            return readers.read_upload(upload).frame
        except ImportFailed as failure:
            for problem in failure.problems[:SCORE_PROBLEMS_SHOWN]:
                self.add_error("scores", f"{upload.name}: {problem}")
            return None
