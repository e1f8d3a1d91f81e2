from datetime import date

from consent.rules.age_of_consent import CURRENT, GDPR_DEFAULT_AGE, TABLES, guardian_requirement, youngest_age_at


def test_it_knows_the_national_ages_of_digital_consent():
    assert CURRENT.age_for("FR") == 15
    assert CURRENT.age_for("AT") == 14
    assert CURRENT.age_for("BE") == 13
    assert CURRENT.age_for("IE") == 16


def test_it_applies_sixteen_where_a_state_set_no_age():
    assert GDPR_DEFAULT_AGE == 16
    assert CURRENT.age_for("US") == 16


def test_every_table_is_registered_by_its_version():
    assert TABLES[CURRENT.version] is CURRENT


def test_it_assumes_the_latest_birthday_in_the_birth_month():
    born = date(2010, 3, 1)
    assert youngest_age_at(born, date(2026, 3, 30)) == 15  # could be born on the 31st
    assert youngest_age_at(born, date(2026, 3, 31)) == 16
    assert youngest_age_at(born, date(2026, 2, 28)) == 15
    assert youngest_age_at(born, date(2026, 4, 1)) == 16


def test_it_requires_a_guardian_below_the_national_age():
    requirement = guardian_requirement(country="FR", birth=date(2012, 5, 1), collected_on=date(2026, 6, 1))
    assert requirement.required
    assert requirement.age == 14
    assert requirement.age_of_consent == 15
    assert "FR" in requirement.explain() and CURRENT.version in requirement.explain()


def test_it_needs_no_guardian_at_the_national_age():
    requirement = guardian_requirement(country="BE", birth=date(2012, 5, 1), collected_on=date(2026, 6, 1))
    assert not requirement.required
