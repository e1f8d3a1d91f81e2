"""/api/v1/audit/: start, follow, cancel, results and evidence of audit runs, for each role.

The demo population, model, frozen set, policy and one executed run are built once for the module, inside a
transaction rolled back when the module ends; each test runs in a savepoint within it.
"""

import hashlib
import io

import orjson
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from audit import services
from audit.models import AuditPolicy, AuditRun, GapResult, GroupResult, Verdict
from consent.models import Dataset
from core.audit_log import Actor
from core.models import AuditLogEntry
from scoring import services as scoring_services
from scoring.demo_model import MODEL_VERSION
from scoring.engine.sampling import Allocation
from scoring.models import ModelVersion
from tests.conftest import module_file_roots

ACTOR = Actor.system("test")
SET, MODEL, POLICY = "api-audit-set", "demo-tabular-mlp", "api-quarterly"


@pytest.fixture(scope="module", autouse=True)
def file_roots(tmp_path_factory):
    with module_file_roots(tmp_path_factory, "audit-api") as root:
        yield root


def build_audited_world() -> dict:
    """Demo data, a trained model, a frozen set, a policy and a run executed on them (about 15 s)."""
    call_command("seed_demo", subjects=300, images=0, seed=3, stdout=io.StringIO())
    call_command("train_demo_model", steps=60, stdout=io.StringIO())
    demo = Dataset.objects.get(name="demo-faces")
    model = ModelVersion.objects.get(name=MODEL)
    evaluation_set = scoring_services.freeze_evaluation_set(
        actor=ACTOR, evaluation_set=scoring_services.build_evaluation_set(
            actor=ACTOR, name=SET, dataset=demo, strata=["skin_tone:monk_3", "sex"],
            allocation=Allocation(per_stratum=40), seed=1, item_kind="tabular",
        ),
    )  # fmt: skip
    policy = services.define_policy(
        actor=ACTOR, name=POLICY, attributes=[{"attribute": "skin_tone", "banding": "monk_3"}, {"attribute": "sex"}],
        replicates=200, min_group_size=10,
    )  # fmt: skip
    run = services.start_audit_run(actor=ACTOR, model=model, evaluation_set=evaluation_set, policy=policy,
                                   period="2026-Q4")  # fmt: skip
    services.execute_audit_run(run.pk)
    run.refresh_from_db()
    assert run.status == AuditRun.Status.SUCCEEDED, run.reason
    return {"demo": demo, "model": model, "set": evaluation_set, "policy": policy, "run": run}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, file_roots):
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_audited_world()
        transaction.set_rollback(True)


@pytest.fixture
def audited(world, db):
    return world["run"]


@pytest.fixture
def queued(world, db):
    """A second run, queued and never executed (undone after each test)."""
    return services.start_audit_run(
        actor=ACTOR, model=world["model"], evaluation_set=world["set"], policy=world["policy"], period="2027-Q1"
    )


def start_payload(**changes) -> dict:
    return {
        "model": f"{MODEL}:{MODEL_VERSION}",
        "evaluation_set": SET,
        "policy": POLICY,
        "period": "2026-Q4",
        **changes,
    }


# Who may use what --------------------------------------------------------------------------------

ROLES = ["steward", "officer", "auditor", "nobody", None]
READERS = {"officer", "auditor"}
ENDPOINTS = [
    # method, path, roles allowed, status when allowed
    ("post", "/api/v1/audit/runs", {"officer"}, 202),
    ("get", "/api/v1/audit/runs", READERS, 200),
    ("get", "/api/v1/audit/runs/{audited}", READERS, 200),
    ("get", "/api/v1/audit/runs/{audited}/results", READERS, 200),
    ("get", "/api/v1/audit/runs/{audited}/evidence", READERS, 200),
    ("post", "/api/v1/audit/runs/{queued}/cancel", {"officer"}, 200),
]
CASES = [
    pytest.param(method, path, role, expected if role in allowed else (401 if role is None else 403),
                 id=f"{method} {path} as {role}")
    for method, path, allowed, expected in ENDPOINTS
    for role in ROLES
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_each_role_uses_the_audit_endpoints_it_may_and_gets_no_data_otherwise(
    api_as, audited, queued, method, path, role, expected
):
    url = path.format(audited=audited.pk, queued=queued.pk)
    before = list(AuditRun.objects.order_by("pk").values_list("pk", "status"))
    client = api_as(role)
    if method == "post":
        response = client.post(url, start_payload(), content_type="application/json")
    else:
        response = client.get(url)
    body = response.content.decode()
    assert response.status_code == expected, body
    if expected < 400:
        assert SET in body or audited.evidence_sha256 in body
    else:
        assert SET not in body and MODEL not in body and audited.evidence_sha256 not in body
        assert set(response.json()) == {"message", "field"}
        assert list(AuditRun.objects.order_by("pk").values_list("pk", "status")) == before  # nothing written


# Starting and cancelling -------------------------------------------------------------------------


def test_an_officer_starts_a_run_and_it_is_queued_for_a_worker(api_as, audited, role_user):
    response = api_as("officer").post(
        "/api/v1/audit/runs", start_payload(period="2027-Q2"), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    run = AuditRun.objects.get(pk=body["id"])
    assert run.status == body["status"] == "queued" and run.progress == body["progress"] == 0
    assert (run.period, run.model_version.name, run.evaluation_set.name, run.policy.name) == (
        "2027-Q2",
        MODEL,
        SET,
        POLICY,
    )
    assert run.created_by == role_user("officer") and body["created_by"] == "web-officer"
    assert DBTaskResult.objects.filter(pk=run.task_id, status="READY").exists()  # waiting for `db_worker`
    entry = AuditLogEntry.objects.get(action="audit_run.start", object_id=str(run.pk))
    assert entry.actor_label == "user:web-officer"


def test_a_policy_without_a_version_means_its_latest_version(api_as, world, db):
    newer = services.define_policy(actor=ACTOR, name=POLICY, attributes=[{"attribute": "sex"}], min_group_size=10)
    body = api_as("officer").post("/api/v1/audit/runs", start_payload(), content_type="application/json").json()
    assert body["policy"] == {"name": POLICY, "version": newer.version} == {"name": POLICY, "version": 2}
    pinned = start_payload(policy=f"{POLICY}:1")
    body = api_as("officer").post("/api/v1/audit/runs", pinned, content_type="application/json").json()
    assert body["policy"]["version"] == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"model": "no-such-model:1"}, "model", "no model version 'no-such-model:1'"),
        ({"model": MODEL}, "model", "write NAME:VERSION"),
        ({"evaluation_set": "no-such-set"}, "evaluation_set", "no evaluation set 'no-such-set'"),
        ({"policy": "no-such-policy"}, "policy", "no audit policy 'no-such-policy'"),
        ({"policy": f"{POLICY}:9"}, "policy", f"no audit policy '{POLICY}:9'"),
        ({"policy": f"{POLICY}:²"}, "policy", f"no audit policy '{POLICY}:²'"),  # a digit int() refuses
        ({"model": f"{MODEL}:"}, "model", "write NAME:VERSION"),
        ({"period": "2026-Q5"}, "period", "is not a reporting quarter like 2026-Q4"),
    ],
)
def test_an_unknown_model_set_policy_or_period_is_a_422_naming_the_field_and_starts_nothing(
    api_as, audited, change, field, message
):
    count = AuditRun.objects.count()
    response = api_as("officer").post("/api/v1/audit/runs", start_payload(**change), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["field"] == field and message in response.json()["message"]
    assert AuditRun.objects.count() == count


def test_a_draft_set_cannot_be_audited(api_as, world, db):
    scoring_services.build_evaluation_set(
        actor=ACTOR, name="api-draft", dataset=world["demo"], strata=["sex"], allocation=Allocation(per_stratum=5),
        seed=2,
    )  # fmt: skip
    response = api_as("officer").post(
        "/api/v1/audit/runs", start_payload(evaluation_set="api-draft"), content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["field"] == "evaluation_set" and "must be frozen" in response.json()["message"]


def test_a_missing_field_is_a_422_naming_it(api_as, audited):
    payload = start_payload()
    del payload["policy"]
    response = api_as("officer").post("/api/v1/audit/runs", payload, content_type="application/json")
    assert response.status_code == 422 and response.json()["field"] == "policy"


def test_an_officer_cancels_a_queued_run_once(api_as, queued):
    api = api_as("officer")
    response = api.post(f"/api/v1/audit/runs/{queued.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["reason"] == "cancelled through the API"
    queued.refresh_from_db()
    assert queued.status == AuditRun.Status.CANCELLED and queued.finished_at is not None
    again = api.post(f"/api/v1/audit/runs/{queued.pk}/cancel")
    assert again.status_code == 409
    assert (
        again.json()["message"] == f"audit run {queued.pk} is cancelled; only queued or running runs can be cancelled"
    )


def test_a_finished_run_cannot_be_cancelled(api_as, audited):
    response = api_as("officer").post(f"/api/v1/audit/runs/{audited.pk}/cancel")
    assert response.status_code == 409
    audited.refresh_from_db()
    assert audited.status == AuditRun.Status.SUCCEEDED


# Following runs ----------------------------------------------------------------------------------


def listed(api, **query) -> list[int]:
    return [run["id"] for run in api.get("/api/v1/audit/runs", query).json()["items"]]


def test_runs_are_listed_newest_first_and_filtered_by_period_status_and_model(api_as, audited, queued):
    api = api_as("auditor")
    assert listed(api) == [queued.pk, audited.pk]
    assert listed(api, period="2027-Q1") == [queued.pk]
    assert listed(api, status="succeeded") == [audited.pk]
    assert api.get("/api/v1/audit/runs", {"model": "another-model"}).json() == {"items": [], "count": 0}
    assert api.get("/api/v1/audit/runs", {"model": MODEL}).json()["count"] == 2


def test_runs_come_a_page_at_a_time_with_the_count_of_all(api_as, world, audited, queued):
    later = services.start_audit_run(
        actor=ACTOR, model=world["model"], evaluation_set=world["set"], policy=world["policy"], period="2027-Q2"
    )
    api = api_as("officer")
    first = api.get("/api/v1/audit/runs", {"limit": 2}).json()
    assert first["count"] == 3 and [r["id"] for r in first["items"]] == [later.pk, queued.pk]
    assert listed(api, limit=2, offset=2) == [audited.pk]
    assert listed(api, status="queued", limit=1, offset=1) == [queued.pk]


@pytest.mark.parametrize(("query", "field"), [({"limit": 0}, "limit"), ({"offset": "x"}, "offset")])
def test_a_bad_page_is_a_422_naming_the_field(api_as, audited, query, field):
    response = api_as("auditor").get("/api/v1/audit/runs", query)
    assert response.status_code == 422 and response.json()["field"] == field


def test_listing_and_polling_runs_leave_the_evidence_unread(api_as, audited, queued):
    """The evidence JSON can be large: only the results and evidence endpoints read it."""
    api = api_as("auditor")
    for url in ("/api/v1/audit/runs", f"/api/v1/audit/runs/{audited.pk}"):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        run_reads = [q["sql"] for q in queries if 'FROM "audit_auditrun"' in q["sql"]]
        assert run_reads and all('"audit_auditrun"."evidence"' not in sql for sql in run_reads), run_reads
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/api/v1/audit/runs/{audited.pk}/results").status_code == 200
    assert any('"audit_auditrun"."evidence"' in q["sql"] for q in queries)


def test_the_openapi_document_describes_the_paged_list_of_runs(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/audit/runs"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"period", "status", "model", "limit", "offset"}
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"items", "count"}
    assert page["properties"]["items"]["items"]["$ref"].endswith("/RunOut")


@pytest.mark.parametrize(("query", "field"), [({"period": "2026-Q7"}, "period"), ({"status": "done"}, "status")])
def test_a_bad_filter_is_a_422_naming_it(api_as, audited, query, field):
    response = api_as("auditor").get("/api/v1/audit/runs", query)
    assert response.status_code == 422 and response.json()["field"] == field


def test_a_run_shows_its_status_progress_and_stage(api_as, audited, queued):
    api = api_as("auditor")
    done = api.get(f"/api/v1/audit/runs/{audited.pk}").json()
    assert (done["status"], done["progress"], done["stage"], done["reason"]) == ("succeeded", 1.0, "done", "")
    assert done["evidence_sha256"] == audited.evidence_sha256
    assert done["model"]["weights_sha256"] == audited.model_version.artifact_sha256
    assert done["evaluation_set"]["manifest_sha256"] == audited.evaluation_set.manifest_sha256
    assert done["started_at"] and done["finished_at"] and done["attempts"] == 1
    waiting = api.get(f"/api/v1/audit/runs/{queued.pk}").json()
    assert (waiting["status"], waiting["progress"], waiting["stage"]) == ("queued", 0.0, "")
    assert waiting["evidence_sha256"] is None and waiting["finished_at"] is None


def test_a_failed_run_shows_its_error(api_as, queued):
    with transaction.atomic():
        queued.set_status(AuditRun.Status.FAILED, actor="test", reason="the model file is missing; nothing was stored")
    body = api_as("officer").get(f"/api/v1/audit/runs/{queued.pk}").json()
    assert body["status"] == "failed" and body["reason"] == "the model file is missing; nothing was stored"


def test_an_unknown_run_is_a_json_404(api_as, audited):
    response = api_as("auditor").get("/api/v1/audit/runs/999999")
    assert response.status_code == 404 and response.json() == {"message": "no audit run 999999", "field": None}


# Results and evidence ----------------------------------------------------------------------------


def test_the_results_of_an_executed_run_carry_groups_gaps_and_verdicts_per_attribute(api_as, audited):
    results = api_as("auditor").get(f"/api/v1/audit/runs/{audited.pk}/results").json()
    assert results["run"] == audited.pk and results["evidence_sha256"] == audited.evidence_sha256
    assert results["policy"]["threshold"] == 0.05 and results["policy"]["min_group_size"] == 10
    attributes = {a["grouping"]: a for a in results["attributes"]}
    assert set(attributes) == {"skin_tone:monk_3", "sex"}
    verdicts = set(Verdict.values)
    for grouping in attributes.values():
        assert grouping["verdict"] in verdicts
        assert sum(g["n"] for g in grouping["groups"]) == results["items"] == audited.score_artifact.scored
        for group in grouping["groups"]:
            row = GroupResult.objects.get(run=audited, grouping=grouping["grouping"], group=group["group"])
            assert (group["n"], group["mean_score"]) == (row.n, row.mean_score)
            low, high = group["mean_score_ci"]["low"], group["mean_score_ci"]["high"]
            assert low <= group["mean_score"] <= high
        headline = next(g for g in grouping["gaps"] if g["metric"] == "mean_score_gap")
        row = GapResult.objects.get(run=audited, grouping=grouping["grouping"], metric="mean_score_gap")
        assert (headline["value"], headline["ci"]["low"], headline["ci"]["high"], headline["verdict"]) == (
            row.value,
            row.ci_low,
            row.ci_high,
            row.verdict,
        )
        assert headline["threshold"] == 0.05 and headline["highest"] and headline["lowest"]
    skin = attributes["skin_tone:monk_3"]
    assert [g["group"] for g in skin["groups"]] == ["light", "medium", "dark"]  # the banding's order
    assert [i["grouping"] for i in results["intersections"]] == ["skin_tone:monk_3 & sex"]
    assert len(results["intersections"][0]["groups"]) == 6
    assert {(v["grouping"], v["metric"]) for v in results["verdicts"]} >= {
        ("skin_tone:monk_3", "mean_score_gap"),
        ("sex", "mean_score_gap"),
    }
    check = results["cross_check"]
    assert check["passed"] is True and check["compared"] > 0 and check["disagreements"] == []
    assert check["largest_difference"] <= check["tolerance"] and set(check["libraries"]) >= {"fairlearn", "aif360"}


def test_a_run_that_has_not_succeeded_has_no_results_yet(api_as, queued):
    for what in ("results", "evidence"):
        response = api_as("auditor").get(f"/api/v1/audit/runs/{queued.pk}/{what}")
        assert response.status_code == 409
        assert response.json()["message"] == f"audit run {queued.pk} is queued; results exist once it has succeeded"


def test_the_evidence_is_served_byte_for_byte_as_hashed_when_stored(api_as, audited):
    response = api_as("officer").get(f"/api/v1/audit/runs/{audited.pk}/evidence")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert hashlib.sha256(response.content).hexdigest() == audited.evidence_sha256 == response["X-Evidence-SHA256"]
    evidence = orjson.loads(response.content)
    assert evidence == audited.evidence
    assert evidence["source"]["run"] == audited.pk and evidence["cross_check"]["passed"] is True


def test_a_run_and_its_results_carry_the_audit_verdict_with_its_error_control(api_as, audited, queued):
    api = api_as("auditor")
    assert api.get(f"/api/v1/audit/runs/{audited.pk}").json()["verdict"] == audited.verdict != ""
    assert api.get(f"/api/v1/audit/runs/{queued.pk}").json()["verdict"] is None
    results = api.get(f"/api/v1/audit/runs/{audited.pk}/results").json()
    assert results["verdict"] == audited.evidence["verdict"]
    assert results["verdict"]["error_control"].startswith("FAIL verdicts share one simultaneous band")
    assert results["warnings"] == audited.evidence["warnings"]
    assert results["policy"]["ratio_threshold"] == 0.8
    assert {v["scale"] for v in results["verdicts"]} == {"difference"}


# Policies ----------------------------------------------------------------------------------------

POLICY_ENDPOINTS = [("get", "/api/v1/audit/policies", READERS, 200), ("post", "/api/v1/audit/policies", {"officer"}, 201)]
POLICY_CASES = [
    pytest.param(method, path, role, expected if role in allowed else (401 if role is None else 403),
                 id=f"{method} {path} as {role}")
    for method, path, allowed, expected in POLICY_ENDPOINTS
    for role in ROLES
]  # fmt: skip


def policy_payload(**changes) -> dict:
    return {"name": "api-four-fifths", "attributes": [{"attribute": "skin_tone", "banding": "monk_3"}, {"attribute": "sex"}],
            "metrics": ["mean_score_gap", "disparate_impact_ratio"], "ratio_threshold": 0.75, "replicates": 200,
            "min_group_size": 10, **changes}  # fmt: skip


@pytest.mark.parametrize(("method", "path", "role", "expected"), POLICY_CASES)
def test_each_role_uses_the_policy_endpoints_it_may_and_gets_no_data_otherwise(api_as, world, db, method, path, role,
                                                                               expected):  # fmt: skip
    client = api_as(role)
    before = AuditPolicy.objects.count()
    if method == "post":
        response = client.post(path, policy_payload(), content_type="application/json")
    else:
        response = client.get(path)
    assert response.status_code == expected, response.content
    if expected < 400:
        assert POLICY in response.content.decode() or response.json()["name"] == "api-four-fifths"
    else:
        assert POLICY not in response.content.decode() and set(response.json()) == {"message", "field"}
        assert AuditPolicy.objects.count() == before


def test_an_officer_defines_a_policy_with_a_ratio_threshold_and_reads_it_back(api_as, world, db):
    response = api_as("officer").post("/api/v1/audit/policies", policy_payload(check_against=SET),
                                      content_type="application/json")  # fmt: skip
    assert response.status_code == 201, response.content
    defined = response.json()
    assert (defined["version"], defined["ratio_threshold"], defined["threshold"]) == (1, 0.75, 0.05)
    assert defined["metrics"] == ["mean_score_gap", "disparate_impact_ratio"]
    assert defined["attributes"][0] == {"attribute": "skin_tone", "banding": "monk_3", "reference": None}
    policy = AuditPolicy.objects.get(name="api-four-fifths")
    assert policy.ratio_threshold == 0.75
    assert AuditLogEntry.objects.filter(action="policy.define", object_id=str(policy.pk)).exists()
    again = api_as("officer").post("/api/v1/audit/policies", policy_payload(ratio_threshold=0.8),
                                   content_type="application/json").json()  # fmt: skip
    assert (again["version"], again["ratio_threshold"]) == (2, 0.8)
    listed_versions = api_as("auditor").get("/api/v1/audit/policies", {"name": "api-four-fifths"}).json()
    assert [(p["version"], p["ratio_threshold"]) for p in listed_versions] == [(2, 0.8), (1, 0.75)]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ratio_threshold": 1.2}, "ratio_threshold", "1.2 must be between 0 and 1 (0.8: four-fifths)"),
        ({"metrics": ["precision_ratio"]}, "metrics", "['precision_ratio'] need ground truth"),
        ({"check_against": "no-such-set"}, "check_against", "no evaluation set 'no-such-set'"),
        ({"attributes": [{"attribute": "religion"}], "check_against": SET}, "attributes", "no attribute 'religion'"),
    ],
)
def test_a_bad_policy_is_a_422_naming_the_field_and_defines_nothing(api_as, world, db, changes, field, message):
    response = api_as("officer").post("/api/v1/audit/policies", policy_payload(**changes), content_type="application/json")
    body = response.json()
    assert response.status_code == 422 and body["field"] == field and message in body["message"], body
    assert not AuditPolicy.objects.filter(name="api-four-fifths").exists()
