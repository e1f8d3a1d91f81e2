"""migrations/audit/0003: runs stored before runs had a verdict get one from their stored gap verdicts."""

from importlib import import_module

from django.apps import apps

from audit import services
from audit.models import AuditRun, GapResult

backfill = import_module("migrations.audit.0003_ratio_threshold_and_run_verdict").backfill_run_verdicts


def test_a_run_stored_before_run_verdicts_gets_the_verdict_its_gaps_imply(queued_run):
    services.execute_audit_run(queued_run.pk)
    AuditRun.objects.filter(pk=queued_run.pk).update(verdict="")
    gaps = GapResult.objects.filter(run=queued_run).exclude(verdict="")
    gaps.update(verdict="pass")
    backfill(apps, None)
    assert AuditRun.objects.get(pk=queued_run.pk).verdict == "pass"
    gaps.filter(grouping="sex", metric="mean_score_gap").update(verdict="inconclusive")
    backfill(apps, None)
    assert AuditRun.objects.get(pk=queued_run.pk).verdict == "inconclusive"
    gaps.filter(grouping="skin_tone:monk_3", metric="mean_score_gap").update(verdict="fail")
    backfill(apps, None)
    assert AuditRun.objects.get(pk=queued_run.pk).verdict == "fail"


def test_a_run_without_results_keeps_a_blank_verdict(queued_run):
    backfill(apps, None)
    assert AuditRun.objects.get(pk=queued_run.pk).verdict == ""
