import pytest

from consent.rules.age_of_consent import CURRENT
from consent.rules.countries import UNKNOWN_COUNTRY, normalise_country


def test_it_normalises_country_codes():
    assert normalise_country(" fr ") == "FR"
    assert normalise_country("IE") == "IE"


@pytest.mark.parametrize("value", ["XX", "FRA", "France", "", "UK"])
def test_it_refuses_what_is_not_an_alpha_2_code(value):
    with pytest.raises(ValueError) as refused:
        normalise_country(value)
    assert str(refused.value) == UNKNOWN_COUNTRY.format(value=value)


def test_every_state_in_the_age_table_is_a_known_country():
    assert [code for code in CURRENT.ages if normalise_country(code) != code] == []
