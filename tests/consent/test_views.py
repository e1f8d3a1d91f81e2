"""The consent and provenance pages: who may see and do what, and what each page shows."""

import html
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.models import ConsentEvent, DataItem, GuardianConsent, ImportBatch, Subject
from consent.rules.purposes import Purpose
from tests.conftest import at
from tests.consent.conftest import item_row
from tests.consent.test_ledger import tamper

ROLES = ["steward", "officer", "auditor", "nobody", None]
READERS = {"steward", "officer", "auditor"}  # view_subject, view_consentevent, view_dataset...
STEWARD = {"steward"}
SECRET_REFERENCE = "SUBJ-ADULT"  # the `subject` fixture's reference: never on a refused page
MOTIVATION = "Check the face model for skin-tone bias."  # the `dataset` fixture's datasheet
HTMX = {"HX-Request": "true"}

CONSENT_CSV = (
    "event_id,subject,kind,purposes,notice_version,channel,collected_at,jurisdiction,birth_month\n"
    "IMP-1,SUBJ-NEW-1,grant,evaluation,1,paper_form,2025-02-01,DE,1980-04\n"
    "IMP-2,SUBJ-NEW-2,grant,evaluation;bias_audit,1,paper_form,2025-02-02,FR,1990-07\n"
    "IMP-3,SUBJ-NEW-1,withdrawal,evaluation,,email,2025-05-01,,\n"
)
BAD_CONSENT_CSV = (
    "event_id,subject,kind,purposes,notice_version,channel,collected_at,jurisdiction,birth_month\n"
    "IMP-1,SUBJ-NEW-1,grant,evaluation,1,paper_form,2025-02-01,DE,1980-04\n"
    "IMP-2,SUBJ-NEW-2,grant,evaluation,1,carrier_pigeon,2025-02-02,FR,1990-07\n"
    "IMP-3,SUBJ-NEW-3,grant,evaluation,1,email,not a date,FR,1990-07\n"
)
ITEMS_CSV = "item_ref,subject,source,kind,skin_tone,sex,feature_x\nweb-1,SUBJ-ADULT,studio,tabular,3,female,0.25\n"
BAD_ITEMS_CSV = (
    "item_ref,subject,source,kind,skin_tone,sex,feature_x\n"
    "web-1,SUBJ-ADULT,studio,tabular,3,female,0.25\n"
    "web-2,SUBJ-NOBODY,studio,tabular,3,female,0.5\n"
    "web-3,SUBJ-ADULT,attic,tabular,11,female,0.5\n"
)


def upload(text: str, name: str = "events.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


class _Element(HTMLParser):
    """The text and markup inside the element with a given id."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, element_id):
        super().__init__(convert_charrefs=True)
        self.element_id, self.depth, self.parts, self.found = element_id, 0, [], False

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.parts.append(self.get_starttag_text())
            self.depth += tag not in self.VOID
        elif dict(attrs).get("id") == self.element_id:
            self.found, self.depth = True, 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
            if self.depth:
                self.parts.append(f"</{tag}>")

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def element(page, element_id: str) -> str:
    """The inside of `<... id="element_id">` in a response or an HTML string; fails if there is none."""
    text = page.content.decode() if hasattr(page, "content") else page
    parser = _Element(element_id)
    parser.feed(text)
    assert parser.found, f"no element with id {element_id!r}"
    return "".join(parser.parts)


def states(page) -> dict[str, str]:
    """Purpose -> consent state, as the #consent-state table shows it."""
    table = element(page, "consent-state")
    return dict(re.findall(r'data-purpose="([a-z_]+)" data-state="([a-z ]+)"', table))


def form_fields(page, form_id: str) -> list[str]:
    """The names of the visible inputs of a form (hidden ones and the CSRF token left out)."""
    form = element(page, form_id)
    names = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*name="([^"]+)"', form)
    return list(dict.fromkeys(names))


def event_id_of(page, form_id: str) -> str:
    return re.search(r'name="event_id" value="([^"]+)"', element(page, form_id)).group(1)


@pytest.fixture
def granted(subject, grant):
    """SUBJ-ADULT with consent for evaluation since 2025-03-01."""
    grant(subject, purposes=["evaluation"], event_id="EV-GRANT-1")
    return subject


@pytest.fixture
def urls(granted, dataset):
    return {
        "subjects": "/consent/subjects/",
        "search": "/consent/subjects/?q=ADULT",
        "subject": f"/consent/subjects/{granted.key}/",
        "grant": f"/consent/subjects/{granted.key}/grant/",
        "withdraw": f"/consent/subjects/{granted.key}/withdraw/",
        "erase": f"/consent/subjects/{granted.key}/erase/",
        "import": "/consent/import/",
        "ledger": "/consent/ledger/",
        "datasets": "/consent/datasets/",
        "dataset": f"/consent/datasets/{dataset.pk}/",
        "import-items": f"/consent/datasets/{dataset.pk}/import/",
    }


def form_posts(granted, notice):
    """A valid submission of each form on these pages."""
    return {
        "grant": {"purposes": ["bias_audit"], "notice": notice.pk, "channel": "paper_form", "event_id": "F-1"},
        "withdraw": {"purposes": ["evaluation"], "channel": "email", "event_id": "F-2"},
        "erase": {"confirm_reference": granted.reference, "channel": "email", "event_id": "F-3"},
        "import": {"file": upload(CONSENT_CSV)},
        "import-items": {"file": upload(ITEMS_CSV, "items.csv")},
    }


def written() -> tuple[int, int, int, int]:
    """What the forms can write: consent events, import batches, data items, erased subjects."""
    return (
        ConsentEvent.objects.count(),
        ImportBatch.objects.count(),
        DataItem.objects.count(),
        Subject.objects.filter(erased_at__isnull=False).count(),
    )


# Who may see each page -----------------------------------------------------------------------

PAGES = [
    ("subjects", READERS),
    ("search", READERS),
    ("subject", READERS),
    ("ledger", READERS),
    ("datasets", READERS),
    ("dataset", READERS),
    ("erase", STEWARD),
    ("import", STEWARD),
    ("import-items", STEWARD),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "allowed"), PAGES, ids=[page for page, _ in PAGES])
def test_each_page_opens_for_the_roles_allowed_and_shows_nothing_to_the_others(client_as, urls, page, allowed, role):
    url = urls[page]
    response = client_as(role).get(url)
    if role is None:
        assert response.status_code == 302
        assert response["Location"] == f"/sign-in/?next={url.replace('?', '%3F').replace('=', '%3D')}"
    elif role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        body = response.content.decode()
        assert SECRET_REFERENCE not in body and MOTIVATION not in body and "EV-GRANT-1" not in body


FORMS = ["grant", "withdraw", "erase", "import", "import-items"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("form", FORMS)
def test_only_the_steward_may_submit_each_form(client_as, urls, granted, notice, form, role):
    before = written()
    response = client_as(role).post(urls[form], form_posts(granted, notice)[form])
    if role == "steward":
        assert response.status_code == 302
        assert written() != before
        return
    assert written() == before
    if role is None:
        assert response.status_code == 302
        assert response["Location"].startswith("/sign-in/?next=")
    else:
        assert response.status_code == 403
        assert SECRET_REFERENCE not in response.content.decode()


def test_an_unknown_subject_or_dataset_is_not_found(client_as, db):
    client = client_as("steward")
    assert client.get("/consent/subjects/00000000-0000-4000-8000-000000000000/").status_code == 404
    assert client.get("/consent/datasets/999/").status_code == 404


def test_the_menu_leads_readers_to_consent_and_datasets_and_hides_them_from_others(client_as, db):
    for role in ("steward", "officer", "auditor"):
        page = client_as(role).get("/").content.decode()
        assert 'href="/consent/subjects/"' in page and 'href="/consent/datasets/"' in page, role
    page = client_as("nobody").get("/").content.decode()
    assert "/consent/subjects/" not in page and "/consent/datasets/" not in page


# Finding a subject ---------------------------------------------------------------------------


def test_a_search_finds_subjects_by_part_of_their_reference(client_as, make_subject):
    make_subject("SUBJ-ADULT")
    make_subject("PANEL-7")
    page = client_as("auditor").get("/consent/subjects/", {"q": "adu"})
    results = element(page, "subject-results")
    assert "SUBJ-ADULT" in results and "PANEL-7" not in results
    assert 'id="subject-query"' in page.content.decode()


def test_an_htmx_search_answers_with_the_results_alone(client_as, make_subject):
    make_subject("SUBJ-ADULT")
    response = client_as("steward").get("/consent/subjects/", {"q": "SUBJ-ADULT"}, headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="subject-results"')
    assert "<html" not in body and "SUBJ-ADULT" in body


def test_a_search_without_a_match_says_what_to_do(client_as, make_subject):
    make_subject("SUBJ-ADULT")
    results = element(client_as("steward").get("/consent/subjects/", {"q": "ZZZ"}), "subject-results")
    assert "No subject has a reference containing" in html.unescape(results)


def test_erased_subjects_cannot_be_found_by_their_old_reference(client_as, granted, erase):
    erase(granted)
    results = element(client_as("steward").get("/consent/subjects/", {"q": "SUBJ"}), "subject-results")
    assert "SUBJ-ADULT" not in results


# A subject's page ----------------------------------------------------------------------------


def test_the_subject_page_shows_the_state_per_purpose_and_the_event_history(client_as, granted, withdraw, grant):
    grant(granted, purposes=["bias_audit"], collected_at=at(2025, 4), event_id="EV-GRANT-2")
    withdraw(granted, purposes=["evaluation"], event_id="EV-WITHDRAW-1")
    page = client_as("auditor").get(f"/consent/subjects/{granted.key}/")
    assert states(page) == {
        "training": "never granted",
        "evaluation": "withdrawn",
        "bias_audit": "active",
        "publication": "never granted",
    }
    history = element(page, "consent-history")
    rows = re.findall(r'<tr id="event-(\d+)" data-kind="(\w+)"', history)
    assert rows == [("1", "grant"), ("2", "grant"), ("3", "withdrawal")]
    for shown in ("EV-GRANT-1", "EV-GRANT-2", "EV-WITHDRAW-1", "1/en", "Web form", "E-mail", "2025-03-01 00:00 UTC"):
        assert shown in history


def test_the_history_shows_the_guardian_of_a_minor(client_as, make_subject, grant):
    from datetime import date

    child = make_subject("SUBJ-CHILD", jurisdiction="FR", birth_month=date(2013, 5, 1))
    grant(child, guardian_reference="GUARD-9")
    assert "GUARD-9" in element(client_as("steward").get(f"/consent/subjects/{child.key}/"), "consent-history")


def test_only_the_steward_sees_a_subjects_birth_month_others_see_whether_a_guardian_is_needed(
    client_as, make_subject
):
    from datetime import date

    child = make_subject("SUBJ-CHILD", jurisdiction="FR", birth_month=date(2013, 5, 1))
    pages = {role: client_as(role).get(f"/consent/subjects/{child.key}/").content.decode() for role in READERS}
    assert "2013-05" in element(pages["steward"], "subject-facts")
    for role in ("officer", "auditor"):
        assert "Birth month" not in pages[role] and "2013-05" not in pages[role]
        assert 'id="guardian-rule"' in pages[role]


@pytest.mark.parametrize("role", ["officer", "auditor"])
def test_officers_and_auditors_see_the_subject_without_the_forms(client_as, granted, role):
    page = client_as(role).get(f"/consent/subjects/{granted.key}/").content.decode()
    assert 'id="consent-state"' in page and "EV-GRANT-1" in page
    assert 'id="grant-form"' not in page and 'id="withdraw-form"' not in page and 'id="erase-link"' not in page


def test_the_withdrawal_form_is_no_longer_than_the_grant_form(client_as, granted):
    page = client_as("steward").get(f"/consent/subjects/{granted.key}/")
    assert form_fields(page, "grant-form") == ["purposes", "notice", "channel"]
    assert form_fields(page, "withdraw-form") == ["purposes", "channel"]
    assert 'id="erase-link"' in page.content.decode()


def test_each_render_of_the_forms_carries_a_fresh_event_id(client_as, granted):
    client = client_as("steward")
    first, second = (client.get(f"/consent/subjects/{granted.key}/") for _ in range(2))
    ids = {event_id_of(page, form) for page in (first, second) for form in ("grant-form", "withdraw-form")}
    assert len(ids) == 4


def test_the_withdrawal_form_starts_with_the_active_purposes_ticked(client_as, granted):
    form = element(client_as("steward").get(f"/consent/subjects/{granted.key}/"), "withdraw-form")
    ticked = re.findall(r'<input[^>]*value="(\w+)"[^>]*checked', form)
    assert ticked == ["evaluation"]


# Recording a grant and a withdrawal ------------------------------------------------------------


def test_a_steward_records_a_grant_and_a_withdrawal_and_sees_the_state_change(client_as, subject, notice):
    client = client_as("steward")
    url = f"/consent/subjects/{subject.key}/"
    assert states(client.get(url))["evaluation"] == "never granted"

    granted = client.post(
        url + "grant/",
        {"purposes": ["evaluation", "bias_audit"], "notice": notice.pk, "channel": "paper_form", "event_id": "G-1"},
        headers=HTMX,
    )
    assert granted.status_code == 200
    assert "<html" not in granted.content.decode()  # htmx swaps the panel in place
    assert states(granted) == {
        "training": "never granted", "evaluation": "active", "bias_audit": "active", "publication": "never granted",
    }  # fmt: skip
    assert "Grant recorded as event #1: evaluation, bias audit." in element(granted, "consent-result")

    withdrawn = client.post(url + "withdraw/", {"purposes": ["evaluation"], "channel": "email", "event_id": "W-1"})
    assert withdrawn.status_code == 302 and withdrawn["Location"] == url
    page = client.get(url)
    assert states(page)["evaluation"] == "withdrawn" and states(page)["bias_audit"] == "active"
    assert "Withdrawal recorded as event #2: evaluation." in page.content.decode()
    events = [
        (event.event_id, event.kind, event.channel, event.purpose_list)
        for event in ConsentEvent.objects.order_by("sequence")
    ]
    assert events == [
        ("G-1", "grant", "paper_form", [Purpose.EVALUATION, Purpose.BIAS_AUDIT]),
        ("W-1", "withdrawal", "email", [Purpose.EVALUATION]),
    ]


def test_the_panel_after_a_recorded_event_offers_forms_with_new_event_ids(client_as, subject, notice):
    data = {"purposes": ["evaluation"], "notice": notice.pk, "channel": "web_form", "event_id": "G-1"}
    panel = client_as("steward").post(f"/consent/subjects/{subject.key}/grant/", data, headers=HTMX)
    assert "G-1" not in {event_id_of(panel, "grant-form"), event_id_of(panel, "withdraw-form")}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_submitting_the_same_grant_form_twice_stores_one_event(client_as, subject, notice, headers):
    client = client_as("steward")
    form = client.get(f"/consent/subjects/{subject.key}/")
    data = {
        "purposes": ["evaluation"], "notice": notice.pk, "channel": "web_form",
        "event_id": event_id_of(form, "grant-form"),
    }  # fmt: skip
    first = client.post(f"/consent/subjects/{subject.key}/grant/", data, headers=headers, follow=True)
    second = client.post(f"/consent/subjects/{subject.key}/grant/", data, headers=headers, follow=True)
    assert first.status_code == second.status_code == 200
    assert ConsentEvent.objects.filter(subject=subject).count() == 1
    assert "Grant recorded as event #1: evaluation." in first.content.decode()
    assert "Grant already recorded as event #1: evaluation." in second.content.decode()


def test_submitting_the_same_withdrawal_form_twice_stores_one_event(client_as, granted):
    client = client_as("steward")
    data = {"purposes": ["evaluation"], "channel": "email", "event_id": "W-TWICE"}
    for _ in range(2):
        assert client.post(f"/consent/subjects/{granted.key}/withdraw/", data).status_code == 302
    assert ConsentEvent.objects.filter(kind="withdrawal").count() == 1


def test_a_rule_violation_shows_the_message_next_to_the_field_and_stores_nothing(client_as, subject, notice):
    data = {"purposes": ["publication"], "notice": notice.pk, "channel": "web_form", "event_id": "G-BAD"}
    for headers in ({}, HTMX):
        response = client_as("steward").post(f"/consent/subjects/{subject.key}/grant/", data, headers=headers)
        assert response.status_code == 200
        purposes = html.unescape(element(response, "grant-purposes-field"))
        assert "notice 1/en does not offer the purpose 'publication'" in purposes
        assert 'class="field-error"' in purposes
    assert ConsentEvent.objects.count() == 0


def test_withdrawing_a_purpose_never_granted_is_refused_next_to_the_purposes(client_as, granted):
    data = {"purposes": ["training"], "channel": "email", "event_id": "W-BAD"}
    response = client_as("steward").post(f"/consent/subjects/{granted.key}/withdraw/", data, headers=HTMX)
    assert "withdraws 'training', which was not granted before" in html.unescape(
        element(response, "withdraw-purposes-field")
    )
    assert ConsentEvent.objects.count() == 1


def test_a_form_without_a_channel_is_refused_on_the_channel(client_as, granted):
    data = {"purposes": ["evaluation"], "channel": "", "event_id": "W-NO-CHANNEL"}
    response = client_as("steward").post(f"/consent/subjects/{granted.key}/withdraw/", data)
    assert "This field is required." in element(response, "withdraw-channel-field")
    assert ConsentEvent.objects.count() == 1


def test_reusing_an_event_id_for_other_content_asks_to_reload(client_as, granted):
    data = {"purposes": ["evaluation"], "channel": "email", "event_id": "EV-GRANT-1"}
    response = client_as("steward").post(f"/consent/subjects/{granted.key}/withdraw/", data)
    assert "This form was already submitted with other content" in element(response, "withdraw-form")
    assert ConsentEvent.objects.count() == 1


def test_a_grant_for_a_minor_asks_for_the_guardian_and_records_them(client_as, make_subject, notice):
    from datetime import date

    child = make_subject("SUBJ-CHILD", jurisdiction="FR", birth_month=date(2020, 5, 1))
    client = client_as("steward")
    page = client.get(f"/consent/subjects/{child.key}/")
    assert form_fields(page, "grant-form") == ["purposes", "notice", "channel", "guardian_reference"]
    assert "a guardian's consent is required" in element(page, "guardian-rule")
    data = {"purposes": ["evaluation"], "notice": notice.pk, "channel": "paper_form", "event_id": "G-CHILD"}
    refused = client.post(f"/consent/subjects/{child.key}/grant/", data)
    assert "This field is required." in element(refused, "grant-guardian_reference-field")
    client.post(f"/consent/subjects/{child.key}/grant/", {**data, "guardian_reference": "GUARD-1"})
    assert GuardianConsent.objects.get().reference == "GUARD-1"


# Erasure -------------------------------------------------------------------------------------


def test_erasure_needs_the_reference_typed_to_confirm(client_as, granted):
    data = {"confirm_reference": "SUBJ-ADULTS", "channel": "email", "event_id": "E-1"}
    response = client_as("steward").post(f"/consent/subjects/{granted.key}/erase/", data)
    assert "Type the subject's reference exactly as shown" in html.unescape(
        element(response, "erase-confirm_reference-field")
    )
    granted.refresh_from_db()
    assert not granted.is_erased and ConsentEvent.objects.count() == 1


def test_a_steward_erases_a_subject_and_the_page_shows_it_without_forms(client_as, granted):
    client = client_as("steward")
    page = client.get(f"/consent/subjects/{granted.key}/erase/")
    assert 'id="erase-form"' in page.content.decode()
    data = {"confirm_reference": "SUBJ-ADULT", "channel": "email", "event_id": "E-1"}
    response = client.post(f"/consent/subjects/{granted.key}/erase/", data)
    assert response["Location"] == f"/consent/subjects/{granted.key}/"
    granted.refresh_from_db()
    assert granted.is_erased and granted.reference is None
    after = client.get(response["Location"])
    body = after.content.decode()
    assert set(states(after).values()) == {"erased"}
    assert "SUBJ-ADULT" not in body and 'id="grant-form"' not in body and 'id="erase-link"' not in body
    assert "Subject erased (event #2)" in body
    assert "already erased" in client.get(f"/consent/subjects/{granted.key}/erase/").content.decode()


# Imports -------------------------------------------------------------------------------------


def test_an_import_with_bad_rows_lists_each_rows_problem_and_writes_nothing(client_as, notice):
    before = written()
    response = client_as("steward").post("/consent/import/", {"file": upload(BAD_CONSENT_CSV)})
    assert response.status_code == 200
    problems = html.unescape(element(response, "import-problems"))
    assert "2 problems found" in problems and "no row was written" in problems
    rows = re.findall(r'<tr data-row="(\d+)">', problems)
    assert rows == ["2", "3"]
    assert "unknown channel 'carrier_pigeon'" in problems
    assert "'not a date' is not a date or an ISO 8601 timestamp" in problems
    assert written() == before and not Subject.objects.filter(reference__startswith="SUBJ-NEW").exists()


def test_a_file_that_cannot_be_read_is_reported_as_a_whole(client_as, db):
    client = client_as("steward")
    problems = element(client.post("/consent/import/", {"file": upload("event_id,subject\n")}), "import-problems")
    assert 'data-row="0"' in problems and "the file has a header but no rows" in problems
    response = client.post("/consent/import/", {"file": upload("a,b\n1,2\n", "events.xlsx")})
    assert "unsupported file type '.xlsx'; use .csv or .parquet" in html.unescape(element(response, "import-problems"))
    response = client.post("/consent/import/", {"file": upload("", "events.csv")})
    assert "The submitted file is empty." in element(response, "id_file-field")
    assert ImportBatch.objects.count() == 0


def test_an_import_says_how_many_rows_it_imported(client_as, notice):
    client = client_as("steward")
    response = client.post("/consent/import/", {"file": upload(CONSENT_CSV)})
    assert response["Location"] == "/consent/import/"
    page = client.get("/consent/import/").content.decode()
    assert "Imported 3 consent events from 3 rows of events.csv (0 already recorded, 2 new subjects)." in page
    assert ConsentEvent.objects.count() == 3
    again = client.post("/consent/import/", {"file": upload(CONSENT_CSV)}, follow=True).content.decode()
    assert "Imported 0 consent events from 3 rows of events.csv (3 already recorded, 0 new subjects)." in again
    assert ConsentEvent.objects.count() == 3


def test_an_items_import_with_bad_rows_lists_each_problem_and_writes_nothing(client_as, dataset, subject):
    response = client_as("steward").post(f"/consent/datasets/{dataset.pk}/import/", {"file": upload(BAD_ITEMS_CSV)})
    problems = html.unescape(element(response, "import-problems"))
    assert re.findall(r'<tr data-row="(\d+)">', problems) == ["2", "3", "3"]
    assert "no subject with reference 'SUBJ-NOBODY'" in problems
    assert "has no source named 'attic'" in problems and "'11' is not a value of 'skin_tone'" in problems
    assert DataItem.objects.count() == 0 and ImportBatch.objects.count() == 0


def test_an_items_import_says_how_many_items_it_imported(client_as, dataset, subject):
    client = client_as("steward")
    response = client.post(f"/consent/datasets/{dataset.pk}/import/", {"file": upload(ITEMS_CSV, "items.csv")})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Imported 1 items into faces v2026.1 from 1 rows of items.csv (0 already present)." in page
    assert DataItem.objects.get().item_ref == "web-1"


# The ledger check ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["steward", "officer", "auditor"])
def test_the_ledger_page_reports_an_intact_chain(client_as, granted, withdraw, role):
    withdraw(granted)
    result = element(client_as(role).get("/consent/ledger/"), "ledger-result")
    assert "The chain holds." in result and "2 consent events verified" in result


def test_the_ledger_page_names_the_first_broken_event(client_as, granted, grant, make_subject):
    grant(make_subject(), event_id="EV-GRANT-2")
    grant(make_subject(), event_id="EV-GRANT-3")
    tamper("channel", "email", sequence=2)
    page = client_as("auditor").get("/consent/ledger/")
    assert 'data-ok="false"' in page.content.decode()
    result = element(page, "ledger-break")
    assert "<dd>2</dd>" in result and "EV-GRANT-2" in result
    assert "its content does not match its stored hash" in result
    assert "The chain is broken at event #2." in element(page, "ledger-result")


# Datasets and provenance -----------------------------------------------------------------------


@pytest.fixture
def items(dataset, granted, make_subject, import_item_rows):
    """Three items: two of SUBJ-ADULT (consent for evaluation), one of a subject who never consented."""
    make_subject("SUBJ-NOCONSENT")
    import_item_rows(
        [
            item_row("SUBJ-ADULT", item_ref="a1", source="studio", skin_tone="2", sex="female"),
            item_row("SUBJ-ADULT", item_ref="a2", source="partner", skin_tone="5", sex="female"),
            item_row("SUBJ-NOCONSENT", item_ref="n1", source="scraped", skin_tone="9", sex="male"),
        ]
    )
    return dataset


def test_the_datasets_page_lists_each_dataset_with_its_counts(client_as, items):
    table = element(client_as("auditor").get("/consent/datasets/"), "datasets")
    assert f'href="/consent/datasets/{items.pk}/"' in table
    assert re.findall(r'<td class="num">(\d+)</td>', table) == ["3", "3"]  # sources, items


def test_the_datasets_page_says_what_to_do_when_there_are_none(client_as, db):
    assert "No datasets yet." in client_as("steward").get("/consent/datasets/").content.decode()


def test_the_dataset_page_shows_sources_licences_and_consent_coverage(client_as, items):
    page = client_as("auditor").get(f"/consent/datasets/{items.pk}/")
    assert MOTIVATION in element(page, "datasheet")
    sources = element(page, "sources")
    for shown in ("studio collection", "CC-BY-4.0", "NOASSERTION", "Disputed", "2024-01-01 – ongoing"):
        assert shown in sources
    licences = re.findall(
        r"<code>([\w.-]+)</code></td>\s*<td><span class=\"copyright copyright-(\w+)\"", element(page, "licences")
    )
    assert sorted(licences) == [("CC-BY-4.0", "licensed"), ("NOASSERTION", "disputed"), ("NOASSERTION", "owned")]
    coverage = element(page, "consent-coverage")
    assert "66.7%" in coverage and "of 3 items" in coverage
    counts = dict(re.findall(r'data-status="([a-z ]+)">.*?<td class="num">(\d+)</td>', coverage, re.S))
    assert counts == {"active": "2", "withdrawn": "0", "expired": "0", "erased": "0", "never granted": "1"}


def test_coverage_drops_when_consent_is_withdrawn(client_as, items, granted, withdraw):
    withdraw(granted, purposes=["evaluation"])
    coverage = element(client_as("steward").get(f"/consent/datasets/{items.pk}/"), "consent-coverage")
    assert "0.0%" in coverage


@pytest.mark.parametrize("role", ["steward", "officer"])
def test_roles_with_protected_attribute_access_see_items_per_stratum(client_as, items, role):
    page = client_as(role).get(f"/consent/datasets/{items.pk}/")
    skin_tone = element(page, "stratum-skin_tone")
    assert re.findall(r"<tr><td>(\w+)</td><td class=\"num\">(\d+)</td>", skin_tone) == [
        (str(value), "1" if value in (2, 5, 9) else "0") for value in range(1, 11)
    ]
    bands = element(page, "banding-skin_tone-monk_3")
    assert re.findall(r"<tr><td>(\w+)</td><td class=\"num\">(\d+)</td>", bands) == [
        ("light", "1"), ("medium", "1"), ("dark", "1"),
    ]  # fmt: skip
    joint = element(page, "joint-strata")
    assert re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td class=\"num\">(\d+)</td>", joint) == [
        ("female", "2", "1"), ("female", "5", "1"), ("male", "9", "1"),
    ]  # fmt: skip
    assert re.findall(r"<th>(\w+)</th>", joint) == ["sex", "skin_tone"]


def test_an_auditor_sees_the_dataset_without_protected_attribute_breakdowns(client_as, items):
    page = client_as("auditor").get(f"/consent/datasets/{items.pk}/")
    strata = element(page, "strata")
    assert "shown only to roles allowed to read protected attributes" in strata
    assert "female" not in page.content.decode() and 'id="joint-strata"' not in strata


def test_only_the_steward_is_offered_the_items_import(client_as, items):
    assert 'id="import-items-link"' in client_as("steward").get(f"/consent/datasets/{items.pk}/").content.decode()
    assert 'id="import-items-link"' not in client_as("officer").get(f"/consent/datasets/{items.pk}/").content.decode()
