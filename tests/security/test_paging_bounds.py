"""Paging parameters are bounded: out of range is a 422 naming the parameter, never a 500 (issue 13, part 7)."""

import pytest

pytestmark = pytest.mark.django_db

HUGE = "17336384803193792512"  # the offset, past any 64-bit integer
LIMIT_OFFSET_LISTS = [("officer", "/api/v1/audit/runs"), ("officer", "/api/v1/scoring/evaluation-sets")]
PAGE_NUMBER_LISTS = [("steward", "/api/v1/consent/items")]


def every_list():
    for role, path in LIMIT_OFFSET_LISTS:
        for field, value in [("offset", HUGE), ("offset", "-1"), ("limit", HUGE), ("limit", "0"), ("limit", "-5"),
                             ("limit", "2147483648"), ("offset", "2147483648")]:  # fmt: skip
            yield pytest.param(role, path, field, value, id=f"{path}?{field}={value}")
    for role, path in PAGE_NUMBER_LISTS:
        for field, value in [("page", HUGE), ("page", "0"), ("page", "-1"), ("page", "21474837"),
                             ("page_size", HUGE), ("page_size", "0")]:  # fmt: skip
            yield pytest.param(role, path, field, value, id=f"{path}?{field}={value}")


@pytest.mark.parametrize(("role", "path", "field", "value"), list(every_list()))
def test_it_refuses_a_paging_parameter_out_of_bounds_with_422_naming_it(api_as, role, path, field, value):
    answer = api_as(role).get(f"{path}?{field}={value}")
    assert answer.status_code == 422, answer.content
    assert answer.json()["field"] == field


@pytest.mark.parametrize(("role", "path"), LIMIT_OFFSET_LISTS)
def test_the_largest_allowed_values_still_answer_with_at_most_a_page(api_as, role, path):
    answer = api_as(role).get(f"{path}?limit=2147483647&offset=2147483647")
    assert answer.status_code == 200
    assert answer.json()["items"] == []


def test_the_largest_page_number_still_answers(api_as):
    answer = api_as("steward").get("/api/v1/consent/items?page=21474836&page_size=2147483647")
    assert answer.status_code == 200 and answer.json()["items"] == []


def test_every_paged_list_declares_its_bounds_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    paged = {path: [p for p in spec["get"]["parameters"] if p["name"] in {"limit", "offset", "page", "page_size"}]
             for path, spec in paths.items() if "get" in spec}  # fmt: skip
    paged = {path: params for path, params in paged.items() if params}
    assert set(paged) == {path for _, path in LIMIT_OFFSET_LISTS + PAGE_NUMBER_LISTS}
    for path, params in paged.items():
        for param in params:
            schema = param["schema"]
            if "anyOf" in schema:
                schema = next(s for s in schema["anyOf"] if s.get("type") == "integer")
            assert "maximum" in schema and "minimum" in schema, (path, param)
