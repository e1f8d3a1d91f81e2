import io

import pytest
from django.core.management import call_command

from audit import services
from consent.models import Dataset
from core.audit_log import Actor
from scoring import services as scoring_services
from scoring.engine.sampling import Allocation
from scoring.models import ModelVersion

ACTOR = Actor.system("test")


@pytest.fixture
def demo(db):
    call_command("seed_demo", subjects=300, images=0, seed=3, stdout=io.StringIO())
    return Dataset.objects.get(name="demo-faces")


@pytest.fixture
def model(demo):
    call_command("train_demo_model", steps=60, stdout=io.StringIO())
    return ModelVersion.objects.get(name="demo-tabular-mlp")


@pytest.fixture
def frozen_set(demo):
    evaluation_set = scoring_services.build_evaluation_set(
        actor=ACTOR, name="q4", dataset=demo, strata=["skin_tone:monk_3", "sex"],
        allocation=Allocation(per_stratum=40), seed=1, item_kind="tabular",
    )  # fmt: skip
    return scoring_services.freeze_evaluation_set(actor=ACTOR, evaluation_set=evaluation_set)


@pytest.fixture
def policy(db):
    return services.define_policy(
        actor=ACTOR, name="quarterly", attributes=[{"attribute": "skin_tone", "banding": "monk_3"}, {"attribute": "sex"}],
        replicates=200, min_group_size=10,
    )  # fmt: skip


@pytest.fixture
def queued_run(model, frozen_set, policy):
    return services.start_audit_run(actor=ACTOR, model=model, evaluation_set=frozen_set, policy=policy, period="2026-Q4")
