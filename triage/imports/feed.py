"""The police feed v1 (DESIGN 10), as the import reads it: what an adapter yields for each
row, and how a row becomes the body `POST /api/referrals` validates."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# The v1 columns, in order. Empty = no value; `;` between codes in the two list columns.
COLUMNS = (
    "external_ref",
    "crime_type",
    "hate_strands",
    "crime_reported_at",
    "area",
    "full_name",
    "date_of_birth",
    "phone",
    "email",
    "address",
    "postcode",
    "safe_channels",
    "safe_times",
    "language",
    "notes",
)
VICTIM_COLUMNS = frozenset(
    {"full_name", "date_of_birth", "phone", "email", "address", "postcode", "safe_channels",
     "safe_times", "language"}
)  # fmt: skip
LIST_COLUMNS = frozenset({"hate_strands", "safe_channels"})
SOURCE = "police"


class FeedUnreadable(Exception):
    """The file as a whole cannot be imported (no header, unknown columns, a bad mapping)."""


@dataclass(frozen=True)
class FeedRow:
    """One data row (1-based, the header not counted): its values by v1 column, or why the
    row could not be read at all (`problem`: column, reason)."""

    number: int
    record: Mapping[str, Any]
    problem: tuple[str, str] | None = None


class FeedReader(Protocol):
    """Reads a feed file row by row, in v1 columns (a force's own columns mapped)."""

    def rows(self) -> Iterator[FeedRow]: ...


def body_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The `POST /api/referrals` body a v1 row stands for."""
    body: dict[str, Any] = {"source": SOURCE}
    victim: dict[str, Any] = {}
    for column, value in record.items():
        if value is None or value == "":
            continue
        if column in LIST_COLUMNS and isinstance(value, str):
            value = [code.strip() for code in value.split(";") if code.strip()]
        (victim if column in VICTIM_COLUMNS else body)[column] = value
    body["victim"] = victim
    return body


def column_of(loc: tuple[Any, ...]) -> str:
    """The v1 column a validation error's location names (`("victim", "email")`: email)."""
    names = [part for part in loc if isinstance(part, str) and part not in ("body", "victim")]
    return names[0] if names else "victim"
