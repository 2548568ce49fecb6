"""Victims' Code editions from routing_rules/vcop/*.toml (DESIGN section 7)."""

from datetime import date
from pathlib import Path

import pytest

from triage.lifecycle.codes import CrimeType
from triage.rule_sources import RulesError, load_editions
from triage.vcop.editions import ConsentRules, Edition, edition_in_force

VCOP_DIR = Path(__file__).resolve().parents[2] / "routing_rules" / "vcop"
EXPLICIT = ["sexual_offence", "child_sexual_exploitation", "domestic_abuse", "homicide_bereavement"]
IMPLIED = sorted(set(CrimeType) - set(EXPLICIT))


@pytest.fixture(scope="module")
def editions() -> tuple[Edition, ...]:
    return load_editions(VCOP_DIR)


class TestLoadEditions:
    def test_both_editions_are_loaded_oldest_first(self, editions):
        assert [e.edition for e in editions] == ["2015", "2021"]
        assert editions[0].in_force_from < editions[1].in_force_from

    def test_the_2021_edition_is_in_force_from_1_april_2021(self, editions):
        assert editions[-1].in_force_from == date(2021, 4, 1)

    def test_each_edition_carries_a_version_and_a_title(self, editions):
        for edition in editions:
            assert edition.version.startswith(edition.edition)
            assert edition.title

    def test_a_folder_with_no_edition_is_an_error(self, tmp_path):
        with pytest.raises(RulesError, match="no Victims' Code edition"):
            load_editions(tmp_path)


class TestEditionInForce:
    def test_the_day_before_1_april_2021_is_judged_by_the_2015_edition(self, editions):
        assert edition_in_force(editions, date(2021, 3, 31)).edition == "2015"

    def test_1_april_2021_is_judged_by_the_2021_edition(self, editions):
        assert edition_in_force(editions, date(2021, 4, 1)).edition == "2021"

    def test_a_day_long_after_1_april_2021_is_judged_by_the_2021_edition(self, editions):
        assert edition_in_force(editions, date(2026, 11, 23)).edition == "2021"

    def test_a_day_in_2018_is_judged_by_the_2015_edition(self, editions):
        assert edition_in_force(editions, date(2018, 6, 1)).edition == "2015"

    def test_the_first_day_of_the_2015_edition_is_judged_by_it(self, editions):
        assert edition_in_force(editions, date(2015, 11, 16)).edition == "2015"

    def test_a_day_before_every_edition_falls_back_to_the_oldest(self, editions):
        assert edition_in_force(editions, date(2010, 1, 1)).edition == "2015"


class TestNeedsExplicitConsent:
    @pytest.mark.parametrize("edition_name", ["2015", "2021"])
    @pytest.mark.parametrize("crime", EXPLICIT)
    def test_sexual_offences_cse_domestic_abuse_and_homicide_need_explicit_consent(
        self, editions, edition_name, crime
    ):
        edition = next(e for e in editions if e.edition == edition_name)
        assert edition.needs_explicit_consent(crime, bereaved=False) is True

    @pytest.mark.parametrize("edition_name", ["2015", "2021"])
    def test_burglary_does_not_need_explicit_consent(self, editions, edition_name):
        edition = next(e for e in editions if e.edition == edition_name)
        assert edition.needs_explicit_consent("burglary", bereaved=False) is False

    @pytest.mark.parametrize("crime", IMPLIED, ids=str)
    def test_other_crimes_do_not_need_explicit_consent(self, editions, crime):
        assert editions[-1].needs_explicit_consent(crime, bereaved=False) is False

    @pytest.mark.parametrize("edition_name", ["2015", "2021"])
    @pytest.mark.parametrize("crime", ["burglary", "violence", "arson"])
    def test_a_bereaved_relative_needs_explicit_consent_whatever_the_crime(
        self, editions, edition_name, crime
    ):
        edition = next(e for e in editions if e.edition == edition_name)
        assert edition.needs_explicit_consent(crime, bereaved=True) is True

    def test_the_crime_type_may_be_given_as_its_enum(self, editions):
        edition = editions[-1]
        assert edition.needs_explicit_consent(CrimeType.domestic_abuse, bereaved=False) is True
        assert edition.needs_explicit_consent(CrimeType.burglary, bereaved=False) is False

    def test_bereavement_adds_nothing_in_an_edition_that_does_not_say_so(self, editions):
        consent = ConsentRules(
            explicit_for_crime_types=frozenset({CrimeType.sexual_offence}),
            explicit_when_bereaved=False,
        )
        edition = editions[-1].model_copy(update={"consent": consent})
        assert edition.needs_explicit_consent("burglary", bereaved=True) is False
        assert edition.needs_explicit_consent("sexual_offence", bereaved=True) is True
