"""/api/v1/scoring/: evaluation sets and model versions, for each role.

The demo population, the trained model and the evaluation sets are built once for the module, inside a
transaction that is rolled back when the module ends; each test runs in a savepoint within it.
"""

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from consent.models import Dataset
from core.audit_log import Actor
from scoring import services
from scoring.engine.sampling import Allocation
from scoring.models import EvaluationSet, ModelVersion
from tests.conftest import module_file_roots

ACTOR = Actor.system("test")
FROZEN, DRAFT, MODEL = "api-frozen-set", "api-draft-set", "demo-tabular-mlp"


@pytest.fixture(scope="module", autouse=True)
def file_roots(tmp_path_factory):
    with module_file_roots(tmp_path_factory, "scoring-api") as root:
        yield root


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, file_roots):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", subjects=300, images=0, seed=3, stdout=io.StringIO())
        call_command("train_demo_model", steps=20, stdout=io.StringIO())
        demo = Dataset.objects.get(name="demo-faces")
        build = dict(actor=ACTOR, dataset=demo, strata=["skin_tone:monk_3", "sex"], seed=1, item_kind="tabular")
        frozen = services.freeze_evaluation_set(
            actor=ACTOR, evaluation_set=services.build_evaluation_set(
                name=FROZEN, allocation=Allocation(per_stratum=20), **build
            ),
        )  # fmt: skip
        draft = services.build_evaluation_set(name=DRAFT, allocation=Allocation(per_stratum=5), **build)
        yield {"frozen": frozen, "draft": draft, "model": ModelVersion.objects.get(name=MODEL)}
        transaction.set_rollback(True)


@pytest.fixture
def frozen(world, db):
    return world["frozen"]


ROLES = ["steward", "officer", "auditor", "nobody", None]
SET_READERS = {"steward", "officer", "auditor"}
MODEL_READERS = {"officer", "auditor"}


def access_cases():
    for role in ROLES:
        allowed = role in SET_READERS
        yield "/api/v1/scoring/evaluation-sets", role, allowed, FROZEN
        yield "/api/v1/scoring/evaluation-sets/{frozen}", role, allowed, FROZEN
        yield "/api/v1/scoring/models", role, role in MODEL_READERS, MODEL


@pytest.mark.parametrize(("url", "role", "allowed", "known"), list(access_cases()))
def test_each_role_gets_the_scoring_endpoints_it_may_use_and_no_data_otherwise(
    api_as, frozen, url, role, allowed, known
):
    response = api_as(role).get(url.format(frozen=frozen.pk))
    body = response.content.decode()
    if allowed:
        assert response.status_code == 200, body
        assert known in body
    else:
        assert response.status_code == (401 if role is None else 403)
        assert known not in body and "sha256" not in body
        assert set(response.json()) == {"message", "field"}


def test_the_list_shows_each_set_with_its_status_manifest_hash_and_counts(api_as, frozen):
    page = api_as("officer").get("/api/v1/scoring/evaluation-sets").json()
    assert page["count"] == EvaluationSet.objects.count() == len(page["items"])
    sets = {s["name"]: s for s in page["items"]}
    listed = sets[FROZEN]
    assert listed["status"] == "frozen" and listed["frozen"] is True
    assert listed["manifest_sha256"] == frozen.manifest_sha256 == services.manifest_hash(frozen)
    assert listed["dataset"]["name"] == "demo-faces"
    assert listed["strata"] == ["skin_tone:monk_3", "sex"]
    assert listed["counts"]["drawn"] == frozen.members.count() > 0
    assert listed["counts"]["available"] >= listed["counts"]["eligible"] >= listed["counts"]["drawn"]
    assert sum(listed["counts"]["excluded"].values()) == listed["counts"]["available"] - listed["counts"]["eligible"]
    draft = sets[DRAFT]
    assert draft["status"] == "draft" and draft["frozen"] is False and draft["manifest_sha256"] is None


def test_the_list_can_be_narrowed_to_frozen_sets_and_a_bad_status_names_the_field(api_as, frozen):
    api = api_as("auditor")
    page = api.get("/api/v1/scoring/evaluation-sets", {"status": "frozen"}).json()
    names = [s["name"] for s in page["items"]]
    assert FROZEN in names and DRAFT not in names
    assert page["count"] == EvaluationSet.objects.filter(status="frozen").count()
    response = api.get("/api/v1/scoring/evaluation-sets", {"status": "melted"})
    assert response.status_code == 422 and response.json()["field"] == "status"


def test_the_list_comes_a_page_at_a_time_newest_first(api_as, frozen):
    api = api_as("auditor")
    newest = api.get("/api/v1/scoring/evaluation-sets", {"limit": 1}).json()
    assert newest["count"] == EvaluationSet.objects.count() == 2
    assert [s["name"] for s in newest["items"]] == [DRAFT]
    older = api.get("/api/v1/scoring/evaluation-sets", {"limit": 1, "offset": 1}).json()
    assert [s["name"] for s in older["items"]] == [FROZEN]
    assert api.get("/api/v1/scoring/evaluation-sets", {"offset": 2}).json() == {"items": [], "count": 2}


def test_a_page_holds_at_most_100_sets_whatever_the_limit_asks(api_as, frozen):
    # Empty drafts written straight to the table: only how many there are matters here.
    EvaluationSet.objects.bulk_create(
        EvaluationSet(name=f"api-empty-{n}", dataset=frozen.dataset, snapshot_at=frozen.snapshot_at, strata=["sex"],
                      allocation={"per_stratum": 1}, seed=n)
        for n in range(101)
    )  # fmt: skip
    page = api_as("officer").get("/api/v1/scoring/evaluation-sets", {"limit": 500}).json()
    assert page["count"] == 103 and len(page["items"]) == 100


@pytest.mark.parametrize(("query", "field"), [({"limit": 0}, "limit"), ({"offset": -1}, "offset")])
def test_a_bad_page_is_a_422_naming_the_field(api_as, frozen, query, field):
    response = api_as("officer").get("/api/v1/scoring/evaluation-sets", query)
    assert response.status_code == 422 and response.json()["field"] == field


def test_the_openapi_document_describes_the_paged_list_of_sets(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/scoring/evaluation-sets"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"status", "limit", "offset"}
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"items", "count"}
    assert page["properties"]["items"]["items"]["$ref"].endswith("/EvaluationSetOut")


def test_a_sets_strata_report_gives_available_eligible_drawn_and_exclusions_by_reason(api_as, frozen):
    detail = api_as("steward").get(f"/api/v1/scoring/evaluation-sets/{frozen.pk}").json()
    strata = detail["strata_report"]
    assert strata == frozen.report["strata"]
    assert sum(s["drawn"] for s in strata) == frozen.members.count()
    for stratum in strata:
        assert stratum["available"] >= stratum["eligible"] >= stratum["drawn"]
        assert sum(stratum["excluded"].values()) == stratum["available"] - stratum["eligible"]
        assert frozen.members.filter(stratum=stratum["stratum"]).count() == stratum["drawn"]
    reasons = {reason for s in strata for reason in s["excluded"]}
    assert "consent withdrawn" in reasons or "no consent for evaluation" in reasons
    assert detail["seed"] == 1 and detail["excluded_copyright"] == ["disputed"]
    assert detail["allocation"]["per_stratum"] == 20


def test_an_unknown_set_is_a_json_404(api_as, frozen):
    response = api_as("officer").get("/api/v1/scoring/evaluation-sets/999999")
    assert response.status_code == 404
    assert response.json() == {"message": "no evaluation set 999999", "field": None}


def test_models_are_listed_with_the_hash_of_their_weights(api_as, world, db):
    model = world["model"]
    listed = {m["name"]: m for m in api_as("auditor").get("/api/v1/scoring/models").json()}[MODEL]
    weights = (Path(settings.ARTIFACT_ROOT) / model.artifact_path).read_bytes()
    assert listed["weights_sha256"] == hashlib.sha256(weights).hexdigest() == model.artifact_sha256
    assert (listed["version"], listed["kind"], listed["architecture"]) == (model.version, "torch", model.architecture)
