"""One executed audit run and one draft report, built once per test module and rolled back after it.

Building a run (seed, train, freeze, execute) and rendering a report take about ten seconds; the page tests
check dozens of (page, role) pairs against the same figures. Like Django's `TestCase.setUpTestData`, the data is
written inside a transaction that wraps the whole module; each test runs in a savepoint within it, so tests
still see their own writes only. Files go to one folder per module.

Use: `from tests.reports.shared_run import quarter_run, shared_files  # noqa: F401` in a test module; every
test there then writes files under the module's folder (`shared_files` replaces the per-test `file_roots`).
"""

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from audit import services as audit_services
from core.audit_log import Actor
from reports import services as report_services
from reports.models import Report
from reports.signing import create_signing_key
from scoring import services as scoring_services
from scoring.engine.sampling import Allocation
from scoring.models import ModelVersion
from tests.conftest import file_settings

SYSTEM = Actor.system("test")
QUARTER = "2026-Q4"


@dataclass(frozen=True)
class QuarterRun:
    root: Path
    run: object
    report: Report


@pytest.fixture(scope="module")
def quarter_run(django_db_setup, django_db_blocker, tmp_path_factory):
    root = tmp_path_factory.mktemp("quarter-run")
    with django_db_blocker.unblock(), override_settings(**file_settings(root)):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield QuarterRun(root=root, run=_executed_run(), report=_draft_report())
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def shared_files(file_roots, quarter_run):
    settings = file_roots
    for name, value in file_settings(quarter_run.root).items():
        setattr(settings, name, value)
    return settings


def _executed_run():
    call_command("seed_demo", subjects=300, images=0, seed=3, stdout=io.StringIO())
    call_command("train_demo_model", steps=60, stdout=io.StringIO())
    from consent.models import Dataset

    dataset = Dataset.objects.get(name="demo-faces")
    evaluation_set = scoring_services.build_evaluation_set(
        actor=SYSTEM, name="q4", dataset=dataset, strata=["skin_tone:monk_3", "sex"],
        allocation=Allocation(per_stratum=40), seed=1, item_kind="tabular",
    )  # fmt: skip
    evaluation_set = scoring_services.freeze_evaluation_set(actor=SYSTEM, evaluation_set=evaluation_set)
    policy = audit_services.define_policy(
        actor=SYSTEM, name="quarterly", attributes=[{"attribute": "skin_tone", "banding": "monk_3"}, {"attribute": "sex"}],
        replicates=200, min_group_size=10,
    )  # fmt: skip
    run = audit_services.start_audit_run(
        actor=SYSTEM, model=ModelVersion.objects.get(name="demo-tabular-mlp"), evaluation_set=evaluation_set,
        policy=policy, period=QUARTER,
    )  # fmt: skip
    audit_services.execute_audit_run(run.pk)
    run.refresh_from_db()
    return run


def _draft_report() -> Report:
    create_signing_key(common_name="Test reports", organisation=settings.ORGANISATION_NAME)
    return report_services.generate_report(actor=SYSTEM, quarter=QUARTER)
