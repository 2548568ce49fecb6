"""What a value from outside may be (DESIGN 12), as pydantic types every schema shares: text
that PostgreSQL and UTF-8 can hold and that a CSV row cannot be split by, dates and times in
the years people mean (1900-2100), ids within their column's range. Pure: no I/O."""

import functools
import importlib
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

FIRST_YEAR, LAST_YEAR = 1900, 2100
INT_MAX = 2**31 - 1  # the largest id a PostgreSQL integer column (alerts.id) holds
# A lone surrogate: not Unicode text (UTF-8 cannot hold it).
_SURROGATE = re.compile("[\ud800-\udfff]")
# A line of text: no control character at all (a CR or LF would split a CSV row).
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# Text of several lines: tabs and line breaks, nothing else below space.
_CONTROL_IN_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(allowed_controls: bool) -> AfterValidator:
    forbidden = _CONTROL_IN_LINES if allowed_controls else _CONTROL

    def check(value: str) -> str:
        # Regular expressions: a scan in C, not a Python loop over each character.
        if _SURROGATE.search(value):
            raise ValueError("must be valid Unicode text (no lone surrogates)")
        if forbidden.search(value):
            raise ValueError(
                "must not contain control characters"
                + (" other than tabs and line breaks" if allowed_controls else "")
            )
        return value

    return AfterValidator(check)


def _in_years(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be a date from {FIRST_YEAR} to {LAST_YEAR}")
    return value


def _moment_in_years(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be a time from {FIRST_YEAR} to {LAST_YEAR}")
    return value


Line = _text(False)
Lines = _text(True)
# A name, a reference, a short answer: one line, 1 to 200 characters.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Line]
# Notes and addresses: several lines, at most 5,000 characters.
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), Lines]
Day = Annotated[date, AfterValidator(_in_years)]
Moment = Annotated[AwareDatetime, AfterValidator(_moment_in_years)]
RowId = Annotated[int, Field(ge=1, le=INT_MAX)]
# A quarter as the MoJ return names it: 2026Q3, in the years above.
QUARTER = r"^(19\d{2}|20\d{2}|2100)Q[1-4]$"


def _remember_email_domains() -> None:
    """Every e-mail address (pydantic's `EmailStr`, through email-validator) has its domain
    checked once a process, not once an address: a police feed's million addresses share a
    few hundred domains, and the domain's IDNA check was 13 of the 20 us an address took.
    The check itself is email-validator's own, so every answer is the same (the test
    compares them); a domain it refuses is not remembered, so its error is raised again."""
    module: Any = importlib.import_module("email_validator.validate_email")
    check = module.validate_email_domain_name
    if not hasattr(check, "cache_info"):
        module.validate_email_domain_name = functools.lru_cache(maxsize=4096)(check)


_remember_email_domains()
