import pytest

from consent.rules.attribute_schema import AttributeSchema, SchemaError

MONK = [str(v) for v in range(1, 11)]
MONK_3 = {"light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"], "dark": ["8", "9", "10"]}
SCHEMA = {
    "skin_tone": {"label": "Monk skin tone scale", "values": MONK, "ordinal": True, "bandings": {"monk_3": MONK_3}},
    "sex": {"values": ["female", "male"]},
    "age_band": {"values": ["18-29", "30-44", "45+"], "ordinal": True, "required": False},
}


def skin_tone_with(bands, *, ordinal=True, values=("1", "2", "3")):
    return {"skin_tone": {"values": list(values), "ordinal": ordinal, "bandings": {"b": bands}}}


def refusal(definition) -> str:
    with pytest.raises(SchemaError) as refused:
        AttributeSchema.from_json(definition)
    return str(refused.value)


def test_it_reads_a_schema_with_an_ordinal_banding():
    skin = AttributeSchema.from_json(SCHEMA).attributes["skin_tone"]
    assert skin.ordinal
    assert skin.label == "Monk skin tone scale"
    assert skin.values == tuple(MONK)
    assert skin.band_of("monk_3", "3") == "light"
    assert skin.band_of("monk_3", "4") == "medium"
    assert skin.band_of("monk_3", "10") == "dark"


def test_it_takes_numeric_values_as_strings():
    schema = AttributeSchema.from_json({"skin_tone": {"values": list(range(1, 4)), "ordinal": True}})
    assert schema.attributes["skin_tone"].values == ("1", "2", "3")


def test_bands_follow_the_scale_whatever_order_the_json_has():
    bands = {"dark": ["8", "9", "10"], "light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"]}
    schema = AttributeSchema.from_json({"skin_tone": {"values": MONK, "ordinal": True, "bandings": {"m": bands}}})
    assert list(schema.attributes["skin_tone"].bandings["m"]) == ["light", "medium", "dark"]


def test_it_refuses_a_banding_that_misses_a_value():
    assert refusal(skin_tone_with({"x": ["1"], "y": ["2"]})) == (
        "attribute 'skin_tone', banding 'b': every value must be in exactly one band "
        "(missing ['3'], unknown [], in several bands [])"
    )


def test_it_refuses_a_banding_with_a_value_outside_the_scale():
    assert refusal(skin_tone_with({"x": ["1", "2"], "y": ["3", "4"]})) == (
        "attribute 'skin_tone', banding 'b': every value must be in exactly one band "
        "(missing [], unknown ['4'], in several bands [])"
    )


def test_it_refuses_a_value_in_two_bands():
    assert refusal(skin_tone_with({"x": ["1", "2"], "y": ["2", "3"]})) == (
        "attribute 'skin_tone', banding 'b': every value must be in exactly one band "
        "(missing [], unknown [], in several bands ['2'])"
    )


def test_it_refuses_ordinal_bands_that_are_not_contiguous():
    assert refusal(skin_tone_with({"x": ["1", "3"], "y": ["2"]})) == (
        "attribute 'skin_tone', banding 'b': band 'x' must cover a contiguous run of the scale"
    )


def test_it_allows_any_grouping_of_an_unordered_attribute():
    schema = AttributeSchema.from_json(skin_tone_with({"x": ["1", "3"], "y": ["2"]}, ordinal=False))
    assert schema.attributes["skin_tone"].band_of("b", "3") == "x"


def test_it_refuses_a_banding_of_one_band():
    assert "a banding maps at least two band names" in refusal(skin_tone_with({"all": ["1", "2", "3"]}))


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({}, "an attribute schema is a non-empty JSON object of attributes"),
        ([{"values": ["a", "b"]}], "an attribute schema is a non-empty JSON object of attributes"),
        ({"Skin Tone": {"values": ["a", "b"]}}, "attribute name 'Skin Tone' must use lowercase letters, digits and underscores"),
        ({"sex": ["female", "male"]}, "attribute 'sex': its definition must be an object"),
        ({"sex": {"values": ["female"]}}, "attribute 'sex': 'values' must list at least two values"),
        ({"sex": {"values": ["female", "female"]}}, "attribute 'sex': 'values' has duplicates"),
        ({"sex": {"values": ["a", "b"], "ordinal": "yes"}}, "attribute 'sex': 'ordinal' must be true or false"),
        ({"sex": {"values": ["a", "b"], "colour": "red"}}, "attribute 'sex': unknown keys ['colour']"),
    ],
)  # fmt: skip
def test_it_refuses_a_malformed_schema(definition, message):
    assert refusal(definition) == message


def test_it_cleans_valid_attributes():
    schema = AttributeSchema.from_json(SCHEMA)
    cleaned, problems = schema.validate({"skin_tone": 7.0, "sex": " female ", "age_band": "45+"})
    assert problems == []
    assert cleaned == {"skin_tone": "7", "sex": "female", "age_band": "45+"}


def test_an_optional_attribute_may_be_missing():
    schema = AttributeSchema.from_json(SCHEMA)
    cleaned, problems = schema.validate({"skin_tone": "7", "sex": "male", "age_band": ""})
    assert problems == []
    assert cleaned == {"skin_tone": "7", "sex": "male"}


def test_it_reports_a_missing_attribute():
    _, problems = AttributeSchema.from_json(SCHEMA).validate({"skin_tone": "7"})
    assert problems == [("sex", "attribute 'sex' is missing")]


def test_it_reports_an_empty_value_as_missing():
    _, problems = AttributeSchema.from_json(SCHEMA).validate({"skin_tone": "7", "sex": None})
    assert problems == [("sex", "attribute 'sex' is missing")]


def test_it_reports_an_attribute_that_is_not_in_the_schema():
    _, problems = AttributeSchema.from_json(SCHEMA).validate({"skin_tone": "7", "sex": "male", "religion": "none"})
    assert problems == [("religion", "attribute 'religion' is not in the schema")]


def test_it_reports_a_value_outside_the_schema_with_the_allowed_values():
    _, problems = AttributeSchema.from_json(SCHEMA).validate({"skin_tone": "11", "sex": "male"})
    assert problems == [("skin_tone", "'11' is not a value of 'skin_tone' (allowed: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)")]


def test_it_reports_every_problem_of_an_item():
    cleaned, problems = AttributeSchema.from_json(SCHEMA).validate({"skin_tone": "11", "religion": "x"})
    assert [field for field, _ in problems] == ["religion", "skin_tone", "sex"]
    assert cleaned == {}
