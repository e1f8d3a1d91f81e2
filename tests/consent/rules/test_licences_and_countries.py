import pytest

from consent.rules.countries import normalise_country
from consent.rules.licences import normalise_licence


def test_it_normalises_spdx_identifiers_and_expressions():
    assert normalise_licence("cc-by-4.0") == "CC-BY-4.0"
    assert normalise_licence("MIT OR Apache-2.0") == "MIT OR Apache-2.0"
    assert normalise_licence("noassertion") == "NOASSERTION"
    assert normalise_licence("LicenseRef-partner-agreement-2024") == "LicenseRef-partner-agreement-2024"


def test_it_refuses_an_unknown_licence():
    with pytest.raises(ValueError, match="not an SPDX licence"):
        normalise_licence("Do-What-You-Like-9")


def test_it_normalises_country_codes():
    assert normalise_country(" fr ") == "FR"


def test_it_refuses_an_unknown_country():
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        normalise_country("XX")
