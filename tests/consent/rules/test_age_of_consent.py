import dataclasses
from datetime import date

import pytest

from consent.rules.age_of_consent import (
    CURRENT,
    EU_2024,
    GDPR_DEFAULT_AGE,
    TABLES,
    AgeOfConsentTable,
    GuardianRequirement,
    guardian_requirement,
    youngest_age_at,
)

EU_MEMBER_STATES = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
    "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip


def test_it_knows_the_ages_the_issue_names():
    assert CURRENT.age_for("FR") == 15
    assert CURRENT.age_for("AT") == 14
    assert CURRENT.age_for("BE") == 13
    assert CURRENT.age_for("IE") == 16


def test_it_applies_sixteen_where_a_state_set_none():
    assert GDPR_DEFAULT_AGE == 16
    assert "US" not in CURRENT.ages
    assert CURRENT.age_for("US") == 16


def test_it_lists_every_member_state_within_the_range_that_gdpr_allows():
    assert set(CURRENT.ages) >= EU_MEMBER_STATES
    assert {age for age in CURRENT.ages.values()} <= {13, 14, 15, 16}


def test_every_table_is_registered_by_its_version():
    assert TABLES[CURRENT.version] is CURRENT
    assert CURRENT is EU_2024
    assert CURRENT.version == "eu-2024.1"
    assert CURRENT.source


def test_a_published_table_cannot_be_reassigned():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CURRENT.version = "eu-2099.1"


def test_it_assumes_the_latest_birthday_in_the_birth_month():
    born = date(2010, 3, 1)
    assert youngest_age_at(born, date(2026, 2, 28)) == 15
    assert youngest_age_at(born, date(2026, 3, 1)) == 15
    assert youngest_age_at(born, date(2026, 3, 30)) == 15  # could be born on the 31st
    assert youngest_age_at(born, date(2026, 3, 31)) == 16
    assert youngest_age_at(born, date(2026, 4, 1)) == 16


def test_it_counts_a_february_birth_month_to_its_last_day():
    assert youngest_age_at(date(2008, 2, 1), date(2024, 2, 28)) == 15  # 2008 had a 29 February
    assert youngest_age_at(date(2008, 2, 1), date(2024, 2, 29)) == 16
    assert youngest_age_at(date(2010, 2, 1), date(2026, 2, 28)) == 16


def test_it_counts_across_the_turn_of_the_year():
    assert youngest_age_at(date(2010, 12, 1), date(2026, 12, 31)) == 16
    assert youngest_age_at(date(2010, 12, 1), date(2027, 1, 1)) == 16
    assert youngest_age_at(date(2010, 12, 1), date(2026, 12, 30)) == 15


def test_it_requires_a_guardian_below_the_national_age():
    requirement = guardian_requirement(country="FR", birth=date(2012, 5, 1), collected_on=date(2026, 6, 1))
    assert requirement == GuardianRequirement(
        required=True, age=14, age_of_consent=15, country="FR", table_version="eu-2024.1"
    )


def test_it_explains_why_a_guardian_is_needed():
    requirement = guardian_requirement(country="FR", birth=date(2012, 5, 1), collected_on=date(2026, 6, 1))
    assert requirement.explain() == (
        "the subject was at most 14 when consent was collected, below the age of digital consent of 15 "
        "in FR (table eu-2024.1, GDPR Art. 8), so a guardian's consent is required"
    )


def test_it_needs_no_guardian_from_the_national_age_on():
    assert not guardian_requirement(country="BE", birth=date(2012, 5, 1), collected_on=date(2026, 6, 1)).required
    assert not guardian_requirement(country="FR", birth=date(2011, 5, 1), collected_on=date(2026, 6, 1)).required
    assert guardian_requirement(country="FR", birth=date(2011, 5, 1), collected_on=date(2026, 5, 30)).required


def test_the_same_child_needs_a_guardian_in_one_state_and_not_in_another():
    born, on = date(2012, 1, 1), date(2026, 6, 1)  # 14
    assert not guardian_requirement(country="AT", birth=born, collected_on=on).required
    assert guardian_requirement(country="FR", birth=born, collected_on=on).required
    assert guardian_requirement(country="IE", birth=born, collected_on=on).required
    assert guardian_requirement(country="US", birth=born, collected_on=on).required


def test_it_applies_the_table_it_is_given_and_names_its_version():
    table = AgeOfConsentTable(version="test-1", source="a test", ages={"FR": 13})
    requirement = guardian_requirement(country="FR", birth=date(2012, 1, 1), collected_on=date(2026, 6, 1), table=table)
    assert not requirement.required
    assert requirement.table_version == "test-1"
