"""/audit/: the pages of policies and audit runs (status, live progress, results, downloads), for each role.

The demo population, a trained model, a frozen set, a policy and one executed run are built once for the
module, inside a transaction rolled back when the module ends; each test runs in a savepoint within it.
"""

import csv
import hashlib
import html
import io
from pathlib import Path

import orjson
import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from audit import services
from audit.models import AuditPolicy, AuditRun, GapResult, GroupResult
from consent import services as consent_services
from consent.models import DataItem, Dataset
from core.audit_log import Actor
from core.models import AuditLogEntry
from scoring import services as scoring_services
from scoring.engine.sampling import Allocation
from scoring.models import EvaluationSet, ModelVersion
from tests.conftest import module_file_roots

ACTOR = Actor.system("test")
SET, MODEL, POLICY = "web-audit-set", "demo-tabular-mlp", "web-quarterly"
ROLES = ["steward", "officer", "auditor", "nobody", None]
READERS = {"officer", "auditor"}
OFFICERS = {"officer"}


@pytest.fixture(scope="module", autouse=True)
def file_roots(tmp_path_factory):
    with module_file_roots(tmp_path_factory, "audit-web") as root:
        yield root


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, file_roots):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", subjects=300, images=0, seed=3, stdout=io.StringIO())
        call_command("train_demo_model", steps=60, stdout=io.StringIO())
        demo = Dataset.objects.get(name="demo-faces")
        model = ModelVersion.objects.get(name=MODEL)
        evaluation_set = scoring_services.freeze_evaluation_set(
            actor=ACTOR,
            evaluation_set=scoring_services.build_evaluation_set(
                actor=ACTOR, name=SET, dataset=demo, strata=["skin_tone:monk_3", "sex"],
                allocation=Allocation(per_stratum=40), seed=1, item_kind="tabular",
            ),
        )  # fmt: skip
        policy = services.define_policy(
            actor=ACTOR, name=POLICY, replicates=200, min_group_size=10,
            attributes=[{"attribute": "skin_tone", "banding": "monk_3"}, {"attribute": "sex"}],
        )  # fmt: skip
        run = services.start_audit_run(
            actor=ACTOR, model=model, evaluation_set=evaluation_set, policy=policy, period="2026-Q4"
        )
        services.execute_audit_run(run.pk)
        run.refresh_from_db()
        assert run.status == AuditRun.Status.SUCCEEDED, run.reason
        yield {"demo": demo, "model": model, "set": evaluation_set, "policy": policy, "run": run}
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


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def policy_form(**changes) -> dict:
    values = {
        "name": "web-new-policy", "attributes": ["skin_tone:monk_3", "sex"], "references": "", "intersections": "on",
        "metrics": ["mean_score_gap"], "threshold": "0.05", "confidence": "0.95", "replicates": "200", "seed": "0",
        "min_group_size": "10", "decision_threshold": "0.5", "check_against": "", "description": "",
    }  # fmt: skip
    return {**values, **changes}


def run_form(world, **changes) -> dict:
    values = {
        "model_version": world["model"].pk, "evaluation_set": world["set"].pk, "policy": world["policy"].pk,
        "period": "2027-Q2",
    }  # fmt: skip
    return {**values, **changes}


# Who may see and do what -----------------------------------------------------------------------

PAGES = [
    ("/audit/policies/", READERS, POLICY),
    ("/audit/policies/new/", OFFICERS, 'id="policy-form"'),
    ("/audit/runs/", READERS, SET),
    ("/audit/runs/new/", OFFICERS, SET),
    ("/audit/runs/{run}/", READERS, SET),
    ("/audit/runs/{run}/progress/", READERS, 'id="run-status"'),
    ("/audit/runs/{run}/evidence.json", READERS, SET),
    ("/audit/runs/{run}/scores.csv", READERS, "item_ref"),
]
PAGE_CASES = [
    pytest.param(path, role, role in allowed, known, id=f"{path} as {role}")
    for path, allowed, known in PAGES
    for role in ROLES
]


@pytest.mark.parametrize(("path", "role", "allowed", "known"), PAGE_CASES)
def test_each_role_sees_the_audit_pages_it_may_use_and_no_data_otherwise(
    client_as, audited, path, role, allowed, known
):
    url = path.format(run=audited.pk)
    response = client_as(role).get(url)
    body = body_of(response)
    if allowed:
        assert response.status_code == 200, body
        assert known in body
    elif role is None:
        assert response.status_code == 302
        assert response["Location"] == f"/sign-in/?next={url}"
    else:
        assert response.status_code == 403
        assert known not in body and SET not in body and audited.evidence_sha256 not in body


def post_cases():
    for role in ROLES:
        yield pytest.param("define", role, id=f"define a policy as {role}")
        yield pytest.param("start", role, id=f"start a run as {role}")
        yield pytest.param("cancel", role, id=f"cancel a run as {role}")
        yield pytest.param("retry", role, id=f"retry a run as {role}")


@pytest.mark.parametrize(("action", "role"), list(post_cases()))
def test_only_an_officer_defines_starts_cancels_and_retries(client_as, world, queued, action, role):
    if action == "retry":
        services.cancel_audit_run(actor=ACTOR, run=queued)
    before = list(AuditRun.objects.order_by("pk").values_list("pk", "status"))
    policies = AuditPolicy.objects.count()
    client = client_as(role)
    response = {
        "define": lambda: client.post("/audit/policies/new/", policy_form()),
        "start": lambda: client.post("/audit/runs/new/", run_form(world)),
        "cancel": lambda: client.post(f"/audit/runs/{queued.pk}/cancel/"),
        "retry": lambda: client.post(f"/audit/runs/{queued.pk}/retry/"),
    }[action]()
    queued.refresh_from_db()
    if role == "officer":
        assert response.status_code == 302
        if action == "define":
            assert AuditPolicy.objects.filter(name="web-new-policy").exists()
        elif action == "start":
            assert AuditRun.objects.count() == len(before) + 1
        else:
            assert queued.status == {"cancel": "cancelled", "retry": "queued"}[action]
    else:
        assert response.status_code == (302 if role is None else 403)
        if role is None:
            assert response["Location"].startswith("/sign-in/?next=")
        assert list(AuditRun.objects.order_by("pk").values_list("pk", "status")) == before
        assert AuditPolicy.objects.count() == policies
        assert SET not in response.content.decode()


def test_the_menu_lists_policies_and_runs_for_officers_and_auditors_only(client_as, audited):
    for role in READERS:
        menu = client_as(role).get("/").content.decode()
        assert 'href="/audit/policies/"' in menu and 'href="/audit/runs/"' in menu
    assert "/audit/" not in client_as("steward").get("/").content.decode()


# The officer's journey -------------------------------------------------------------------------


def test_an_officer_builds_a_set_defines_a_policy_starts_a_run_and_reads_its_verdicts(client_as, world):
    client = client_as("officer")
    built = client.post(
        "/scoring/evaluation-sets/new/",
        {"name": "journey set", "dataset": world["demo"].pk, "strata": ["skin_tone:monk_3", "sex"],
         "allocation": "per_stratum", "per_stratum": "30", "item_kind": "tabular", "seed": "2"},
    )  # fmt: skip
    assert built.status_code == 302
    evaluation_set = EvaluationSet.objects.get(name="journey set")
    assert client.post(f"/scoring/evaluation-sets/{evaluation_set.pk}/freeze/").status_code == 302

    defined = client.post("/audit/policies/new/", policy_form(name="journey policy"))
    assert defined.status_code == 302 and defined["Location"] == "/audit/policies/"
    policy = AuditPolicy.objects.get(name="journey policy")
    assert policy.version == 1 and policy.threshold == 0.05 and policy.intersections
    assert "journey policy" in client.get("/audit/policies/").content.decode()

    form = client.get(f"/audit/runs/new/?evaluation_set={evaluation_set.pk}").content.decode()
    assert 'id="start-run-form"' in form
    started = client.post(
        "/audit/runs/new/", run_form(world, evaluation_set=evaluation_set.pk, policy=policy.pk, period="2026-Q4")
    )
    run = AuditRun.objects.latest("pk")
    assert started.status_code == 302 and started["Location"] == f"/audit/runs/{run.pk}/"
    assert run.status == "queued" and run.evaluation_set == evaluation_set and run.policy == policy

    waiting = client.get(started["Location"]).content.decode()
    assert 'data-status="queued"' in waiting and 'hx-trigger="every 1s"' in waiting
    assert 'id="verdicts"' not in waiting and 'id="cancel-run"' in waiting

    services.execute_audit_run(run.pk)  # what the worker does
    run.refresh_from_db()
    assert run.status == "succeeded", run.reason

    page = client.get(f"/audit/runs/{run.pk}/").content.decode()
    assert 'id="verdicts"' in page and 'data-status="succeeded"' in page and "hx-trigger" not in page
    for gap in GapResult.objects.filter(run=run, metric="mean_score_gap").exclude(grouping__contains=" & "):
        row = page[page.index(f'data-grouping="{gap.grouping}" data-metric="mean_score_gap"') :].split("</tr>")[0]
        assert f'data-verdict="{gap.verdict}"' in row and f"{gap.value:,.4f}" in row
        assert f'class="verdict verdict-{gap.verdict}"' in row
    assert page.count("<svg") == 2  # one chart per attribute
    assert "provider-chosen" in page


def test_the_progress_partial_shows_the_stage_while_running_and_stops_polling_when_done(client_as, queued):
    client = client_as("auditor")
    polled = client.get(f"/audit/runs/{queued.pk}/progress/", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in polled.content.decode() and "HX-Refresh" not in polled

    with transaction.atomic():  # what the worker writes as it goes
        queued.set_status(AuditRun.Status.RUNNING, actor="worker")
    AuditRun.objects.filter(pk=queued.pk).update(stage="scoring", progress=0.42)
    running = client.get(f"/audit/runs/{queued.pk}/progress/", headers={"HX-Request": "true"}).content.decode()
    assert 'data-status="running"' in running and 'value="42"' in running and "42%" in running
    assert "scoring" in running and 'hx-trigger="every 1s"' in running

    services.cancel_audit_run(actor=ACTOR, run=queued)
    done = client.get(f"/audit/runs/{queued.pk}/progress/", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.content.decode() and 'data-status="cancelled"' in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_an_officer_cancels_a_queued_run_and_retries_it_through_the_page(client_as, queued):
    client = client_as("officer")
    page = client.post(f"/audit/runs/{queued.pk}/cancel/", follow=True).content.decode()
    assert 'data-status="cancelled"' in page and 'id="retry-run"' in page and 'id="cancel-run"' not in page
    page = client.post(f"/audit/runs/{queued.pk}/retry/", follow=True).content.decode()
    assert 'data-status="queued"' in page and "queued again" in page


def test_a_finished_run_cannot_be_cancelled_and_says_why(client_as, audited):
    page = client_as("officer").post(f"/audit/runs/{audited.pk}/cancel/", follow=True).content.decode()
    assert "is succeeded: there is nothing to cancel" in page
    assert AuditRun.objects.get(pk=audited.pk).status == "succeeded"


def test_an_auditor_sees_no_buttons_to_start_cancel_or_retry(client_as, queued):
    client = client_as("auditor")
    assert 'id="cancel-run"' not in client.get(f"/audit/runs/{queued.pk}/").content.decode()
    assert 'id="new-run"' not in client.get("/audit/runs/").content.decode()
    assert 'id="new-policy"' not in client.get("/audit/policies/").content.decode()


# The results page ------------------------------------------------------------------------------


def test_the_results_show_each_group_with_its_interval_the_gaps_and_the_cross_check(client_as, audited):
    page = client_as("auditor").get(f"/audit/runs/{audited.pk}/").content.decode()
    for result in GroupResult.objects.filter(run=audited).exclude(grouping__contains=" & "):
        section = page[page.index(f'data-attribute="{result.grouping}"') :].split("</section>")[0]
        row = section[section.index(f"<td>{html.escape(result.group)}") :].split("</tr>")[0]
        assert f">{result.n:,}<" in row and f"{result.mean_score:,.4f}" in row
        assert f"[{result.mean_score_ci_low:,.4f}, {result.mean_score_ci_high:,.4f}]" in row
        assert f"{result.selection_rate:,.3f}" in row
    check = audited.evidence["cross_check"]
    cross = page[page.index('id="cross-check"') :].split("</section>")[0]
    assert "AGREES" in cross and f"{check['compared']:,} figures" in cross and check["libraries"]["fairlearn"] in cross
    intersections = page[page.index('id="intersections"') :].split("</section>")[0]
    assert "skin_tone:monk_3 &amp; sex" in intersections
    for gap in GapResult.objects.filter(run=audited, grouping__contains=" & ", metric="mean_score_gap"):
        assert f"{gap.value:,.4f}" in intersections
    assert audited.evidence_sha256 in page and audited.score_artifact.sha256 in page
    assert 'id="download-evidence"' in page and 'id="download-scores"' in page


def test_members_withdrawn_since_the_freeze_are_counted_and_their_groups_never_exported(client_as, world):
    member = world["set"].members.select_related("item__subject").order_by("item_id").first()
    consent_services.withdraw_consent(actor=ACTOR, subject=member.item.subject, channel="email")
    withdrawn = world["set"].members.filter(item__subject=member.item.subject).count()
    run = services.start_audit_run(
        actor=ACTOR, model=world["model"], evaluation_set=world["set"], policy=world["policy"], period="2027-Q4"
    )
    services.execute_audit_run(run.pk)
    run.refresh_from_db()
    assert run.excluded == {"consent withdrawn since freeze": withdrawn}

    page = client_as("auditor").get(f"/audit/runs/{run.pk}/").content.decode()
    exclusions = page[page.index('id="exclusions"') :].split("</section>")[0]
    assert "consent withdrawn since freeze" in exclusions and f'<td class="num">{withdrawn}</td>' in exclusions

    rows = list(csv.DictReader(io.StringIO(body_of(client_as("officer").get(f"/audit/runs/{run.pk}/scores.csv")))))
    assert str(member.item_id) not in {row["item_id"] for row in rows}
    entry = AuditLogEntry.objects.filter(action="attributes.read", actor_label="user:web-officer").latest("pk")
    assert entry.after["count"] == len(rows) and member.item_id not in entry.after["item_ids"]


def test_an_inconclusive_verdict_says_how_many_items_would_settle_it(client_as, audited):
    page = client_as("officer").get(f"/audit/runs/{audited.pk}/").content.decode()
    for gap in GapResult.objects.filter(run=audited, verdict="inconclusive").exclude(grouping__contains=" & "):
        assert f"about {gap.n_needed:,} items per group would settle it" in page


def test_the_run_list_shows_each_runs_status_and_verdicts(client_as, audited, queued):
    page = client_as("auditor").get("/audit/runs/").content.decode()
    finished = page[page.index(f'data-run="{audited.pk}"') :].split("</tr>")[0]
    for gap in GapResult.objects.filter(run=audited, metric="mean_score_gap").exclude(grouping__contains=" & "):
        assert gap.grouping in finished and f"verdict-{gap.verdict}" in finished
    waiting = page[page.index(f'data-run="{queued.pk}"') :].split("</tr>")[0]
    assert "Queued" in waiting


# Policies and starting runs: bad input ---------------------------------------------------------


def test_a_policy_form_defaults_to_the_provider_chosen_threshold_of_0_05(client_as, audited):
    page = client_as("officer").get("/audit/policies/new/").content.decode()
    assert "Threshold (provider-chosen)" in page and 'name="threshold" value="0.05"' in page


def test_defining_from_an_existing_policy_makes_its_next_version(client_as, world):
    client = client_as("officer")
    form = client.get(f"/audit/policies/new/?from={world['policy'].pk}").content.decode()
    assert f'value="{POLICY}"' in form and "Next version of" in form
    response = client.post("/audit/policies/new/", policy_form(name=POLICY, threshold="0.03"))
    assert response.status_code == 302
    versions = list(AuditPolicy.objects.filter(name=POLICY).order_by("version").values_list("version", "threshold"))
    assert versions == [(1, 0.05), (2, 0.03)]


@pytest.mark.parametrize("base", ["²", "١", "x", "-1", "99999999999999999999999"])
def test_a_from_that_is_not_a_policy_id_is_ignored_and_the_form_starts_blank(client_as, audited, base):
    response = client_as("officer").get("/audit/policies/new/", {"from": base})
    page = response.content.decode()
    assert response.status_code == 200 and 'name="name"' in page
    assert "Next version of" not in page and f'value="{POLICY}"' not in page


@pytest.mark.parametrize("chosen", ["²", "x", "99999999999999999999999"])
def test_an_evaluation_set_that_is_not_an_id_is_ignored_by_the_run_form(client_as, world, chosen):
    response = client_as("officer").get("/audit/runs/new/", {"evaluation_set": chosen})
    page = response.content.decode()
    assert response.status_code == 200 and 'name="evaluation_set"' in page
    assert f'value="{world["set"].pk}" selected' not in page


def test_the_run_form_offers_only_frozen_sets_newest_first_and_every_model_version(client_as, world):
    draft = scoring_services.build_evaluation_set(
        actor=ACTOR, name="web-draft", dataset=world["demo"], strata=["sex"], allocation=Allocation(per_stratum=5),
        seed=2,
    )  # fmt: skip
    page = client_as("officer").get("/audit/runs/new/").content.decode()
    offered = page[page.index('name="evaluation_set"') :].split("</select>")[0]
    assert SET in offered and draft.name not in offered
    models = page[page.index('name="model_version"') :].split("</select>")[0]
    assert f'value="{world["model"].pk}"' in models


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"confidence": "1.5"}, "confidence", "1.5 must be at least 0.5 and under 1"),
        ({"attributes": []}, "attributes", "This field is required."),
        ({"references": "religion=none"}, "references", "religion is not one of the chosen attributes"),
        ({"threshold": "2"}, "threshold", "less than or equal to 1"),
        ({"ratio_threshold": "1"}, "ratio_threshold", "1.0 must be between 0 and 1"),
    ],
)
def test_a_bad_policy_is_refused_next_to_the_field_and_nothing_is_defined(client_as, audited, change, field, message):
    response = client_as("officer").post("/audit/policies/new/", policy_form(**change))
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    error = page[page.index(f'for="id_{field}') :].split('<div class="field')[0]
    assert message in error
    assert not AuditPolicy.objects.filter(name="web-new-policy").exists()


def test_a_policy_checked_against_a_set_must_fit_its_attributes(client_as, world):
    form = policy_form(attributes=["skin_tone"], references="skin_tone=11", check_against=world["set"].pk)
    page = html.unescape(client_as("officer").post("/audit/policies/new/", form).content.decode())
    assert "reference '11' is not a group of skin_tone" in page
    assert not AuditPolicy.objects.filter(name="web-new-policy").exists()


def test_a_bad_quarter_or_a_draft_set_is_refused_next_to_its_field(client_as, world):
    client = client_as("officer")
    count = AuditRun.objects.count()
    page = html.unescape(client.post("/audit/runs/new/", run_form(world, period="2026-Q5")).content.decode())
    assert "'2026-Q5' is not a reporting quarter like 2026-Q4" in page[page.index('for="id_period"') :]
    draft = scoring_services.build_evaluation_set(
        actor=ACTOR, name="web-draft", dataset=world["demo"], strata=["sex"], allocation=Allocation(per_stratum=5),
        seed=2,
    )  # fmt: skip
    page = client.post("/audit/runs/new/", run_form(world, evaluation_set=draft.pk)).content.decode()
    assert "Select a valid choice" in page[page.index('for="id_evaluation_set"') :]
    assert AuditRun.objects.count() == count


# Downloads -------------------------------------------------------------------------------------


def test_the_evidence_download_is_the_stored_json_byte_for_byte(client_as, audited):
    response = client_as("auditor").get(f"/audit/runs/{audited.pk}/evidence.json")
    assert response["Content-Type"] == "application/json"
    assert f'filename="audit-run-{audited.pk}-evidence.json"' in response["Content-Disposition"]
    assert hashlib.sha256(response.content).hexdigest() == audited.evidence_sha256
    assert orjson.loads(response.content) == audited.evidence


def test_the_scores_csv_has_a_row_per_scored_item_and_no_groups_for_an_auditor(client_as, audited):
    response = client_as("auditor").get(f"/audit/runs/{audited.pk}/scores.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8" and response.streaming
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert list(rows[0]) == ["item_id", "item_ref", "score", "selected"]
    assert len(rows) == audited.score_artifact.scored
    scores = pd.read_parquet(artifact_path(audited)).set_index("item_id")["score"]
    for row in rows:
        assert float(row["score"]) == scores[int(row["item_id"])]
        assert row["selected"] == str(int(float(row["score"]) >= audited.policy.decision_threshold))
    assert not AuditLogEntry.objects.filter(action="attributes.read", actor_label="user:web-auditor").exists()


def artifact_path(run) -> Path:
    return Path(settings.ARTIFACT_ROOT) / run.score_artifact.path


def test_an_officer_who_may_read_protected_attributes_gets_the_groups_and_the_read_is_logged(client_as, audited):
    response = client_as("officer").get(f"/audit/runs/{audited.pk}/scores.csv")
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert list(rows[0]) == ["item_id", "item_ref", "score", "selected", "stratum", "skin_tone:monk_3", "sex"]
    assert len(rows) == audited.score_artifact.scored
    for row in rows:
        assert row["stratum"] == f"{row['skin_tone:monk_3']} | {row['sex']}"
    entry = AuditLogEntry.objects.get(action="attributes.read", actor_label="user:web-officer")
    assert entry.after["count"] == audited.score_artifact.scored


def test_the_scores_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(client_as, world):
    dangerous = ['=HYPERLINK("http://evil")', "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR"]
    members = list(world["set"].members.order_by("item_id").values_list("item_id", flat=True)[: len(dangerous)])
    for item_id, ref in zip(members, dangerous, strict=True):
        DataItem.objects.filter(pk=item_id).update(item_ref=ref)  # a dataset whose references are hostile
    run = services.start_audit_run(
        actor=ACTOR, model=world["model"], evaluation_set=world["set"], policy=world["policy"], period="2027-Q3"
    )
    services.execute_audit_run(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.reason

    text = body_of(client_as("auditor").get(f"/audit/runs/{run.pk}/scores.csv"))
    refs = {row["item_id"]: row["item_ref"] for row in csv.DictReader(io.StringIO(text, newline=""))}
    for item_id, ref in zip(members, dangerous, strict=True):
        assert refs[str(item_id)] == "'" + ref
    numbers = [row["score"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    assert not any(value.startswith("'") for value in numbers)


def test_a_scores_file_changed_on_disk_is_not_handed_out(client_as, audited):
    path = artifact_path(audited)
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"tampered")
        response = client_as("auditor").get(f"/audit/runs/{audited.pk}/scores.csv")
        assert response.status_code == 409 and b"no longer matches its recorded SHA-256" in response.content
    finally:
        path.write_bytes(original)


def test_a_queued_run_has_nothing_to_download(client_as, queued):
    client = client_as("officer")
    assert client.get(f"/audit/runs/{queued.pk}/evidence.json").status_code == 404
    assert client.get(f"/audit/runs/{queued.pk}/scores.csv").status_code == 404


# The audit's own verdict, ratios and how verdicts are built -------------------------------------


def test_the_run_page_shows_the_audit_verdict_and_its_error_control(client_as, audited):
    page = client_as("auditor").get(f"/audit/runs/{audited.pk}/").content.decode()
    stated = audited.evidence["verdict"]
    block = page[page.index('id="run-verdict"') :].split("</div>")[0]
    assert f'data-verdict="{audited.verdict}"' in block and f'class="verdict verdict-{audited.verdict}"' in block
    judged = sum(stated["counts"][o] for o in ("pass", "fail", "inconclusive"))
    assert f"of {judged} judged gaps and ratios" in block or f"all {judged} judged gaps and ratios pass" in block
    for named in stated["failures"] + stated["inconclusive"]:
        assert html.escape(named) in block
    verdicts = html.unescape(page[page.index('id="verdicts"') :].split("</section>")[0])
    assert stated["error_control"] in verdicts


def test_the_run_page_describes_how_intervals_and_verdicts_are_built_in_plain_words_then_the_rule(client_as, audited):
    from audit.method import N_NEEDED, PLAIN

    page = html.unescape(client_as("officer").get(f"/audit/runs/{audited.pk}/").content.decode())
    method = page[page.index('id="method"') :].split("</details>")[0]
    rule = audited.evidence["policy"]
    assert method.index(PLAIN) < method.index(rule["interval_rule"]) < method.index(rule["verdict_rule"])
    assert N_NEEDED in method and "80% power" in method
    assert "Ratio threshold" in page and "the four-fifths rule" in page


def test_the_run_list_shows_each_runs_audit_verdict(client_as, audited, queued):
    page = client_as("officer").get("/audit/runs/").content.decode()
    finished = page[page.index(f'data-run="{audited.pk}"') :].split("</tr>")[0]
    assert f'class="run-verdict" data-verdict="{audited.verdict}"' in finished
    waiting = page[page.index(f'data-run="{queued.pk}"') :].split("</tr>")[0]
    assert 'class="run-verdict" data-verdict=""' in waiting


def test_an_officer_defines_a_policy_with_a_ratio_threshold_and_a_ratio_metric(client_as, audited):
    client = client_as("officer")
    form = client.get("/audit/policies/new/").content.decode()
    assert 'name="ratio_threshold" value="0.8"' in form and 'value="disparate_impact_ratio"' in form
    assert 'value="true_positive_rate_ratio"' not in form  # registry items carry no labels
    response = client.post(
        "/audit/policies/new/", policy_form(ratio_threshold="0.75", metrics=["mean_score_gap", "disparate_impact_ratio"])
    )
    assert response.status_code == 302
    policy = AuditPolicy.objects.get(name="web-new-policy")
    assert (policy.ratio_threshold, policy.metrics) == (0.75, ["mean_score_gap", "disparate_impact_ratio"])
    listed = client.get("/audit/policies/").content.decode()
    row = listed[listed.index('data-policy="web-new-policy v1"') :].split("</tr>")[0]
    assert ">0.75<" in row and "disparate impact ratio" in row
    again = client.get(f"/audit/policies/new/?from={policy.pk}").content.decode()
    assert 'name="ratio_threshold" value="0.75"' in again


def test_a_blank_ratio_threshold_is_the_four_fifths_rule(client_as, audited):
    assert client_as("officer").post("/audit/policies/new/", policy_form(ratio_threshold="")).status_code == 302
    assert AuditPolicy.objects.get(name="web-new-policy").ratio_threshold == 0.8
