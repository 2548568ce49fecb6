"""Retention periods as data (routing_rules/retention.toml, DESIGN 11): which period a
closed referral falls under, when it ends, and a bad file reported by path."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from triage.retention import RetentionRules, months_before
from triage.rule_sources import RulesError, load_retention

SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules" / "retention.toml"


def test_the_shipped_file_loads_and_the_first_matching_period_wins() -> None:
    rules = load_retention(SHIPPED)
    assert rules.period_for("duplicate", "domestic_abuse") == ("not-for-this-service", 6)
    assert rules.period_for("support_completed", "domestic_abuse") == (
        "domestic-and-sexual-abuse", 72)  # fmt: skip
    assert rules.period_for("withdrawn", "burglary") == ("default", 24)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 3, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2028, 3, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 1, datetime(2025, 12, 15, tzinfo=UTC)),
        (datetime(2026, 12, 5, tzinfo=UTC), 24, datetime(2024, 12, 5, tzinfo=UTC)),
        (datetime(2026, 12, 5, tzinfo=UTC), 120, datetime(2016, 12, 5, tzinfo=UTC)),
    ],
)
def test_months_are_calendar_months(moment: datetime, months: int, expected: datetime) -> None:
    assert months_before(moment, months) == expected


def test_a_period_ends_its_months_after_closure() -> None:
    rules = RetentionRules(version="t", default_months=24)
    closed = datetime(2024, 12, 5, 10, tzinfo=UTC)
    assert not rules.is_due("withdrawn", "theft", closed, datetime(2026, 12, 5, 9, tzinfo=UTC))
    assert rules.is_due("withdrawn", "theft", closed, datetime(2026, 12, 5, 10, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('version = "1"\ndefault_months = 0\n', "default_months"),
        (
            'version = "1"\ndefault_months = 12\n[[periods]]\nid = "a"\nmonths = 6\n'
            'crime_types = ["shoplifting"]\n',
            "period 'a' field crime_types.0",
        ),
        (
            'version = "1"\ndefault_months = 12\n[[periods]]\nid = "a"\nmonths = 6\n',
            "period 'a' field (entry)",
        ),
        ('version = "1"\ndefault_months = 12\nkeep_forever = true\n', "keep_forever"),
        (
            'version = "1"\ndefault_months = 12\n[[periods]]\nid = "a"\nmonths = 6\n'
            'closure_reasons = ["duplicate"]\n[[periods]]\nid = "a"\nmonths = 7\n'
            'closure_reasons = ["withdrawn"]\n',
            "distinct",
        ),
    ],
)
def test_a_bad_file_is_reported_by_path(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "retention.toml"
    path.write_text(text)
    with pytest.raises(RulesError) as raised:
        load_retention(path)
    assert str(path) in str(raised.value) and where in str(raised.value), raised.value
