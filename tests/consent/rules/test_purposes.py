import pytest

from consent.rules.purposes import (
    ALL_PURPOSES_MASK,
    UNKNOWN_PURPOSE,
    Purpose,
    mask_of,
    parse_purposes,
    purpose_values_of,
    purposes_of,
)

KNOWN = "training, evaluation, bias_audit, publication"


def test_it_offers_the_four_purposes():
    assert [p.value for p in Purpose] == ["training", "evaluation", "bias_audit", "publication"]


def test_each_purpose_has_its_own_bit():
    bits = [p.bit for p in Purpose]
    assert bits == [1, 2, 4, 8]
    assert ALL_PURPOSES_MASK == 15


def test_it_labels_purposes_for_people():
    assert Purpose.BIAS_AUDIT.label == "Bias audit"
    assert Purpose.EVALUATION.label == "Evaluation"


def test_masks_round_trip():
    for mask in range(ALL_PURPOSES_MASK + 1):
        assert mask_of(purposes_of(mask)) == mask
        assert mask_of(purpose_values_of(mask)) == mask


def test_it_lists_the_purposes_of_a_mask_in_canonical_order():
    assert purposes_of(Purpose.PUBLICATION.bit | Purpose.TRAINING.bit) == [Purpose.TRAINING, Purpose.PUBLICATION]
    assert purpose_values_of(ALL_PURPOSES_MASK) == ["training", "evaluation", "bias_audit", "publication"]
    assert purposes_of(0) == []


def test_it_parses_in_canonical_order_without_duplicates():
    assert parse_purposes([" Bias_Audit", "evaluation", "evaluation", ""]) == [Purpose.EVALUATION, Purpose.BIAS_AUDIT]


def test_it_parses_nothing_into_no_purposes():
    assert parse_purposes([]) == []
    assert parse_purposes(["", "  "]) == []


def test_it_refuses_an_unknown_purpose_naming_the_known_ones():
    with pytest.raises(ValueError) as refused:
        parse_purposes(["evaluation", "marketing"])
    assert str(refused.value) == UNKNOWN_PURPOSE.format(value="marketing", known=KNOWN)


def test_a_mask_of_an_unknown_purpose_is_refused():
    with pytest.raises(ValueError) as refused:
        mask_of(["marketing"])
    assert str(refused.value) == UNKNOWN_PURPOSE.format(value="marketing", known=KNOWN)


def test_a_mask_accepts_purposes_and_their_names_alike():
    assert mask_of([Purpose.EVALUATION, "bias_audit"]) == Purpose.EVALUATION.bit | Purpose.BIAS_AUDIT.bit
