"""The access log keeps paths and parameter names, never the values (they may name a person)."""

import logging

from triage.logs import QueryValuesDropped, without_values


def test_values_are_dropped_names_kept() -> None:
    assert without_values("/queue?q=Ann+Lee&page=2") == "/queue?q=-&page=-"
    assert without_values("/api/referrals/abc") == "/api/referrals/abc"
    assert without_values("/queue?") == "/queue"


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/queue?q=Zelda+Fotheringay", "1.1", 200),
                               None)  # fmt: skip
    assert QueryValuesDropped().filter(record)
    assert "Zelda" not in record.getMessage()
    assert "/queue?q=-" in record.getMessage()
