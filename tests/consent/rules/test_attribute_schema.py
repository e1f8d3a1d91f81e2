import pytest

from consent.rules.attribute_schema import AttributeSchema, SchemaError
from tests.conftest import MONK_SCHEMA


def test_it_reads_a_schema_with_an_ordinal_banding():
    schema = AttributeSchema.from_json(MONK_SCHEMA)
    skin = schema.attributes["skin_tone"]
    assert skin.ordinal
    assert skin.band_of("monk_3", "9") == "dark"
    assert skin.band_of("monk_3", "4") == "medium"


def test_it_refuses_a_banding_that_misses_a_value():
    definition = {
        "skin_tone": {"values": ["1", "2", "3"], "ordinal": True, "bandings": {"b": {"x": ["1"], "y": ["2"]}}}
    }
    with pytest.raises(SchemaError, match=r"missing \['3'\]"):
        AttributeSchema.from_json(definition)


def test_it_refuses_ordinal_bands_that_are_not_contiguous():
    definition = {
        "skin_tone": {"values": ["1", "2", "3"], "ordinal": True, "bandings": {"b": {"x": ["1", "3"], "y": ["2"]}}}
    }
    with pytest.raises(SchemaError, match="contiguous"):
        AttributeSchema.from_json(definition)


def test_it_refuses_an_attribute_with_one_value():
    with pytest.raises(SchemaError, match="at least two values"):
        AttributeSchema.from_json({"sex": {"values": ["female"]}})


def test_it_validates_item_attributes():
    schema = AttributeSchema.from_json(MONK_SCHEMA)
    cleaned, problems = schema.validate({"skin_tone": 7.0, "sex": "female"})
    assert cleaned == {"skin_tone": "7", "sex": "female"}
    assert problems == []


def test_it_reports_values_outside_the_schema_missing_and_unknown_attributes():
    schema = AttributeSchema.from_json(MONK_SCHEMA)
    _, problems = schema.validate({"skin_tone": "11", "religion": "x"})
    fields = [field for field, _ in problems]
    assert fields == ["religion", "skin_tone", "sex"]
    assert "'11' is not a value of 'skin_tone'" in problems[1][1]
    assert "missing" in problems[2][1]


def test_bands_follow_the_scale_whatever_order_the_json_has():
    bands = {"dark": ["8", "9", "10"], "light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"]}
    definition = {"skin_tone": {"values": [str(v) for v in range(1, 11)], "ordinal": True, "bandings": {"monk_3": bands}}}
    schema = AttributeSchema.from_json(definition)
    assert list(schema.attributes["skin_tone"].bandings["monk_3"]) == ["light", "medium", "dark"]
