"""The age of digital consent (GDPR Art. 8) per member state, as versioned tables.

Below this age, consent to processing must be given or authorised by a holder of parental
responsibility. Art. 8(1) sets 16 and lets each state lower it to no less than 13. A table
is never edited once published: a change in national law is a new version, and each consent
event records the version that was applied to it.
"""

import calendar
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

GDPR_DEFAULT_AGE = 16


@dataclass(frozen=True)
class AgeOfConsentTable:
    version: str
    source: str
    ages: dict[str, int]

    def age_for(self, country: str) -> int:
        """The age of digital consent for a jurisdiction; 16 where the state set none."""
        return self.ages.get(country, GDPR_DEFAULT_AGE)


EU_2024 = AgeOfConsentTable(
    version="eu-2024.1",
    source=(
        "National implementations of GDPR Art. 8(1) in the EU and EEA as of 2024; "
        "states not listed apply the default of 16."
    ),
    ages={
        "AT": 14, "BE": 13, "BG": 14, "CY": 14, "CZ": 15, "DE": 16, "DK": 13, "EE": 13,
        "ES": 14, "FI": 13, "FR": 15, "GR": 15, "HR": 16, "HU": 16, "IE": 16, "IT": 14,
        "LT": 14, "LU": 16, "LV": 13, "MT": 13, "NL": 16, "PL": 16, "PT": 13, "RO": 16,
        "SE": 13, "SI": 15, "SK": 16,
        # EEA states that apply the GDPR.
        "IS": 13, "LI": 16, "NO": 13,
    },
)  # fmt: skip

TABLES = {table.version: table for table in (EU_2024,)}
CURRENT = EU_2024


def youngest_age_at(birth: date, on: date) -> int:
    """Completed years at `on` for someone born in `birth`'s month, assuming the latest possible birthday.

    Only the birth year and month are stored, so the person could have been born on any day
    of that month; deciding on the youngest age they could be never lets a minor through.
    """
    years = on.year - birth.year
    if on.month < birth.month or on.month == birth.month and on.day < calendar.monthrange(birth.year, birth.month)[1]:
        years -= 1
    return years


class GuardianRequirement(NamedTuple):
    required: bool
    age: int
    age_of_consent: int
    country: str
    table_version: str

    def explain(self) -> str:
        return (
            f"the subject was at most {self.age} when consent was collected, below the age of "
            f"digital consent of {self.age_of_consent} in {self.country} (table {self.table_version}, "
            "GDPR Art. 8), so a guardian's consent is required"
        )


def guardian_requirement(*, country: str, birth: date, collected_on: date, table=CURRENT) -> GuardianRequirement:
    age = youngest_age_at(birth, collected_on)
    threshold = table.age_for(country)
    return GuardianRequirement(
        required=age < threshold,
        age=age,
        age_of_consent=threshold,
        country=country,
        table_version=table.version,
    )
