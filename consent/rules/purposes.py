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
        return 1 << list(Purpose).index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


ALL_PURPOSES_MASK = sum(p.bit for p in Purpose)

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
    return sum(Purpose(p).bit for p in set(purposes))


def purposes_of(mask: int) -> list[Purpose]:
    return [p for p in Purpose if mask & p.bit]
