"""Source licences are SPDX licence identifiers or expressions (e.g. CC-BY-4.0, MIT OR Apache-2.0)."""

import re
from functools import cache

from license_expression import ExpressionError, get_spdx_licensing

UNKNOWN_LICENCE = "{value!r} is not an SPDX licence identifier or expression: {reason}"

# Material with no licence at all is recorded explicitly rather than left blank.
SPECIAL_IDS = frozenset({"NOASSERTION", "NONE"})
# SPDX's way to name a licence outside its list, e.g. a bespoke data-sharing agreement.
_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")


@cache
def _licensing():
    return get_spdx_licensing()


def normalise_licence(value: str) -> str:
    text = str(value).strip()
    if text.upper() in SPECIAL_IDS:
        return text.upper()
    if _LICENSE_REF.fullmatch(text):
        return text
    if not text:
        raise ValueError(UNKNOWN_LICENCE.format(value=value, reason="it is empty"))
    try:
        info = _licensing().validate(text, strict=True)
    except ExpressionError as exc:
        raise ValueError(UNKNOWN_LICENCE.format(value=value, reason=exc)) from None
    except (AttributeError, TypeError):  # the parser fails this way on some malformed expressions
        raise ValueError(UNKNOWN_LICENCE.format(value=value, reason="the expression is malformed")) from None
    if info.errors:
        raise ValueError(UNKNOWN_LICENCE.format(value=value, reason="; ".join(info.errors)))
    return info.normalized_expression
