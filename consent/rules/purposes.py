"""Processing purposes a subject can consent to, and their bit encoding.

The ledger stores the purposes of each event as a bit mask as well as a list, so that the
bulk "is consent active" query can filter with one integer AND on any database.
"""

from enum import StrEnum


class Purpose(StrEnum):
    TRAINING = "training"
    EVALUATION = "evaluation"
    BIAS_AUDIT = "bias_audit"
    PUBLICATION = "publication"

    @property
    def bit(self) -> int:
        return _BITS[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


_BITS = {purpose: 1 << position for position, purpose in enumerate(Purpose)}
ALL_PURPOSES_MASK = sum(_BITS.values())

UNKNOWN_PURPOSE = "unknown purpose {value!r}; known purposes are {known}"


def parse_purposes(values) -> list[Purpose]:
    """Purposes from strings, deduplicated and in canonical order; raises ValueError on an unknown one."""
    found = set()
    for raw in values:
        value = str(raw).strip().lower()
        if not value:
            continue
        try:
            found.add(Purpose(value))
        except ValueError:
            known = ", ".join(p.value for p in Purpose)
            raise ValueError(UNKNOWN_PURPOSE.format(value=raw, known=known)) from None
    return [p for p in Purpose if p in found]


def mask_of(purposes) -> int:
    mask = 0
    for purpose in purposes:
        try:
            mask |= _BITS[purpose]  # a Purpose and its string value hash alike
        except KeyError:
            known = ", ".join(p.value for p in Purpose)
            raise ValueError(UNKNOWN_PURPOSE.format(value=purpose, known=known)) from None
    return mask


def purposes_of(mask: int) -> list[Purpose]:
    return list(_PURPOSES_OF[mask])


def purpose_values_of(mask: int) -> list[str]:
    """The purposes in `mask` as strings, in canonical order."""
    return list(_VALUES_OF[mask])


_PURPOSES_OF = [tuple(p for p in Purpose if mask & _BITS[p]) for mask in range(ALL_PURPOSES_MASK + 1)]
_VALUES_OF = [tuple(p.value for p in purposes) for purposes in _PURPOSES_OF]
