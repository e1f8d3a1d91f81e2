"""Every write of the scoring app: model versions, evaluation sets, score artifacts."""

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from safetensors import SafetensorError

from consent.errors import RuleViolation
from consent.features import absolute_path
from consent.models import CopyrightStatus, Dataset, ItemKind, Subject
from consent.rules.ledger import canonical_json, sha256_hex
from consent.rules.purposes import Purpose
from consent.selectors import ConsentStatus, consent_statuses, subjects_with_active_consent
from core import audit_log
from core.audit_log import Actor
from core.files import removed_unless_committed
from scoring.engine import WeightsError, load_architecture, load_weights, read_safetensors_header
from scoring.engine.distribute import score_shards
from scoring.engine.sampling import STRATUM_SEPARATOR, Allocation, draw, stratum_labels
from scoring.engine.scoring import ModelSpec, ScoreError, Shard, check_scores, device
from scoring.engine.weights import NOT_SAFETENSORS
from scoring.models import EvaluationSet, EvaluationSetMember, ModelVersion, ScoreArtifact

EXCLUDED_AFTER_FREEZE = "consent withdrawn since freeze"
NO_VALUES = "(no attribute values: erased or missing)"
SHARD_SIZE = 50_000


def _artifact_dir(kind: str) -> Path:
    path = Path(settings.ARTIFACT_ROOT) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


# Model versions ------------------------------------------------------------------------------


def register_model_version(
    *,
    actor: Actor,
    name: str,
    version: str,
    architecture: str,
    config: dict,
    weights: bytes,
    weights_name: str = "weights.safetensors",
    description: str = "",
) -> ModelVersion:
    """Register trusted architecture code with safetensors weights that fit it exactly.

    Malformed safetensors (a header followed by a pickle, a truncated file, a header that is not JSON or
    not safetensors' layout) are refused like any other bad weights; nothing in them is ever unpickled.
    """
    try:
        check_safetensors_layout(weights, name=weights_name)
        built = load_architecture(architecture, config)
        load_weights(weights, built.module, name=weights_name, architecture=architecture)
    except SafetensorError as exc:  # the layout check let through something safetensors itself refuses
        reason = f"safetensors cannot read it: {str(exc).splitlines()[0]}"
        raise RuleViolation([("weights", NOT_SAFETENSORS.format(name=weights_name, reason=reason))]) from None
    except (WeightsError, ValueError, KeyError) as exc:
        raise RuleViolation([("weights" if isinstance(exc, WeightsError) else "architecture", str(exc))]) from None
    digest = sha256_hex(weights)
    return _register(
        actor=actor, name=name, version=version, kind=ModelVersion.Kind.TORCH, architecture=architecture,
        config=config, data=weights, digest=digest, suffix=".safetensors", description=description,
    )  # fmt: skip


def check_safetensors_layout(data: bytes, *, name: str) -> dict:
    """The header of safetensors bytes whose tensors exactly fill the rest of the file; WeightsError otherwise.

    safetensors needs the tensors to cover every byte after the header: bytes after the last one (a pickle
    appended, say) or a file that ends before it (truncated) are refused here with the reason named.
    """
    try:
        header = read_safetensors_header(data, name=name)
    except RecursionError:  # JSON nested deeper than Python parses
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason="its header is not JSON")) from None
    (header_size,) = struct.unpack("<Q", data[:8])
    body = len(data) - 8 - header_size
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)):
            reason = f"its header entry {key[:80]!r} does not describe a tensor"
            raise WeightsError(NOT_SAFETENSORS.format(name=name, reason=reason))
        end = max(end, offsets[1])
    if end > body:
        reason = f"it is truncated: its header describes {end:,} bytes of tensors, the file holds {body:,}"
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason=reason))
    if end < body:
        reason = f"{body - end:,} bytes follow its last tensor, which safetensors does not allow"
        raise WeightsError(NOT_SAFETENSORS.format(name=name, reason=reason))
    return header


def register_precomputed_scores(
    *, actor: Actor, name: str, version: str, scores: pd.DataFrame, description: str = ""
) -> ModelVersion:
    """A model that ran elsewhere: a table of `item` (the item's reference) and `score` in [0, 1]."""
    problems = []
    missing = {"item", "score"} - set(scores.columns)
    if missing:
        raise RuleViolation(
            [("scores", f"the scores file needs the columns item and score (missing {sorted(missing)})")]
        )
    values = pd.to_numeric(scores["score"], errors="coerce")
    bad = values.isna() | (values < 0) | (values > 1)
    for index in np.flatnonzero(bad.to_numpy())[:20]:
        problems.append(
            (
                "score",
                f"row {index + 1}: item {scores['item'].iloc[index]!r} has score {scores['score'].iloc[index]!r}, "
                "not a number in [0, 1]",
            )
        )
    duplicated = scores["item"].astype(str).duplicated()
    for index in np.flatnonzero(duplicated.to_numpy())[:20]:
        problems.append(("item", f"row {index + 1}: item {scores['item'].iloc[index]!r} appears twice"))
    if problems:
        raise RuleViolation(problems)
    table = pa.table({"item": scores["item"].astype(str).to_numpy(), "score": values.to_numpy(dtype=np.float64)})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    return _register(
        actor=actor, name=name, version=version, kind=ModelVersion.Kind.PRECOMPUTED, architecture="", config={},
        data=data, digest=sha256_hex(data), suffix=".parquet", description=description,
    )  # fmt: skip


def _register(*, actor, name, version, kind, architecture, config, data, digest, suffix, description) -> ModelVersion:
    relative = f"models/{digest}{suffix}"
    target = Path(settings.ARTIFACT_ROOT) / relative
    with removed_unless_committed() as written, transaction.atomic():
        if ModelVersion.objects.filter(name=name, version=version).exists():
            raise RuleViolation([("version", f"model {name} {version} already exists")])
        if not target.exists():  # content-addressed: the same weights are stored once
            _artifact_dir("models")
            target.write_bytes(data)
            written.append(target)
        model = ModelVersion.objects.create(
            name=name, version=version, kind=kind, architecture=architecture, config=config,
            artifact_path=relative, artifact_sha256=digest, description=description,
        )  # fmt: skip
        audit_log.record(
            actor=actor, action="model.register", object_type="model_version", object_id=model.pk,
            after=model.audit_view(),
        )  # fmt: skip
    return model


def model_spec(model: ModelVersion) -> ModelSpec:
    data = (Path(settings.ARTIFACT_ROOT) / model.artifact_path).read_bytes()
    if sha256_hex(data) != model.artifact_sha256:
        raise RuleViolation([("weights", f"the stored weights of {model} no longer match their SHA-256")])
    return ModelSpec(
        architecture=model.architecture, config=model.config, weights=data, weights_sha256=model.artifact_sha256
    )


# Evaluation sets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StratumSpec:
    """An attribute to stratify by, optionally through one of its named bandings (`skin_tone:monk_3`)."""

    attribute: str
    banding: str = ""

    @classmethod
    def parse(cls, text: str) -> "StratumSpec":
        attribute, _, banding = text.partition(":")
        return cls(attribute=attribute.strip(), banding=banding.strip())

    def __str__(self):
        return f"{self.attribute}:{self.banding}" if self.banding else self.attribute


def build_evaluation_set(
    *,
    actor: Actor,
    name: str,
    dataset: Dataset,
    strata: list[str],
    allocation: Allocation,
    seed: int,
    snapshot_at: datetime | None = None,
    excluded_copyright: tuple[str, ...] = (CopyrightStatus.DISPUTED,),
    item_kind: str = "",
) -> EvaluationSet:
    """Draw a stratified set from the items eligible at `snapshot_at` and record why the rest were left out.

    Eligible: not erased, consent for evaluation active at the snapshot (a minor's grant exists
    only with a guardian's consent, so the guardian rule is met by construction), a source whose
    copyright status is not excluded, and a value for every stratifying attribute.
    """
    snapshot_at = snapshot_at or timezone.now()
    specs = [StratumSpec.parse(s) for s in strata]
    problems = _strata_problems(dataset, specs)
    if item_kind and item_kind not in ItemKind.values:
        problems.append(("item_kind", f"unknown item kind {item_kind!r}; use tabular or image"))
    bad_status = sorted(set(excluded_copyright) - set(CopyrightStatus.values))
    if bad_status:
        problems.append(("excluded_copyright", f"unknown copyright status {bad_status[0]!r}"))
    if EvaluationSet.objects.filter(name=name).exists():
        problems.append(("name", f"an evaluation set named {name!r} already exists"))
    if problems:
        raise RuleViolation(problems)

    items = _items_frame(dataset, specs, item_kind)
    statuses = consent_statuses(
        Purpose.EVALUATION, snapshot_at, Subject.objects.filter(pk__in=items["subject_id"].unique().tolist())
    ) if len(items) else {}  # fmt: skip
    items["reason"] = _exclusion_reasons(items, statuses, set(excluded_copyright))
    items["stratum"] = stratum_labels(items, [str(s) for s in specs]) if len(items) else pd.Series(dtype=str)
    eligible = items[items["reason"] == ""]
    drawn = (
        draw(eligible, stratum=eligible["stratum"], allocation=allocation, seed=seed)
        if len(eligible)
        else eligible.assign(stratum="")
    )
    report = _report(items, drawn)

    with transaction.atomic():
        evaluation_set = EvaluationSet.objects.create(
            name=name, dataset=dataset, item_kind=item_kind, snapshot_at=snapshot_at, strata=[str(s) for s in specs],
            allocation=allocation.as_json(), excluded_copyright=sorted(excluded_copyright), seed=seed, report=report,
        )  # fmt: skip
        EvaluationSetMember.objects.bulk_create(
            [
                EvaluationSetMember(evaluation_set=evaluation_set, item_id=int(item_id), stratum=stratum)
                for item_id, stratum in zip(drawn["item_id"], drawn["stratum"], strict=True)
            ],
            batch_size=5_000,
        )
        audit_log.record(
            actor=actor, action="evaluation_set.build", object_type="evaluation_set", object_id=evaluation_set.pk,
            after=evaluation_set.audit_view(),
        )  # fmt: skip
    return evaluation_set


def _strata_problems(dataset: Dataset, specs: list[StratumSpec]) -> list[tuple[str, str]]:
    schema = dataset.attribute_schema.rules()
    problems = []
    if not specs:
        problems.append(("strata", "name at least one attribute to stratify by"))
    for spec in specs:
        attribute = schema.attributes.get(spec.attribute)
        if attribute is None:
            problems.append(("strata", f"{spec.attribute!r} is not an attribute of {dataset.attribute_schema}"))
        elif spec.banding and spec.banding not in attribute.bandings:
            problems.append(("strata", f"{spec.attribute!r} has no banding {spec.banding!r}"))
    return problems


def _items_frame(dataset: Dataset, specs: list[StratumSpec], item_kind: str) -> pd.DataFrame:
    items = dataset.items.filter(kind=item_kind) if item_kind else dataset.items.all()
    rows = list(items.values_list("pk", "subject_id", "attributes", "erased_at", "source__copyright_status"))
    frame = pd.DataFrame(rows, columns=["item_id", "subject_id", "attributes", "erased_at", "copyright"])
    schema = dataset.attribute_schema.rules()
    for spec in specs:
        attribute = schema.attributes[spec.attribute]
        values = frame["attributes"].map(lambda a, name=spec.attribute: (a or {}).get(name, ""))
        if spec.banding:
            values = values.map(lambda v, a=attribute, b=spec.banding: a.band_of(b, v) if v else "")
        frame[str(spec)] = values
    return frame


REASONS = {
    "erased": "erased",
    ConsentStatus.WITHDRAWN: "consent withdrawn",
    ConsentStatus.EXPIRED: "consent expired",
    ConsentStatus.ERASED: "erased",
    ConsentStatus.NEVER_GRANTED: "no consent for evaluation",
}


def _exclusion_reasons(items: pd.DataFrame, statuses: dict[int, str], excluded_copyright: set[str]) -> list[str]:
    """Why each item is not eligible ("" when it is), checked in the order a steward would explain it."""
    attribute_columns = [c for c in items.columns if c not in _ITEM_COLUMNS]
    missing_attribute = (items[attribute_columns] == "").any(axis=1).to_numpy() if attribute_columns else None
    reasons = []
    for index, (subject_id, erased_at, copyright_status) in enumerate(
        zip(items["subject_id"], items["erased_at"], items["copyright"], strict=True)
    ):
        status = statuses.get(subject_id, ConsentStatus.NEVER_GRANTED)
        if not pd.isna(erased_at):
            reasons.append(REASONS["erased"])
        elif status != ConsentStatus.ACTIVE:
            reasons.append(REASONS[status])
        elif copyright_status in excluded_copyright:
            reasons.append(f"copyright {copyright_status}")
        elif missing_attribute is not None and missing_attribute[index]:
            reasons.append("attribute missing")
        else:
            reasons.append("")
    return reasons


_ITEM_COLUMNS = {"item_id", "subject_id", "attributes", "erased_at", "copyright", "reason", "stratum"}


def _report(items: pd.DataFrame, drawn: pd.DataFrame) -> dict:
    strata = []
    drawn_counts = drawn["stratum"].value_counts().to_dict() if len(drawn) else {}
    for label, group in items.groupby("stratum", sort=True):
        excluded = group[group["reason"] != ""]["reason"].value_counts().to_dict()
        strata.append(
            {
                "stratum": label if label.replace(STRATUM_SEPARATOR.strip(), "").strip() else NO_VALUES,
                "available": len(group),
                "eligible": int((group["reason"] == "").sum()),
                "drawn": int(drawn_counts.get(label, 0)),
                "excluded": {reason: int(count) for reason, count in sorted(excluded.items())},
            }
        )
    totals = items["reason"].value_counts().to_dict()
    return {
        "strata": strata,
        "available": len(items),
        "eligible": int(totals.get("", 0)),
        "drawn": len(drawn),
        "excluded": {reason: int(count) for reason, count in sorted(totals.items()) if reason},
    }


def freeze_evaluation_set(*, actor: Actor, evaluation_set: EvaluationSet) -> EvaluationSet:
    """Fix the membership and its manifest hash; a frozen set never changes."""
    with transaction.atomic():
        evaluation_set = EvaluationSet.objects.select_for_update().get(pk=evaluation_set.pk)
        if evaluation_set.is_frozen:
            raise RuleViolation([("status", f"{evaluation_set} is already frozen")])
        evaluation_set.manifest_sha256 = manifest_hash(evaluation_set)
        evaluation_set.status = EvaluationSet.Status.FROZEN
        evaluation_set.frozen_at = timezone.now()
        evaluation_set.save(update_fields=["manifest_sha256", "status", "frozen_at"])
        audit_log.record(
            actor=actor, action="evaluation_set.freeze", object_type="evaluation_set", object_id=evaluation_set.pk,
            after=evaluation_set.audit_view(),
        )  # fmt: skip
    return evaluation_set


def manifest_hash(evaluation_set: EvaluationSet) -> str:
    """SHA-256 over the canonical JSON of how the set was drawn and of every member's content hash."""
    members = list(
        evaluation_set.members.order_by("item_id").values_list(
            "item_id", "item__item_ref", "item__content_hash", "stratum"
        )
    )
    manifest = {
        "dataset": {"name": evaluation_set.dataset.name, "version": evaluation_set.dataset.version},
        "item_kind": evaluation_set.item_kind,
        "snapshot_at": evaluation_set.snapshot_at.isoformat(),
        "strata": evaluation_set.strata,
        "allocation": evaluation_set.allocation,
        "excluded_copyright": evaluation_set.excluded_copyright,
        "seed": evaluation_set.seed,
        "members": [list(member) for member in members],
    }
    return sha256_hex(canonical_json(manifest))


# Scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComputedScores:
    """Scores computed but not yet stored: one row per scored member (item_id, item_ref, stratum, score)."""

    table: pa.Table
    excluded: dict
    device: str


def score_evaluation_set(
    *,
    actor: Actor,
    evaluation_set: EvaluationSet,
    model: ModelVersion,
    on_progress: Callable[[int, int], None] | None = None,
    shard_size: int = SHARD_SIZE,
    batch_size: int = 4096,
) -> ScoreArtifact:
    """Score the members whose consent is still active; keep the scores as a hashed Parquet artifact."""
    computed = compute_scores(
        evaluation_set=evaluation_set, model=model, on_progress=on_progress, shard_size=shard_size,
        batch_size=batch_size,
    )  # fmt: skip
    return store_scores(actor=actor, evaluation_set=evaluation_set, model=model, computed=computed)


def compute_scores(
    *,
    evaluation_set: EvaluationSet,
    model: ModelVersion,
    on_progress: Callable[[int, int], None] | None = None,
    shard_size: int = SHARD_SIZE,
    batch_size: int = 4096,
) -> ComputedScores:
    """Score the members whose evaluation consent is active now; writes nothing.

    Shards hold whole batches (the shard size is rounded up to a multiple of the batch size), so
    every item is scored in the same batch however the work is split: matrix kernels chosen by
    batch shape can otherwise change the last bit of a score.
    """
    shard_size = -(-shard_size // batch_size) * batch_size
    if not evaluation_set.is_frozen:
        raise RuleViolation([("evaluation_set", f"{evaluation_set} must be frozen before it is scored")])
    members = pd.DataFrame(
        list(
            evaluation_set.members.order_by("item_id").values_list(
                "item_id", "item__item_ref", "item__subject_id", "item__kind", "item__feature_file_id", "item__image",
                "stratum",
            )
        ),
        columns=["item_id", "item_ref", "subject_id", "kind", "feature_file_id", "image", "stratum"],
    )  # fmt: skip
    active = subjects_with_active_consent(
        Purpose.EVALUATION,
        timezone.now(),
        subjects=Subject.objects.filter(pk__in=members["subject_id"].unique().tolist()),
    )
    still = members["subject_id"].isin(active)
    excluded = {EXCLUDED_AFTER_FREEZE: int((~still).sum())} if (~still).any() else {}
    members = members[still]
    if members.empty:
        raise RuleViolation([("evaluation_set", f"no member of {evaluation_set} has active evaluation consent")])

    if model.kind == ModelVersion.Kind.PRECOMPUTED:
        ids, scores = _precomputed(model, members)
        where = "precomputed"
    else:
        ids, scores = _run_model(model, members, on_progress, shard_size, batch_size)
        where = str(device())
    by_id = members.set_index("item_id")
    table = pa.table(
        {
            "item_id": ids.astype(np.int64),
            "item_ref": by_id.loc[ids, "item_ref"].to_numpy(dtype=str),
            "stratum": by_id.loc[ids, "stratum"].to_numpy(dtype=str),
            "score": scores.astype(np.float64),
        }
    )
    return ComputedScores(table=table, excluded=excluded, device=where)


def store_scores(
    *, actor: Actor, evaluation_set: EvaluationSet, model: ModelVersion, computed: ComputedScores
) -> ScoreArtifact:
    table, excluded = computed.table, computed.excluded
    relative = f"scores/{uuid.uuid4().hex}.parquet"
    path = _artifact_dir("scores") / Path(relative).name
    with removed_unless_committed() as written, transaction.atomic():
        pq.write_table(table, path)
        written.append(path)
        artifact = ScoreArtifact.objects.create(
            model_version=model, evaluation_set=evaluation_set, path=relative, sha256=sha256_hex(path.read_bytes()),
            scored=table.num_rows, excluded=excluded, device=computed.device,
        )  # fmt: skip
        audit_log.record(
            actor=actor, action="scores.create", object_type="score_artifact", object_id=artifact.pk,
            after={"model": str(model), "evaluation_set": str(evaluation_set), "sha256": artifact.sha256,
                   "scored": artifact.scored, "excluded": excluded},
        )  # fmt: skip
    return artifact


def _run_model(model, members: pd.DataFrame, on_progress, shard_size: int, batch_size: int):
    spec = model_spec(model)
    kind = load_architecture(model.architecture, model.config).input_kind
    expected = "tabular" if kind == "tabular" else "image"
    wrong = members[members["kind"] != expected]
    if len(wrong):
        raise RuleViolation(
            [
                (
                    "evaluation_set",
                    f"item {wrong['item_ref'].iloc[0]!r} is not a {expected} item; {model} scores {expected} items",
                )
            ]
        )
    shards = []
    if kind == "tabular":
        from consent.models import FeatureFile

        files = {
            f.pk: str(absolute_path(f))
            for f in FeatureFile.objects.filter(pk__in=members["feature_file_id"].dropna().unique().tolist())
        }
        for feature_file_id, group in members.groupby("feature_file_id"):
            ids = np.sort(group["item_id"].to_numpy(dtype=np.int64))
            for start in range(0, len(ids), shard_size):
                shards.append(Shard(item_ids=ids[start : start + shard_size], feature_path=files[int(feature_file_id)]))
    else:
        media = Path(settings.MEDIA_ROOT)
        ids = members["item_id"].to_numpy(dtype=np.int64)
        paths = [str(media / name) for name in members["image"]]
        for start in range(0, len(ids), shard_size):
            shards.append(
                Shard(item_ids=ids[start : start + shard_size], image_paths=tuple(paths[start : start + shard_size]))
            )
    try:
        return score_shards(
            shards, spec, scheduler_address=settings.DASK_SCHEDULER_ADDRESS, batch_size=batch_size,
            max_image_pixels=settings.MAX_IMAGE_PIXELS, on_progress=on_progress,
        )  # fmt: skip
    except ScoreError as exc:
        raise RuleViolation([("scores", str(exc))]) from None


def _precomputed(model: ModelVersion, members: pd.DataFrame):
    table = pq.read_table(Path(settings.ARTIFACT_ROOT) / model.artifact_path).to_pandas()
    scores = table.set_index("item")["score"]
    missing = members[~members["item_ref"].isin(scores.index)]
    if len(missing):
        raise RuleViolation([("scores", f"{model} has no score for item {missing['item_ref'].iloc[0]!r}")])
    ids = members["item_id"].to_numpy(dtype=np.int64)
    values = scores.loc[members["item_ref"]].to_numpy(dtype=np.float64)
    check_scores(ids, values)
    return ids, values
