import orjson
import pytest
from django.db import IntegrityError
from django.utils import timezone

from audit import services
from audit.fairness import AuditInputError, CrossCheckError
from audit.models import AuditPolicy, AuditRun, GapResult, GroupResult, IllegalTransition
from consent import services as consent_services
from consent.errors import RuleViolation
from consent.rules.ledger import sha256_hex
from core.models import AuditLogEntry
from scoring.models import ScoreArtifact
from scoring.services import EXCLUDED_AFTER_FREEZE
from tests.audit.conftest import ACTOR

Status = AuditRun.Status


def history(run):
    return [(t.from_status, t.to_status) for t in AuditRun.objects.get(pk=run.pk).history.all()]


def test_policies_are_versioned_and_a_version_never_changes(policy):
    again = services.define_policy(actor=ACTOR, name="quarterly", attributes=[{"attribute": "sex"}], threshold=0.03)
    assert (policy.version, again.version) == (1, 2)
    assert AuditLogEntry.objects.filter(action="policy.define").count() == 2
    policy.threshold = 0.5
    with pytest.raises(ValueError, match="define a new version"):
        policy.save()
    assert AuditPolicy.objects.get(pk=policy.pk).threshold == 0.05


def test_a_policy_with_bad_numbers_or_metrics_is_refused_naming_the_field(db):
    with pytest.raises(AuditInputError) as refused:
        services.define_policy(
            actor=ACTOR, name="p", attributes=[{"attribute": "sex"}], threshold=2, metrics=["equal_opportunity_gap"]
        )
    assert {field for field, _ in refused.value.problems} == {"metrics"}
    with pytest.raises(AuditInputError) as refused:
        services.define_policy(actor=ACTOR, name="p", attributes=[{"attribute": "sex"}], threshold=2, confidence=1.5)
    assert {field for field, _ in refused.value.problems} == {"threshold", "confidence"}
    assert not AuditPolicy.objects.exists()


def test_a_policy_checked_against_a_set_refuses_an_unknown_attribute(frozen_set):
    with pytest.raises(AuditInputError, match="no attribute 'religion'"):
        services.define_policy(
            actor=ACTOR, name="p", attributes=[{"attribute": "religion"}], evaluation_set=frozen_set
        )


def test_starting_a_run_queues_its_task_in_the_same_transaction(queued_run):
    from django_tasks_db.models import DBTaskResult

    run = AuditRun.objects.get(pk=queued_run.pk)
    assert run.status == Status.QUEUED and run.task_id
    task = DBTaskResult.objects.get(id=run.task_id)
    assert task.args_kwargs["args"] == [run.pk]
    assert AuditLogEntry.objects.filter(action="audit_run.start", object_id=str(run.pk)).exists()


def test_it_refuses_to_start_on_an_unfrozen_set_a_bad_period_or_an_unknown_attribute(model, demo, frozen_set):
    from scoring.engine.sampling import Allocation
    from scoring.services import build_evaluation_set

    draft = build_evaluation_set(
        actor=ACTOR, name="draft", dataset=demo, strata=["sex"], allocation=Allocation(per_stratum=5), seed=1,
        item_kind="tabular",
    )  # fmt: skip
    bad_policy = services.define_policy(actor=ACTOR, name="bad", attributes=[{"attribute": "skin_tone", "banding": "x"}])
    with pytest.raises(RuleViolation) as refused:
        services.start_audit_run(actor=ACTOR, model=model, evaluation_set=draft, policy=bad_policy, period="2026-Q5")
    assert {field for field, _ in refused.value.problems} == {"period", "evaluation_set", "attributes"}
    assert not AuditRun.objects.exists()


def test_a_run_stores_group_results_gaps_verdicts_and_evidence_at_once(queued_run):
    assert services.execute_audit_run(queued_run.pk) == Status.SUCCEEDED
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert history(run) == [(Status.QUEUED, Status.RUNNING), (Status.RUNNING, Status.SUCCEEDED)]
    assert run.progress == 1.0 and run.finished_at and run.attempts == 1
    evidence = run.evidence
    assert evidence["schema"] == "bias-audit-evidence/1"
    assert evidence["source"]["score_artifact"]["sha256"] == run.score_artifact.sha256
    assert evidence["cross_check"]["passed"] and evidence["cross_check"]["largest_difference"] < 1e-9
    skin = evidence["attributes"]["skin_tone:monk_3"]
    assert skin["order"] == ["light", "medium", "dark"] and "trend" in skin
    assert sum(g["n"] for g in skin["groups"].values()) == run.score_artifact.scored
    assert set(evidence["intersections"]) == {"skin_tone:monk_3 & sex"}
    groups = GroupResult.objects.filter(run=run, grouping="skin_tone:monk_3")
    assert {g.group: g.n for g in groups} == {k: v["n"] for k, v in skin["groups"].items()}
    headline = GapResult.objects.get(run=run, grouping="skin_tone:monk_3", metric="mean_score_gap")
    assert headline.verdict == skin["mean_score_gap"]["verdict"]
    assert headline.ci_low <= headline.value <= headline.ci_high
    # The demo model scores the darkest band 0.12 lower: the gap is over the 0.05 threshold.
    assert headline.value > 0.05
    assert AuditLogEntry.objects.filter(action="audit_run.succeed", object_id=str(run.pk)).exists()


def test_a_run_excludes_and_counts_members_who_withdrew_since_the_freeze(queued_run, frozen_set):
    member = frozen_set.members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=ACTOR, subject=member.item.subject, channel="email")
    services.execute_audit_run(queued_run.pk)
    run = AuditRun.objects.get(pk=queued_run.pk)
    withdrawn = sum(1 for m in frozen_set.members.all() if m.item.subject_id == member.item.subject_id)
    assert run.excluded == {EXCLUDED_AFTER_FREEZE: withdrawn}
    assert run.evidence["data"]["items"] == frozen_set.members.count() - withdrawn


def test_a_run_whose_cross_check_fails_stores_nothing_and_says_why(queued_run, monkeypatch):
    def disagree(*args, **kwargs):
        raise CrossCheckError(["the cross-check disagrees: Fairlearn gives 0.5 for mean_score of sex = f, the engine 0.6"], {})

    monkeypatch.setattr(services, "evidence_for", disagree)
    assert services.execute_audit_run(queued_run.pk) == Status.FAILED
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert "Fairlearn gives 0.5" in run.reason and "the engine 0.6" in run.reason
    assert not GroupResult.objects.exists() and not GapResult.objects.exists()
    assert not ScoreArtifact.objects.exists() and run.evidence is None


def test_a_failed_run_can_be_retried(queued_run, monkeypatch):
    original = services.evidence_for
    monkeypatch.setattr(services, "evidence_for", lambda *a, **k: (_ for _ in ()).throw(AuditInputError([("x", "bad")])))
    services.execute_audit_run(queued_run.pk)
    monkeypatch.setattr(services, "evidence_for", original)
    run = services.retry_audit_run(actor=ACTOR, run=AuditRun.objects.get(pk=queued_run.pk))
    assert run.status == Status.QUEUED and run.task_id != queued_run.task_id
    assert services.execute_audit_run(run.pk) == Status.SUCCEEDED
    run.refresh_from_db()
    assert run.attempts == 2
    assert history(run)[-3:] == [
        (Status.FAILED, Status.QUEUED), (Status.QUEUED, Status.RUNNING), (Status.RUNNING, Status.SUCCEEDED)
    ]


def test_an_unexpected_error_fails_the_run_then_reaches_the_worker(queued_run, monkeypatch):
    def crash(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(services, "evidence_for", crash)
    with pytest.raises(ZeroDivisionError):
        services.execute_audit_run(queued_run.pk)
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert run.status == Status.FAILED and "ZeroDivisionError: boom" in run.reason
    assert not ScoreArtifact.objects.exists()


def test_a_failure_while_storing_rolls_back_every_result(queued_run, monkeypatch):
    def collide(*args, **kwargs):
        raise IntegrityError("disk full")

    monkeypatch.setattr(GapResult.objects, "bulk_create", collide)
    with pytest.raises(IntegrityError):
        services.execute_audit_run(queued_run.pk)
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert run.status == Status.FAILED and run.evidence is None
    assert not GroupResult.objects.exists() and not ScoreArtifact.objects.exists()


def test_a_cancelled_run_never_starts(queued_run):
    services.cancel_audit_run(actor=ACTOR, run=queued_run)
    assert services.execute_audit_run(queued_run.pk) == Status.CANCELLED
    assert history(queued_run) == [(Status.QUEUED, Status.CANCELLED)]


def test_a_run_cancelled_while_running_discards_its_work(queued_run, monkeypatch):
    original = services.evidence_for

    def cancel_midway(*args, **kwargs):
        services.cancel_audit_run(actor=ACTOR, run=queued_run)
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "evidence_for", cancel_midway)
    assert services.execute_audit_run(queued_run.pk) == Status.CANCELLED
    assert not GroupResult.objects.exists() and not ScoreArtifact.objects.exists()
    assert AuditRun.objects.get(pk=queued_run.pk).status == Status.CANCELLED


def test_a_run_whose_worker_died_is_failed_with_a_reason_and_can_be_retried(queued_run, settings):
    run = AuditRun.objects.get(pk=queued_run.pk)
    run.status, run.heartbeat_at = Status.RUNNING, timezone.now() - timezone.timedelta(hours=2)
    run.save()
    fresh = services.start_audit_run(
        actor=ACTOR, model=run.model_version, evaluation_set=run.evaluation_set, policy=run.policy, period="2026-Q4"
    )
    AuditRun.objects.filter(pk=fresh.pk).update(status=Status.RUNNING, heartbeat_at=timezone.now())
    assert [r.pk for r in services.reap_stale_runs()] == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED and "worker stopped without finishing" in run.reason
    assert AuditRun.objects.get(pk=fresh.pk).status == Status.RUNNING
    assert services.retry_audit_run(actor=ACTOR, run=run).status == Status.QUEUED


def test_illegal_moves_of_the_state_machine_raise(queued_run):
    services.execute_audit_run(queued_run.pk)
    run = AuditRun.objects.get(pk=queued_run.pk)
    with pytest.raises(IllegalTransition, match="cannot go from succeeded to queued"):
        services.retry_audit_run(actor=ACTOR, run=run)
    with pytest.raises(IllegalTransition):
        services.cancel_audit_run(actor=ACTOR, run=run)


def test_the_stored_evidence_hashes_to_its_recorded_sha256_after_a_round_trip_through_the_database(queued_run):
    services.execute_audit_run(queued_run.pk)
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert sha256_hex(orjson.dumps(run.evidence, option=orjson.OPT_SORT_KEYS)) == run.evidence_sha256


def test_an_erasure_after_the_freeze_is_excluded_and_the_run_still_succeeds(queued_run, frozen_set):
    member = frozen_set.members.select_related("item__subject").first()
    consent_services.erase_subject(actor=ACTOR, subject=member.item.subject, channel="email")
    assert services.execute_audit_run(queued_run.pk) == Status.SUCCEEDED
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert run.excluded[EXCLUDED_AFTER_FREEZE] >= 1


def test_only_compliance_officers_define_policies_and_start_runs(queued_run, django_user_model):
    from django.contrib.auth.models import Group

    from core.audit_log import Actor

    user = django_user_model.objects.create_user("aud")
    user.groups.add(Group.objects.get(name="Auditor"))
    auditor = Actor.of_user(user)
    with pytest.raises(PermissionError):
        services.define_policy(actor=auditor, name="x", attributes=[{"attribute": "sex"}])
    with pytest.raises(PermissionError):
        services.start_audit_run(actor=auditor, model=queued_run.model_version, evaluation_set=queued_run.evaluation_set,
                                 policy=queued_run.policy, period="2026-Q4")
    with pytest.raises(PermissionError):
        services.cancel_audit_run(actor=auditor, run=queued_run)


def test_a_worker_whose_run_was_cancelled_and_restarted_stores_nothing(queued_run, monkeypatch):
    original = services.evidence_for

    def restarted_meanwhile(*args, **kwargs):
        services.cancel_audit_run(actor=ACTOR, run=queued_run)
        services.retry_audit_run(actor=ACTOR, run=AuditRun.objects.get(pk=queued_run.pk))
        AuditRun.objects.filter(pk=queued_run.pk).update(status=Status.RUNNING, attempts=2)  # a second worker
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "evidence_for", restarted_meanwhile)
    assert services.execute_audit_run(queued_run.pk) == Status.CANCELLED
    assert not GroupResult.objects.exists() and not ScoreArtifact.objects.exists()
    assert AuditRun.objects.get(pk=queued_run.pk).status == Status.RUNNING


def test_a_failed_store_leaves_no_score_file_behind(queued_run, monkeypatch, settings):
    monkeypatch.setattr(GapResult.objects, "bulk_create", lambda *a, **k: (_ for _ in ()).throw(IntegrityError("x")))
    with pytest.raises(IntegrityError):
        services.execute_audit_run(queued_run.pk)
    folder = settings.ARTIFACT_ROOT / "scores"
    assert not folder.exists() or not any(folder.iterdir())


# Ratio thresholds and the audit's own verdict ------------------------------------------------


def test_a_policy_keeps_its_ratio_threshold_and_a_changed_one_is_a_new_version(db):
    first = services.define_policy(
        actor=ACTOR, name="four-fifths", attributes=[{"attribute": "sex"}],
        metrics=["mean_score_gap", "disparate_impact_ratio"], ratio_threshold=0.9,
    )  # fmt: skip
    second = services.define_policy(actor=ACTOR, name="four-fifths", attributes=[{"attribute": "sex"}])
    assert (first.version, first.ratio_threshold, first.metrics) == (1, 0.9, ["mean_score_gap", "disparate_impact_ratio"])
    assert (second.version, second.ratio_threshold) == (2, 0.8)  # the four-fifths rule by default
    logged = AuditLogEntry.objects.filter(action="policy.define", object_id=str(first.pk)).get()
    assert logged.after["ratio_threshold"] == 0.9
    assert AuditPolicy.objects.get(pk=first.pk).ratio_threshold == 0.9


@pytest.mark.parametrize("ratio_threshold", [0, 1, 1.25, -0.2])
def test_a_ratio_threshold_outside_0_and_1_is_refused_naming_the_field(db, ratio_threshold):
    with pytest.raises(AuditInputError) as refused:
        services.define_policy(actor=ACTOR, name="p", attributes=[{"attribute": "sex"}], ratio_threshold=ratio_threshold)
    assert {field for field, _ in refused.value.problems} == {"ratio_threshold"}
    assert not AuditPolicy.objects.exists()


def test_a_registry_policy_may_judge_the_disparate_impact_ratio_but_no_ratio_that_needs_labels(db):
    policy = services.define_policy(
        actor=ACTOR, name="p", attributes=[{"attribute": "sex"}], metrics=["disparate_impact_ratio"]
    )
    assert policy.metrics == ["disparate_impact_ratio"]
    with pytest.raises(AuditInputError, match="need ground truth"):
        services.define_policy(
            actor=ACTOR, name="p", attributes=[{"attribute": "sex"}], metrics=["true_positive_rate_ratio"]
        )


def test_the_policys_ratio_threshold_reaches_the_engine(frozen_set):
    from audit.policies import policy_spec

    policy = services.define_policy(actor=ACTOR, name="p", attributes=[{"attribute": "sex"}], ratio_threshold=0.75)
    spec = policy_spec(policy, frozen_set.dataset.attribute_schema.rules())
    assert spec.ratio_threshold == 0.75 and spec.threshold == 0.05


def test_a_run_stores_its_audit_verdict_and_a_row_for_every_gap_and_ratio(model, frozen_set):
    policy = services.define_policy(
        actor=ACTOR, name="ratios", attributes=[{"attribute": "skin_tone", "banding": "monk_3"}, {"attribute": "sex"}],
        metrics=["mean_score_gap", "disparate_impact_ratio"], ratio_threshold=0.8, replicates=200, min_group_size=10,
    )  # fmt: skip
    run = services.start_audit_run(actor=ACTOR, model=model, evaluation_set=frozen_set, policy=policy, period="2026-Q4")
    assert AuditRun.objects.get(pk=run.pk).verdict == ""  # no verdict before there are results
    assert services.execute_audit_run(run.pk) == Status.SUCCEEDED
    run = AuditRun.objects.get(pk=run.pk)
    stated = run.evidence["verdict"]
    assert run.verdict == stated["verdict"] and run.verdict in {"pass", "fail", "inconclusive", "insufficient"}
    ratio = GapResult.objects.get(run=run, grouping="sex", metric="disparate_impact_ratio")
    judged = run.evidence["attributes"]["sex"]["gaps"]["disparate_impact_ratio"]
    assert (ratio.value, ratio.threshold, ratio.verdict, ratio.pass_bound) == (
        judged["value"], 0.8, judged["verdict"], judged["pass_bound"]
    )
    assert ratio.ci_low <= ratio.value <= ratio.ci_high
    stored = GapResult.objects.filter(run=run).count()
    assert stored == sum(len(s["gaps"]) for s in [*run.evidence["attributes"].values(),
                                                  *run.evidence["intersections"].values()])  # fmt: skip
    verdicts = set(GapResult.objects.filter(run=run).exclude(verdict="").values_list("verdict", flat=True))
    assert run.verdict == next(v for v in ("fail", "inconclusive", "pass", "insufficient") if v in verdicts)
    logged = AuditLogEntry.objects.get(action="audit_run.succeed", object_id=str(run.pk))
    assert logged.after["verdict"] == run.verdict and logged.after["failures"] == stated["failures"]
