"""Protected-attribute schemas: which attributes an item may carry, their values, and bandings.

A schema is plain JSON, for example::

    {
      "skin_tone": {
        "label": "Monk skin tone scale",
        "values": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
        "ordinal": true,
        "bandings": {
          "monk_3": {"light": ["1", "2", "3"], "medium": ["4", "5", "6", "7"], "dark": ["8", "9", "10"]}
        }
      },
      "sex": {"values": ["female", "male", "intersex"], "ordinal": false}
    }

Values are strings; for an ordinal attribute the order of `values` is the order of the scale.
A banding maps every value to exactly one named band, and bands of an ordinal attribute
cover contiguous runs of the scale, so that banded groups keep their order.
"""

from dataclasses import dataclass, field

ATTRIBUTE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class SchemaError(ValueError):
    pass


@dataclass(frozen=True)
class Attribute:
    name: str
    values: tuple[str, ...]
    ordinal: bool
    label: str = ""
    required: bool = True
    bandings: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def band_of(self, banding: str, value: str) -> str:
        for band, members in self.bandings[banding].items():
            if value in members:
                return band
        raise KeyError(value)


@dataclass(frozen=True)
class AttributeSchema:
    attributes: dict[str, Attribute]

    @classmethod
    def from_json(cls, definition) -> "AttributeSchema":
        if not isinstance(definition, dict) or not definition:
            raise SchemaError("an attribute schema is a non-empty JSON object of attributes")
        attributes = {}
        for name, spec in definition.items():
            attributes[name] = _parse_attribute(name, spec)
        return cls(attributes=attributes)

    def validate(self, values: dict) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """Clean an item's attributes; returns (cleaned, [(attribute, problem), ...])."""
        cleaned: dict[str, str] = {}
        problems: list[tuple[str, str]] = []
        for name in values:
            if name not in self.attributes:
                problems.append((name, f"attribute {name!r} is not in the schema"))
        for name, attribute in self.attributes.items():
            raw = values.get(name)
            text = "" if raw is None else _as_text(raw)
            if text == "":
                if attribute.required:
                    problems.append((name, f"attribute {name!r} is missing"))
                continue
            if text not in attribute.values:
                allowed = ", ".join(attribute.values)
                problems.append((name, f"{text!r} is not a value of {name!r} (allowed: {allowed})"))
                continue
            cleaned[name] = text
        return cleaned, problems


def _as_text(raw) -> str:
    # Parquet and pandas turn "7" into 7 or 7.0; the schema's values are strings.
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def _parse_attribute(name, spec) -> Attribute:
    if not isinstance(name, str) or not name or not set(name) <= ATTRIBUTE_NAME_CHARS:
        raise SchemaError(f"attribute name {name!r} must use lowercase letters, digits and underscores")
    if not isinstance(spec, dict):
        raise SchemaError(f"attribute {name!r}: its definition must be an object")
    unknown = set(spec) - {"values", "ordinal", "label", "required", "bandings"}
    if unknown:
        raise SchemaError(f"attribute {name!r}: unknown keys {sorted(unknown)}")
    values = spec.get("values")
    if not isinstance(values, list) or len(values) < 2:
        raise SchemaError(f"attribute {name!r}: 'values' must list at least two values")
    values = tuple(_as_text(v) for v in values)
    if len(set(values)) != len(values):
        raise SchemaError(f"attribute {name!r}: 'values' has duplicates")
    ordinal = spec.get("ordinal", False)
    if not isinstance(ordinal, bool):
        raise SchemaError(f"attribute {name!r}: 'ordinal' must be true or false")
    bandings = {}
    for banding_name, bands in (spec.get("bandings") or {}).items():
        bandings[banding_name] = _parse_banding(name, banding_name, bands, values, ordinal)
    return Attribute(
        name=name,
        values=values,
        ordinal=ordinal,
        label=str(spec.get("label", "")),
        required=bool(spec.get("required", True)),
        bandings=bandings,
    )


def _parse_banding(attribute, banding, bands, values, ordinal):
    where = f"attribute {attribute!r}, banding {banding!r}"
    if not isinstance(bands, dict) or len(bands) < 2:
        raise SchemaError(f"{where}: a banding maps at least two band names to lists of values")
    parsed = {band: tuple(_as_text(v) for v in members) for band, members in bands.items()}
    covered = [v for members in parsed.values() for v in members]
    if sorted(covered) != sorted(values):
        missing = sorted(set(values) - set(covered))
        extra = sorted(set(covered) - set(values))
        twice = sorted({v for v in covered if covered.count(v) > 1})
        raise SchemaError(
            f"{where}: every value must be in exactly one band "
            f"(missing {missing}, unknown {extra}, in several bands {twice})"
        )
    position = {v: i for i, v in enumerate(values)}
    # Bands follow the scale, whatever order the JSON object had (PostgreSQL's jsonb reorders keys).
    parsed = dict(sorted(parsed.items(), key=lambda band: min(position[v] for v in band[1])))
    if ordinal:
        for band, members in parsed.items():
            indices = sorted(position[v] for v in members)
            if indices != list(range(indices[0], indices[0] + len(indices))):
                raise SchemaError(f"{where}: band {band!r} must cover a contiguous run of the scale")
    return parsed
