"""Jurisdictions are ISO 3166-1 alpha-2 country codes."""

import pycountry

UNKNOWN_COUNTRY = "unknown country {value!r}; use an ISO 3166-1 alpha-2 code such as FR or DE"

_ALPHA_2 = frozenset(country.alpha_2 for country in pycountry.countries)


def normalise_country(value: str) -> str:
    code = str(value).strip().upper()
    if code not in _ALPHA_2:
        raise ValueError(UNKNOWN_COUNTRY.format(value=value))
    return code
