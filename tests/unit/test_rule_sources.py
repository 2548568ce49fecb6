"""The rule data, read once: one loader per file, one error naming file, entry and field."""

import shutil
from pathlib import Path

import pytest

from triage.config import Settings
from triage.rule_sources import RulePaths, RulesError, RuleSources, load_directory, load_editions

SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the shipped rules to break."""
    shutil.copytree(SHIPPED, tmp_path / "routing_rules")
    return tmp_path / "routing_rules"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


class TestRuleSources:
    def test_the_settings_name_the_rule_set_and_the_editions(self) -> None:
        rules = RuleSources.from_settings(Settings())
        assert rules.paths.routing == SHIPPED / "derbyshire" / "routing.toml"
        assert rules.paths.directory == SHIPPED / "derbyshire" / "providers.toml"
        assert rules.areas == {"derby_city", "derbyshire_county"}
        assert [e.edition for e in rules.editions] == ["2015", "2021"]
        assert rules.engine.hash == rules.rule_set.hash

    def test_what_was_read_is_kept_when_the_files_change(self, rules_dir: Path) -> None:
        rules = RuleSources.load(RulePaths(rules_dir / "derbyshire", rules_dir / "vcop"))
        edit(rules_dir / "derbyshire" / "routing.toml", 'version = "2026.11.1"', 'version = "9"')
        assert rules.rule_set.version == "derbyshire@2026.11.1+providers@2026.11.1"
        again = RuleSources.load(rules.paths)
        assert again.rule_set.version == "derbyshire@9+providers@2026.11.1"
        assert again.rule_set.hash != rules.rule_set.hash


class TestOneErrorForEveryFile:
    def test_a_bad_right_names_the_edition_file_the_right_and_the_field(
        self, rules_dir: Path
    ) -> None:
        edition = rules_dir / "vcop" / "2021.toml"
        edit(edition, 'id = "R3"', 'id = "R3"\nworking_days_typo = 2')
        with pytest.raises(RulesError) as raised:
            load_editions(rules_dir / "vcop")
        assert f"{edition}: right 'R3' field working_days_typo" in str(raised.value)

    def test_a_bad_provider_names_the_file_the_provider_and_the_field(
        self, rules_dir: Path
    ) -> None:
        directory = rules_dir / "derbyshire" / "providers.toml"
        edit(directory, "respond_by_hours = 48", "respond_by_hours = 0")
        with pytest.raises(RulesError) as raised:
            load_directory(directory)
        assert f"{directory}: provider 'core-general' field respond_by_hours" in str(raised.value)

    def test_a_file_that_is_not_toml_is_named(self, rules_dir: Path) -> None:
        edition = rules_dir / "vcop" / "2015.toml"
        edition.write_text("edition = \n")
        with pytest.raises(RulesError, match=f"{edition}: not valid TOML"):
            load_editions(rules_dir / "vcop")

    def test_a_missing_rule_file_is_named(self, rules_dir: Path) -> None:
        (rules_dir / "derbyshire" / "routing.toml").unlink()
        with pytest.raises(RulesError, match="routing.toml: missing"):
            RuleSources.load(RulePaths(rules_dir / "derbyshire", rules_dir / "vcop"))
