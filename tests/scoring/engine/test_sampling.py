import pandas as pd
import pytest

from scoring.engine.sampling import Allocation, draw, stratum_labels


def eligible():
    rows = [
        {"item_id": i, "band": "dark" if i % 10 == 0 else "light", "sex": "f" if i % 2 else "m"} for i in range(1, 201)
    ]
    frame = pd.DataFrame(rows)
    return frame, stratum_labels(frame, ["band", "sex"])


def test_it_draws_the_target_per_stratum_capped_by_what_is_eligible():
    frame, strata = eligible()
    drawn = draw(frame, stratum=strata, allocation=Allocation(per_stratum=30), seed=1)
    counts = drawn["stratum"].value_counts().to_dict()
    assert counts == {"dark | m": 20, "light | f": 30, "light | m": 30}


def test_the_same_seed_draws_the_same_items_whatever_the_row_order():
    frame, strata = eligible()
    first = draw(frame, stratum=strata, allocation=Allocation(per_stratum=10), seed=3)
    shuffled = frame.sample(frac=1, random_state=9)
    second = draw(
        shuffled, stratum=stratum_labels(shuffled, ["band", "sex"]), allocation=Allocation(per_stratum=10), seed=3
    )
    assert sorted(first["item_id"]) == sorted(second["item_id"])
    other = draw(frame, stratum=strata, allocation=Allocation(per_stratum=10), seed=4)
    assert sorted(first["item_id"]) != sorted(other["item_id"])


def test_proportional_allocation_keeps_a_minimum_per_stratum():
    frame, strata = eligible()
    drawn = draw(frame, stratum=strata, allocation=Allocation(total=40, minimum=15), seed=1)
    counts = drawn["stratum"].value_counts().to_dict()
    assert counts["dark | m"] == 15
    assert counts["light | f"] == 20


def test_an_allocation_needs_exactly_one_rule():
    with pytest.raises(ValueError, match="give one of"):
        Allocation(per_stratum=3, total=10)
    with pytest.raises(ValueError, match="give one of"):
        Allocation()
