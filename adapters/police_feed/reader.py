"""Reads a police feed file row by row (never the whole file at once): CSV with a header row
or JSON lines, UTF-8, in the v1 columns, or in a force's own columns through a mapping file:

    # mapping.toml: our column = their column; value maps for codes
    [columns]
    external_ref = "CrimeNo"
    full_name = "VictimName"
    [values.crime_type]
    "Burglary Dwelling" = "burglary"

With a mapping, their other columns are ignored; without one, a column that is not v1 stops
the import before any row is read (a force's own file without its mapping).
"""

import csv
import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from triage.imports.feed import COLUMNS, LIST_COLUMNS, FeedRow, FeedUnreadable

NAME_SHOWN = 60  # a column or key named in a problem is cut to this length


@dataclass(frozen=True)
class ColumnMapping:
    """Their column for each of ours, and their codes for ours, column by column."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> "ColumnMapping":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise FeedUnreadable(f"{path}: not a readable mapping file ({error})") from None
        columns = data.get("columns")
        values = data.get("values", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise FeedUnreadable(f"{path}: [columns] must map our columns to theirs, as text")
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise FeedUnreadable(f"{path}: [columns] names no v1 column {', '.join(unknown)}")
        if "external_ref" not in columns:
            raise FeedUnreadable(f"{path}: [columns] must say which column is external_ref")
        if not isinstance(values, dict) or not all(
            column in COLUMNS and isinstance(table, dict)
            and all(isinstance(v, str) for v in table.values())
            for column, table in values.items()
        ):  # fmt: skip
            raise FeedUnreadable(f"{path}: [values.COLUMN] must map their codes to ours, as text")
        return cls(columns=columns, values=values)

    def ours(self, theirs: Mapping[str, Any]) -> dict[str, Any]:
        """A row in their columns, in ours, their codes mapped."""
        record = {ours: theirs.get(their) for ours, their in self.columns.items()}
        for column, codes in self.values.items():
            value = record.get(column)
            if isinstance(value, str) and value:
                if column in LIST_COLUMNS:
                    record[column] = ";".join(
                        codes.get(code.strip(), code.strip()) for code in value.split(";")
                    )
                else:
                    record[column] = codes.get(value, value)
        return record


class FeedFile:
    """The `FeedReader` of a police feed file (CSV, or JSON lines when the name ends .jsonl
    or .ndjson, or the first character is `{`)."""

    def __init__(self, path: Path, mapping: Path | None = None) -> None:
        self.path = path
        self.mapping = ColumnMapping.read(mapping) if mapping is not None else None

    def rows(self) -> Iterator[FeedRow]:
        try:
            # surrogateescape: a byte that is not UTF-8 rejects its row (the body's text
            # check refuses lone surrogates), not the whole file.
            with self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
                if self._json_lines(f):
                    yield from self._json_rows(f)
                else:
                    yield from self._csv_rows(f)
        except OSError as error:
            raise FeedUnreadable(f"{self.path}: cannot be read ({error.strerror})") from None

    def _json_lines(self, f: TextIO) -> bool:
        if self.path.suffix.lower() in (".jsonl", ".ndjson"):
            return True
        start = f.read(1)
        f.seek(0)
        if start == "\ufeff":
            f.read(1)
            start = f.read(1)
            f.seek(0)
        return start == "{"

    def _csv_rows(self, f: TextIO) -> Iterator[FeedRow]:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise FeedUnreadable(f"{self.path}: empty, not even a header row")
        header = [name.strip() for name in header]
        self._check_header(header)
        width = len(header)
        for number, cells in enumerate(reader, start=1):
            if len(cells) > width:
                yield FeedRow(number, {}, ("row", f"{len(cells)} cells, the header has {width}"))
                continue
            theirs = dict(zip(header, cells, strict=False))
            yield self._row(number, theirs)

    def _json_rows(self, f: TextIO) -> Iterator[FeedRow]:
        number = 0
        for line in f:
            if not line.strip():
                continue
            number += 1
            try:
                theirs = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as error:
                yield FeedRow(
                    number, {}, ("row", f"not valid JSON ({error.msg}, column {error.colno})")
                )
                continue
            except RecursionError:
                yield FeedRow(number, {}, ("row", "not valid JSON (nested too deeply)"))
                continue
            if not isinstance(theirs, dict):
                yield FeedRow(number, {}, ("row", "not a JSON object"))
                continue
            if self.mapping is None:
                unknown = [key for key in theirs if key not in COLUMNS]
                if unknown:
                    yield FeedRow(number, {}, (unknown[0][:NAME_SHOWN], "not a v1 column"))
                    continue
            yield self._row(number, theirs)

    def _row(self, number: int, theirs: dict[str, Any]) -> FeedRow:
        return FeedRow(number, theirs if self.mapping is None else self.mapping.ours(theirs))

    def _check_header(self, header: list[str]) -> None:
        if self.mapping is not None:
            missing = sorted(set(self.mapping.columns.values()) - set(header))
            if missing:
                shown = ", ".join(name[:NAME_SHOWN] for name in missing)
                raise FeedUnreadable(f"{self.path}: the mapping's columns {shown} are not in it")
            return
        unknown = [name[:NAME_SHOWN] for name in header if name not in COLUMNS]
        if unknown:
            raise FeedUnreadable(
                f"{self.path}: {', '.join(unknown)} not v1 columns (a force's own columns "
                "need --mapping)"
            )
        if "external_ref" not in header:
            raise FeedUnreadable(f"{self.path}: no external_ref column (the crime reference)")
