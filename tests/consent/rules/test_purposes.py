import pytest

from consent.rules.purposes import (
    ALL_PURPOSES_MASK,
    Purpose,
    mask_of,
    parse_purposes,
    purpose_values_of,
    purposes_of,
)


def test_it_offers_the_four_purposes():
    assert {p.value for p in Purpose} == {"training", "evaluation", "bias_audit", "publication"}


def test_masks_round_trip():
    for mask in range(ALL_PURPOSES_MASK + 1):
        assert mask_of(purposes_of(mask)) == mask
        assert mask_of(purpose_values_of(mask)) == mask


def test_it_parses_in_canonical_order_without_duplicates():
    assert parse_purposes([" Bias_Audit", "evaluation", "evaluation", ""]) == [Purpose.EVALUATION, Purpose.BIAS_AUDIT]


def test_it_refuses_an_unknown_purpose():
    with pytest.raises(ValueError, match="unknown purpose 'marketing'"):
        parse_purposes(["marketing"])
    with pytest.raises(ValueError, match="unknown purpose"):
        mask_of(["marketing"])
