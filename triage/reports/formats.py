"""Reports as files: CSV and spreadsheet, the same rows and suppression marks as the JSON."""

import csv
import io
from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# A cell a spreadsheet would read as a formula (DESIGN 12): written as text, a ' before it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a file holds it: text that starts like a formula is kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def columns(rows: list[Row], fixed: Sequence[str] = ()) -> list[str]:
    """The report's own columns, then any other a row has, in the order they first appear:
    the same header for every period, an empty one included."""
    seen: dict[str, None] = dict.fromkeys(fixed)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def to_csv(rows: list[Row], fixed: Sequence[str] = ()) -> bytes:
    out = io.StringIO()
    # CRLF ends a record (RFC 4180), so a CR or LF inside a cell is quoted, never a new row.
    writer = csv.DictWriter(out, fieldnames=columns(rows, fixed), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue().encode()


def to_xlsx(rows: list[Row], *, title: str, fixed: Sequence[str] = ()) -> bytes:
    # Imported here: a feed import's worker, which needs `cell` alone, is 6 MB smaller.
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    names = columns(rows, fixed)
    sheet.append(names)
    for row in rows:
        sheet.append([cell(row.get(name)) for name in names])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(rows: list[Row], *, fmt: str, title: str, fixed: Sequence[str] = ()) -> bytes:
    """The rows as a file: `csv` or `xlsx`, headed by `fixed` columns and any others."""
    if fmt == "csv":
        return to_csv(rows, fixed)
    return to_xlsx(rows, title=title, fixed=fixed)
