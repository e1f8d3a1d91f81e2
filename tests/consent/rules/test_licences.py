import pytest

from consent.rules.licences import UNKNOWN_LICENCE, normalise_licence


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("CC-BY-4.0", "CC-BY-4.0"),
        ("cc-by-4.0", "CC-BY-4.0"),
        (" MIT ", "MIT"),
        ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
        ("CC-BY-SA-4.0 AND MIT", "CC-BY-SA-4.0 AND MIT"),
        ("noassertion", "NOASSERTION"),
        ("none", "NONE"),
        ("LicenseRef-partner-agreement-2024", "LicenseRef-partner-agreement-2024"),
    ],
)
def test_it_normalises_spdx_identifiers_and_expressions(given, normalised):
    assert normalise_licence(given) == normalised


def test_it_refuses_an_unknown_licence():
    with pytest.raises(ValueError) as refused:
        normalise_licence("Do-What-You-Like-9")
    assert str(refused.value).startswith(UNKNOWN_LICENCE.format(value="Do-What-You-Like-9", reason="")[:-1])


def test_it_refuses_an_empty_licence():
    with pytest.raises(ValueError) as refused:
        normalise_licence("  ")
    assert str(refused.value) == UNKNOWN_LICENCE.format(value="  ", reason="it is empty")


def test_it_refuses_a_broken_expression():
    with pytest.raises(ValueError, match="is not an SPDX licence identifier or expression"):
        normalise_licence("MIT OR")
