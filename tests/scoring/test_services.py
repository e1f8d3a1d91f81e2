import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from django.conf import settings
from django.core.management import call_command

from consent import services as consent_services
from consent.errors import RuleViolation
from consent.models import DataItem, Dataset, Subject
from consent.rules.ledger import sha256_hex
from core.audit_log import Actor
from core.models import AuditLogEntry
from scoring import selectors, services
from scoring.engine.architectures import load_architecture
from scoring.engine.sampling import Allocation
from scoring.engine.weights import state_bytes
from scoring.models import EvaluationSet, ModelVersion

ACTOR = Actor.system("test")


@pytest.fixture
def demo(db):
    call_command("seed_demo", subjects=300, images=150, seed=3, stdout=io.StringIO())
    return Dataset.objects.get(name="demo-faces")


@pytest.fixture
def models(demo):
    call_command("train_demo_model", steps=60, stdout=io.StringIO())
    return ModelVersion.objects.get(name="demo-tabular-mlp"), ModelVersion.objects.get(name="demo-image-cnn")


def build(demo, **overrides):
    values = dict(
        actor=ACTOR, name="q4", dataset=demo, strata=["skin_tone:monk_3", "sex"], allocation=Allocation(per_stratum=20),
        seed=1, item_kind="tabular",
    )  # fmt: skip
    return services.build_evaluation_set(**{**values, **overrides})


def test_an_evaluation_set_holds_only_eligible_items(demo):
    evaluation_set = build(demo)
    members = DataItem.objects.filter(pk__in=evaluation_set.members.values("item_id"))
    assert members.exists()
    assert not members.filter(source__copyright_status="disputed").exists()
    assert not members.filter(erased_at__isnull=False).exists()
    assert set(members.values_list("kind", flat=True)) == {"tabular"}
    report = evaluation_set.report
    assert report["drawn"] == members.count()
    assert report["available"] == report["eligible"] + sum(report["excluded"].values())
    assert {"consent withdrawn", "copyright disputed", "erased"} <= set(report["excluded"])
    for stratum in report["strata"]:
        assert stratum["drawn"] <= min(20, stratum["eligible"])
        assert stratum["available"] == stratum["eligible"] + sum(stratum["excluded"].values())


def test_the_same_seed_draws_the_same_members(demo):
    first = set(build(demo, name="a").members.values_list("item_id", flat=True))
    second = set(build(demo, name="b").members.values_list("item_id", flat=True))
    other = set(build(demo, name="c", seed=2).members.values_list("item_id", flat=True))
    assert first == second != other


def test_freezing_fixes_a_manifest_hash(demo):
    evaluation_set = services.freeze_evaluation_set(actor=ACTOR, evaluation_set=build(demo))
    assert evaluation_set.is_frozen and len(evaluation_set.manifest_sha256) == 64
    assert services.manifest_hash(evaluation_set) == evaluation_set.manifest_sha256
    with pytest.raises(RuleViolation, match="already frozen"):
        services.freeze_evaluation_set(actor=ACTOR, evaluation_set=evaluation_set)
    assert AuditLogEntry.objects.filter(action="evaluation_set.freeze").count() == 1


def test_it_refuses_an_unknown_attribute_or_banding(demo):
    with pytest.raises(RuleViolation) as refused:
        build(demo, strata=["religion", "skin_tone:fitzpatrick"])
    assert [field for field, _ in refused.value.problems] == ["strata", "strata"]


def test_a_withdrawal_after_freezing_marks_the_set_affected_and_is_excluded_from_scoring(demo, models):
    tabular, _ = models
    evaluation_set = services.freeze_evaluation_set(actor=ACTOR, evaluation_set=build(demo))
    assert selectors.affected_members(evaluation_set) == []
    member = evaluation_set.members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=ACTOR, subject=member.item.subject, channel="email")
    assert selectors.affected_members(evaluation_set) == [member.item_id]
    assert EvaluationSet.objects.get(pk=evaluation_set.pk).members.count() == evaluation_set.members.count()

    artifact = services.score_evaluation_set(actor=ACTOR, evaluation_set=evaluation_set, model=tabular)
    assert artifact.excluded == {services.EXCLUDED_AFTER_FREEZE: 1}
    assert artifact.scored == evaluation_set.members.count() - 1
    path = settings.ARTIFACT_ROOT / artifact.path
    assert sha256_hex(path.read_bytes()) == artifact.sha256
    scores = pq.read_table(path).to_pandas()
    assert member.item_id not in set(scores["item_id"])
    assert scores["score"].between(0, 1).all()


def test_the_demo_models_score_the_darkest_band_lower(demo, models):
    tabular, cnn = models
    scored = {}
    for model, kind in ((tabular, "tabular"), (cnn, "image")):
        evaluation_set = build(
            demo,
            name=f"set-{kind}",
            item_kind=kind,
            strata=["skin_tone:monk_3"],
            allocation=Allocation(per_stratum=400),
        )
        evaluation_set = services.freeze_evaluation_set(actor=ACTOR, evaluation_set=evaluation_set)
        artifact = services.score_evaluation_set(actor=ACTOR, evaluation_set=evaluation_set, model=model)
        scores = pq.read_table(settings.ARTIFACT_ROOT / artifact.path).to_pandas()
        scored[kind] = scores.groupby("stratum")["score"].mean()
    assert scored["tabular"]["dark"] < scored["tabular"]["light"] - 0.03
    assert scored["image"]["dark"] < scored["image"]["light"]


def test_it_refuses_weights_that_do_not_fit_and_pickles(db, tmp_path):
    wrong = load_architecture("tabular-mlp", {"feature_columns": ["a", "b"]})
    with pytest.raises(RuleViolation, match="tensor 'mean' has shape"):
        services.register_model_version(
            actor=ACTOR, name="m", version="1", architecture="tabular-mlp", config={"feature_columns": ["a", "b", "c"]},
            weights=state_bytes(wrong.module),
        )  # fmt: skip
    path = tmp_path / "m.pt"
    torch.save(wrong.module.state_dict(), path)
    with pytest.raises(RuleViolation, match="accepted only as safetensors"):
        services.register_model_version(
            actor=ACTOR, name="m", version="1", architecture="tabular-mlp", config={"feature_columns": ["a", "b"]},
            weights=path.read_bytes(), weights_name="m.pt",
        )  # fmt: skip
    assert not ModelVersion.objects.exists()


def test_weights_are_stored_content_addressed(db):
    module = load_architecture("tabular-mlp", {"feature_columns": ["a"]}).module
    weights = state_bytes(module)
    first = services.register_model_version(
        actor=ACTOR,
        name="m",
        version="1",
        architecture="tabular-mlp",
        config={"feature_columns": ["a"]},
        weights=weights,
    )
    second = services.register_model_version(
        actor=ACTOR,
        name="m",
        version="2",
        architecture="tabular-mlp",
        config={"feature_columns": ["a"]},
        weights=weights,
    )
    assert first.artifact_path == second.artifact_path == f"models/{sha256_hex(weights)}.safetensors"


def test_precomputed_scores_are_checked_and_used(demo):
    evaluation_set = services.freeze_evaluation_set(actor=ACTOR, evaluation_set=build(demo))
    refs = list(evaluation_set.members.values_list("item__item_ref", flat=True))
    with pytest.raises(RuleViolation, match=r"not a number in \[0, 1\]"):
        services.register_precomputed_scores(
            actor=ACTOR, name="ext", version="1", scores=pd.DataFrame({"item": refs, "score": [1.5] * len(refs)})
        )
    model = services.register_precomputed_scores(
        actor=ACTOR, name="ext", version="1", scores=pd.DataFrame({"item": refs, "score": [0.25] * len(refs)})
    )
    artifact = services.score_evaluation_set(actor=ACTOR, evaluation_set=evaluation_set, model=model)
    assert artifact.device == "precomputed" and artifact.scored == len(refs)


def test_only_frozen_sets_are_scored(demo, models):
    with pytest.raises(RuleViolation, match="must be frozen"):
        services.score_evaluation_set(actor=ACTOR, evaluation_set=build(demo), model=models[0])


def test_the_commands_build_freeze_and_score(demo, models):
    out = io.StringIO()
    call_command(
        "build_evaluation_set", name="cli", dataset="demo-faces", stratify=["skin_tone:monk_3"], per_stratum=10,
        kind="tabular", seed=1, freeze=True, stdout=out,
    )  # fmt: skip
    assert "Frozen; manifest sha256" in out.getvalue()
    out = io.StringIO()
    call_command(
        "score_evaluation_set", evaluation_set="cli", model="demo-tabular-mlp:2026.4", stdout=out, stderr=io.StringIO()
    )
    assert "Scored 30 items of cli" in out.getvalue()
    assert Subject.objects.exists()


def test_a_frozen_set_and_its_members_never_change(demo):
    evaluation_set = services.freeze_evaluation_set(actor=ACTOR, evaluation_set=build(demo))
    evaluation_set.seed = 99
    with pytest.raises(ValueError, match="frozen"):
        evaluation_set.save()
    member = evaluation_set.members.first()
    with pytest.raises(ValueError, match="never change"):
        member.delete()
    with pytest.raises(ValueError, match="never change"):
        member.save()


def test_compliance_officers_may_build_sets_and_register_models(db):
    from django.contrib.auth.models import Group

    officer = Group.objects.get(name="Compliance officer").permissions.values_list("codename", flat=True)
    assert {"register_model", "build_evaluation_set", "view_scoreartifact"} <= set(officer)
    auditor = Group.objects.get(name="Auditor").permissions.values_list("codename", flat=True)
    assert "build_evaluation_set" not in auditor
