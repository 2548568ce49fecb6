"""`triage rules check`: each kind of mistake is refused, naming file, rule and field."""

import shutil
from pathlib import Path

import pytest

from triage.rule_sources import RulesError, check_rule_set

SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules" / "derbyshire"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A copy of the shipped rule set to break."""
    target = tmp_path / "derbyshire"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def problems(rules: Path) -> str:
    with pytest.raises(RulesError) as raised:
        check_rule_set(rules)
    return str(raised.value)


class TestShippedRules:
    def test_the_shipped_rule_set_passes_every_check(self):
        report = check_rule_set(SHIPPED)
        assert report.rule_set.name == "derbyshire"
        assert report.shapes_checked > 1000


class TestRefusals:
    def test_an_unknown_provider_names_the_rule_and_field(self, rules):
        edit(rules / "routing.toml", 'providers = ["da-idva"]', 'providers = ["da-idva-north"]')
        said = problems(rules)
        assert "routing.toml: rule 'da-high-risk-idva' field providers" in said
        assert "unknown provider 'da-idva-north'" in said

    def test_an_unknown_field_names_the_rule_and_field(self, rules):
        edit(rules / "routing.toml", "priority = 10\n", "priority = 10\nmin_dash = 14\n")
        assert "rule 'da-high-risk-idva' field min_dash" in problems(rules)

    def test_an_unknown_crime_type_is_refused(self, rules):
        edit(
            rules / "routing.toml",
            '"harassment_stalking"]\nrisk_levels = ["high"]',
            '"stalking"]\nrisk_levels = ["high"]',
        )
        assert "rule 'da-high-risk-idva' field crime_types.1" in problems(rules)

    def test_an_unknown_risk_level_is_refused(self, rules):
        edit(rules / "routing.toml", 'risk_levels = ["high"]', 'risk_levels = ["severe"]')
        assert "unknown value(s) ['severe']" in problems(rules)

    def test_two_rules_with_one_priority_are_refused(self, rules):
        edit(rules / "routing.toml", "priority = 20\n", "priority = 10\n")
        said = problems(rules)
        assert "'da-high-risk-idva', 'da-standard-medium-outreach' field priority" in said

    def test_a_rule_whose_ages_cannot_both_hold_never_matches(self, rules):
        edit(
            rules / "routing.toml",
            'max_age = 17\nproviders = ["young-people"]',
            'min_age = 30\nmax_age = 17\nproviders = ["young-people"]',
        )
        assert "rule 'young-people': can never match" in problems(rules)

    def test_a_rule_whose_providers_never_take_its_referrals_never_matches(self, rules):
        edit(
            rules / "providers.toml",
            'crime_types = ["sexual_offence", "child_sexual_exploitation"]',
            'crime_types = ["sexual_offence"]',
        )
        assert "rule 'cse-reported-as-adult': can never match" in problems(rules)

    def test_without_the_fallback_uncovered_shapes_are_listed(self, rules):
        edit(rules / "routing.toml", 'fallback = "core-general"\n', "")
        said = problems(rules)
        assert "referral shape(s) no rule covers" in said
        assert "crime_type=domestic_abuse age=unknown area=derby_city risk=none" in said

    def test_an_unknown_area_in_a_provider_is_refused(self, rules):
        edit(
            rules / "providers.toml",
            'areas = ["derby_city", "derbyshire_county"]\ncontact',
            'areas = ["derby_city", "nottingham"]\ncontact',
        )
        assert "provider 'core-general' field areas: unknown area 'nottingham'" in problems(rules)

    def test_one_directory_service_on_two_providers_is_refused(self, rules):
        for code in ("da-idva", "da-outreach"):
            line = f'code = "{code}"\n'
            edit(
                rules / "providers.toml", line, f'{line}oruk_id = "5a1e0000-0000-4000-8000-0005"\n'
            )
        assert (
            "provider 'da-outreach' field oruk_id: the same service as provider 'da-idva' "
            "(one entry per service)"
        ) in problems(rules)

    def test_a_directory_link_that_is_not_a_web_address_is_refused(self, rules):
        edit(rules / "providers.toml", 'code = "da-idva"\n',
             'code = "da-idva"\nurl = "ftp://da-idva.example.org"\n')  # fmt: skip
        assert "provider 'da-idva' field url: String should match pattern" in problems(rules)

    def test_broken_toml_names_the_file(self, rules):
        (rules / "routing.toml").write_text("version = \n")
        assert "routing.toml: not valid TOML" in problems(rules)
