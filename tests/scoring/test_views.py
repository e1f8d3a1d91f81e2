"""/scoring/: the pages of evaluation sets and model versions, for each role.

The demo population, a frozen and a draft evaluation set and a model of precomputed scores are built once
for the module, inside a transaction rolled back when the module ends; each test runs in a savepoint within it.
"""

import html
import io
import re

import pandas as pd
import pytest
from django.core.management import call_command
from django.db import transaction

from consent import services as consent_services
from consent.models import DataItem, Dataset
from core.audit_log import Actor
from core.models import AuditLogEntry
from scoring import services
from scoring import views as scoring_views
from scoring.engine.architectures import load_architecture
from scoring.engine.sampling import Allocation
from scoring.engine.weights import state_bytes
from scoring.models import EvaluationSet, ModelVersion
from scoring.selectors import affected_counts
from tests.conftest import module_file_roots

ACTOR = Actor.system("test")
FROZEN, DRAFT, MODEL = "web-frozen-set", "web-draft-set", "web-confidential-model"
ROLES = ["steward", "officer", "auditor", "nobody", None]


@pytest.fixture(scope="module", autouse=True)
def file_roots(tmp_path_factory):
    with module_file_roots(tmp_path_factory, "scoring-web") as root:
        yield root


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, file_roots):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", subjects=300, images=0, seed=3, stdout=io.StringIO())
        demo = Dataset.objects.get(name="demo-faces")
        build = dict(actor=ACTOR, dataset=demo, strata=["skin_tone:monk_3", "sex"], seed=1, item_kind="tabular")
        frozen = services.freeze_evaluation_set(
            actor=ACTOR,
            evaluation_set=services.build_evaluation_set(name=FROZEN, allocation=Allocation(per_stratum=20), **build),
        )
        draft = services.build_evaluation_set(name=DRAFT, allocation=Allocation(per_stratum=5), **build)
        refs = list(DataItem.objects.filter(dataset=demo).values_list("item_ref", flat=True))
        model = services.register_precomputed_scores(
            actor=ACTOR, name=MODEL, version="1", scores=pd.DataFrame({"item": refs, "score": 0.5})
        )
        yield {"demo": demo, "frozen": frozen, "draft": draft, "model": model}
        transaction.set_rollback(True)


@pytest.fixture
def w(world, db):
    return world


def form_of(demo, **overrides) -> dict:
    values = {
        "name": "built on the page", "dataset": demo.pk, "strata": ["skin_tone:monk_3", "sex"],
        "allocation": "per_stratum", "per_stratum": "15", "total": "", "minimum": "0", "targets": "",
        "item_kind": "tabular", "seed": "4", "snapshot_at": "",
    }  # fmt: skip
    return {**values, **overrides}


# Who may see and do what -----------------------------------------------------------------------

SET_READERS = {"steward", "officer", "auditor"}
MODEL_READERS = {"officer", "auditor"}
BUILDERS = {"officer"}


def page_cases():
    for role in ROLES:
        yield "/scoring/evaluation-sets/", role, role in SET_READERS, FROZEN
        yield "/scoring/evaluation-sets/{frozen}/", role, role in SET_READERS, FROZEN
        yield "/scoring/evaluation-sets/new/", role, role in BUILDERS, "demo-faces"
        yield "/scoring/models/", role, role in MODEL_READERS, MODEL
        yield "/scoring/models/new/", role, role in BUILDERS, 'id="model-form"'


@pytest.mark.parametrize(("url", "role", "allowed", "known"), list(page_cases()))
def test_each_role_sees_the_scoring_pages_it_may_use_and_no_data_otherwise(client_as, w, url, role, allowed, known):
    url = url.format(frozen=w["frozen"].pk)
    response = client_as(role).get(url)
    body = response.content.decode()
    if allowed:
        assert response.status_code == 200, body
        assert known in body
    elif role is None:
        assert response.status_code == 302
        assert response["Location"].startswith("/sign-in/?next=")
    else:
        assert response.status_code == 403
        assert known not in body and w["frozen"].manifest_sha256 not in body


@pytest.mark.parametrize("role", ROLES)
def test_only_an_officer_freezes_a_set(client_as, w, role):
    response = client_as(role).post(f"/scoring/evaluation-sets/{w['draft'].pk}/freeze/")
    draft = EvaluationSet.objects.get(pk=w["draft"].pk)
    if role == "officer":
        assert response.status_code == 302 and draft.is_frozen
    else:
        assert response.status_code == (302 if role is None else 403)
        assert not draft.is_frozen and DRAFT not in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_only_an_officer_builds_a_set(client_as, w, role):
    response = client_as(role).post("/scoring/evaluation-sets/new/", form_of(w["demo"], name="by role"))
    built = EvaluationSet.objects.filter(name="by role").exists()
    if role == "officer":
        assert response.status_code == 302 and built
    else:
        assert response.status_code == (302 if role is None else 403)
        assert not built


@pytest.mark.parametrize("role", ROLES)
def test_only_an_officer_registers_a_model(client_as, w, role):
    scores = io.BytesIO(b"item,score\nA,0.5\n")
    scores.name = "scores.csv"
    form = {"name": "by-role", "version": "1", "kind": "precomputed", "config": "{}", "scores": scores}
    response = client_as(role).post("/scoring/models/new/", form)
    registered = ModelVersion.objects.filter(name="by-role").exists()
    if role == "officer":
        assert response.status_code == 302 and registered
    else:
        assert response.status_code == (302 if role is None else 403)
        assert not registered


def test_the_menu_lists_evaluation_sets_and_models_for_those_who_may_see_them(client_as, w):
    assert "/scoring/models/" in client_as("auditor").get("/").content.decode()
    steward = client_as("steward").get("/").content.decode()
    assert "/scoring/evaluation-sets/" in steward and "/scoring/models/" not in steward
    assert "/scoring/" not in client_as("nobody").get("/").content.decode()


# Evaluation sets -------------------------------------------------------------------------------


def test_an_officer_builds_a_set_then_freezes_it_through_the_pages(client_as, w):
    client = client_as("officer")
    form = client.get("/scoring/evaluation-sets/new/").content.decode()
    assert 'id="evaluation-set-form"' in form and 'value="skin_tone:monk_3"' in form

    response = client.post("/scoring/evaluation-sets/new/", form_of(w["demo"]))
    built = EvaluationSet.objects.get(name="built on the page")
    assert response.status_code == 302 and response["Location"] == f"/scoring/evaluation-sets/{built.pk}/"
    assert built.strata == ["skin_tone:monk_3", "sex"] and built.seed == 4 and built.allocation["per_stratum"] == 15

    page = client.get(response["Location"]).content.decode()
    assert "Draft" in page and 'id="freeze-evaluation-set"' in page
    for stratum in built.report["strata"]:
        assert stratum["stratum"] in page
    assert f">{built.report['drawn']:,}<" in page.replace("<strong>", "").replace("</strong>", "")
    for reason in built.report["excluded"]:
        assert reason in page

    frozen = client.post(f"/scoring/evaluation-sets/{built.pk}/freeze/", follow=True).content.decode()
    built.refresh_from_db()
    assert built.is_frozen and built.manifest_sha256 in frozen
    assert 'id="freeze-evaluation-set"' not in frozen and 'id="start-run-with-set"' in frozen

    listed = client.get("/scoring/evaluation-sets/").content.decode()
    assert "built on the page" in listed and built.manifest_sha256[:12] in listed
    assert AuditLogEntry.objects.filter(action="evaluation_set.freeze", object_id=str(built.pk)).exists()


def test_an_auditor_reads_a_set_but_sees_no_build_or_freeze_button(client_as, w):
    page = client_as("auditor").get(f"/scoring/evaluation-sets/{w['draft'].pk}/").content.decode()
    assert DRAFT in page and 'id="freeze-evaluation-set"' not in page
    listed = client_as("auditor").get("/scoring/evaluation-sets/").content.decode()
    assert 'id="new-evaluation-set"' not in listed


def test_a_missing_count_is_named_next_to_its_field_and_nothing_is_written(client_as, w):
    response = client_as("officer").post("/scoring/evaluation-sets/new/", form_of(w["demo"], per_stratum=""))
    page = response.content.decode()
    assert response.status_code == 200
    assert '<div class="field has-error">\n  <label for="id_per_stratum">' in page
    assert "Give this for the allocation you chose." in page
    assert not EvaluationSet.objects.filter(name="built on the page").exists()


def test_bad_targets_name_their_line(client_as, w):
    form = form_of(w["demo"], allocation="targets", targets="dark | female: 10\ndark | male ten")
    page = client_as("officer").post("/scoring/evaluation-sets/new/", form).content.decode()
    assert "line 2: write “label: count”" in page
    assert not EvaluationSet.objects.filter(name="built on the page").exists()


def test_a_set_drawn_by_targets_and_by_proportion(client_as, w):
    client = client_as("officer")
    targets = form_of(w["demo"], name="by targets", allocation="targets", targets="dark | female: 7\nlight | male: 3")
    assert client.post("/scoring/evaluation-sets/new/", targets).status_code == 302
    drawn = {s["stratum"]: s["drawn"] for s in EvaluationSet.objects.get(name="by targets").report["strata"]}
    assert drawn["dark | female"] == 7 and drawn["light | male"] == 3 and sum(drawn.values()) == 10

    proportional = form_of(w["demo"], name="by share", allocation="total", total="60", minimum="4")
    assert client.post("/scoring/evaluation-sets/new/", proportional).status_code == 302
    report = EvaluationSet.objects.get(name="by share").report
    assert all(s["drawn"] >= min(4, s["eligible"]) for s in report["strata"])


def test_the_services_refusals_are_named_next_to_their_fields(client_as, w):
    client = client_as("officer")
    taken = html.unescape(
        client.post("/scoring/evaluation-sets/new/", form_of(w["demo"], name=FROZEN)).content.decode()
    )
    assert f"an evaluation set named {FROZEN!r} already exists" in taken
    assert taken.index("already exists") > taken.index('for="id_name"')
    assert EvaluationSet.objects.filter(name=FROZEN).count() == 1


def test_choosing_another_dataset_lists_that_datasets_attributes(client_as, w):
    response = client_as("officer").get(
        "/scoring/evaluation-sets/new/", {"dataset": w["demo"].pk}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert 'id="strata-field"' in page
    for option in ("skin_tone", "skin_tone:monk_3", "sex", "age_band"):
        assert f'value="{option}"' in page


def test_the_pages_count_members_who_withdrew_after_the_draw(client_as, w):
    member = w["frozen"].members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=ACTOR, subject=member.item.subject, channel="email")
    affected = w["frozen"].members.filter(item__subject=member.item.subject).count()
    listed = client_as("officer").get("/scoring/evaluation-sets/").content.decode()
    row = listed[listed.index(f'data-set="{FROZEN}"') :].split("</tr>")[0]
    assert f'<span class="warn">{affected}</span>' in row
    page = client_as("auditor").get(f"/scoring/evaluation-sets/{w['frozen'].pk}/").content.decode()
    assert 'id="affected-members"' in page


def empty_drafts(w, count: int) -> None:
    """Draft sets without members, written straight to the table: only how many there are matters."""
    EvaluationSet.objects.bulk_create(
        EvaluationSet(name=f"web-empty-{n:03}", dataset=w["demo"], snapshot_at=w["frozen"].snapshot_at,
                      strata=["sex"], allocation={"per_stratum": 1}, seed=n)
        for n in range(count)
    )  # fmt: skip


def listed_sets(page: str) -> list[str]:
    return re.findall(r'<tr data-set="([^"]+)">', page)


def test_the_list_shows_50_sets_a_page_and_counts_withdrawals_for_that_page_only(client_as, w, monkeypatch):
    member = w["frozen"].members.select_related("item__subject").first()
    consent_services.withdraw_consent(actor=ACTOR, subject=member.item.subject, channel="email")
    affected = w["frozen"].members.filter(item__subject=member.item.subject).count()
    empty_drafts(w, 50)
    counted = []

    def counting(sets):
        counted.append(sorted(s.name for s in sets))
        return affected_counts(sets)

    monkeypatch.setattr(scoring_views, "affected_counts", counting)
    client = client_as("auditor")

    first = client.get("/scoring/evaluation-sets/").content.decode()
    assert len(listed_sets(first)) == 50 and FROZEN not in listed_sets(first)
    assert counted == [sorted(listed_sets(first))]  # the withdrawals of the sets on the page, no others
    assert 'href="?page=2"' in first and "Page 1 of 2" in first and "52 sets" in first

    second = client.get("/scoring/evaluation-sets/", {"page": 2}).content.decode()
    assert listed_sets(second) == [DRAFT, FROZEN]  # the oldest, newest first
    assert counted[-1] == sorted([DRAFT, FROZEN])
    row = second[second.index(f'data-set="{FROZEN}"') :].split("</tr>")[0]
    assert f'<span class="warn">{affected}</span>' in row
    assert 'href="?page=1"' in second and "?page=3" not in second


@pytest.mark.parametrize("page", ["0", "99", "x", "²"])
def test_a_page_out_of_range_shows_the_nearest_one(client_as, w, page):
    response = client_as("officer").get("/scoring/evaluation-sets/", {"page": page})
    assert response.status_code == 200 and FROZEN in response.content.decode()


def test_one_page_of_sets_shows_no_page_links(client_as, w):
    page = client_as("officer").get("/scoring/evaluation-sets/").content.decode()
    assert listed_sets(page) == [DRAFT, FROZEN] and 'id="evaluation-set-pages"' not in page


@pytest.mark.parametrize("chosen", ["²", "x", "-1", "99999999999999999999999"])
def test_a_dataset_that_is_not_an_id_is_ignored_by_the_build_form(client_as, w, chosen):
    response = client_as("officer").get("/scoring/evaluation-sets/new/", {"dataset": chosen})
    page = response.content.decode()
    assert response.status_code == 200 and 'id="strata-field"' in page
    assert 'value="skin_tone:monk_3"' in page  # the first dataset's attributes, as with no choice at all


def test_a_target_written_with_a_digit_that_is_not_ascii_is_named_on_its_line(client_as, w):
    form = form_of(w["demo"], allocation="targets", targets="dark | female: 10\ndark | male: ²")
    response = client_as("officer").post("/scoring/evaluation-sets/new/", form)
    assert response.status_code == 200
    assert "line 2: '²' is not a whole number" in html.unescape(response.content.decode())
    assert not EvaluationSet.objects.filter(name="built on the page").exists()


def test_freezing_a_frozen_set_says_so(client_as, w):
    page = client_as("officer").post(f"/scoring/evaluation-sets/{w['frozen'].pk}/freeze/", follow=True)
    assert "is already frozen" in page.content.decode()


# Model versions --------------------------------------------------------------------------------

COLUMNS = ["f1", "f2", "f3"]


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def weights() -> bytes:
    return state_bytes(load_architecture("tabular-mlp", {"feature_columns": COLUMNS}).module)


def model_form(**overrides) -> dict:
    values = {
        "name": "face-score", "version": "2026.4", "kind": "torch", "architecture": "tabular-mlp",
        "config": '{"feature_columns": ["f1", "f2", "f3"]}', "description": "quarterly retrain",
    }  # fmt: skip
    return {**values, **overrides}


def test_an_officer_registers_safetensors_weights_and_sees_them_listed(client_as, w):
    client = client_as("officer")
    response = client.post("/scoring/models/new/", model_form(weights=upload("model.safetensors", weights())))
    assert response.status_code == 302 and response["Location"] == "/scoring/models/"
    model = ModelVersion.objects.get(name="face-score")
    assert (model.kind, model.architecture, model.config) == ("torch", "tabular-mlp", {"feature_columns": COLUMNS})
    listed = client.get("/scoring/models/").content.decode()
    assert "face-score" in listed and "2026.4" in listed and model.artifact_sha256[:16] in listed


@pytest.mark.parametrize("name", ["model.pt", "model.pkl", "model.pt2"])
def test_a_pickled_upload_is_refused_next_to_the_weights_field_naming_safetensors(client_as, w, name):
    response = client_as("officer").post("/scoring/models/new/", model_form(weights=upload(name, b"\x80\x04K\x01.")))
    page = response.content.decode()
    assert response.status_code == 200
    error = page[page.index('for="id_weights"') :].split("</div>")[0]
    assert "field-error" in error and "accepted only as safetensors" in error
    assert not ModelVersion.objects.filter(name="face-score").exists()


def test_a_missing_architecture_setting_is_named_in_the_configuration_field(client_as, w):
    form = model_form(config="{}", weights=upload("model.safetensors", weights()))
    page = client_as("officer").post("/scoring/models/new/", form).content.decode()
    error = page[page.index('for="id_config"') :].split("</div>")[0]
    assert "tabular-mlp needs 'feature_columns' in its configuration" in html.unescape(error)
    assert not ModelVersion.objects.filter(name="face-score").exists()


def test_an_officer_registers_a_file_of_precomputed_scores(client_as, w):
    scores = upload("scores.csv", b"item,score\nITEM-1,0.25\nITEM-2,0.75\n")
    response = client_as("officer").post(
        "/scoring/models/new/", {"name": "vendor-model", "version": "7", "kind": "precomputed", "scores": scores}
    )
    assert response.status_code == 302
    assert ModelVersion.objects.get(name="vendor-model").kind == "precomputed"


def test_bad_scores_and_a_taken_version_are_named(client_as, w):
    client = client_as("officer")
    scores = upload("scores.csv", b"item,score\nITEM-1,1.5\n")
    page = client.post(
        "/scoring/models/new/", {"name": "vendor-model", "version": "7", "kind": "precomputed", "scores": scores}
    ).content.decode()
    error = html.unescape(page[page.index('for="id_scores"') :].split("</div>")[0])
    assert "row 1: item 'ITEM-1' has score" in error and "not a number in [0, 1]" in error
    taken = upload("scores.csv", b"item,score\nITEM-1,0.5\n")
    page = client.post(
        "/scoring/models/new/", {"name": MODEL, "version": "1", "kind": "precomputed", "scores": taken}
    ).content.decode()
    error = page[page.index('for="id_version"') :].split("</div>")[0]
    assert f"model {MODEL} 1 already exists" in error
    assert not ModelVersion.objects.filter(name="vendor-model").exists()
