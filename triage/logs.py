"""What the server's own logs may hold (DESIGN 12: no personal data in logs).

uvicorn's access log writes each request line with its query string, and a query can hold
a person: the queue's search (`?q=<a victim's name>`), a reference. The access log keeps
the path and the parameters' names and drops their values."""

import copy
import logging
from typing import Any

import uvicorn.config


class QueryValuesDropped(logging.Filter):
    """Rewrites uvicorn's access record: `/queue?q=Ann+Lee&page=2` is `/queue?q=-&page=-`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path = args[2]
            if isinstance(path, str):
                record.args = (*args[:2], without_values(path), *args[3:])
        return True


def without_values(path: str) -> str:
    base, _, query = path.partition("?")
    if not query:
        return base
    names = [part.partition("=")[0][:40] for part in query.split("&") if part]
    return base + "?" + "&".join(f"{name}=-" for name in names)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up, with the access log's query values dropped."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["query_values_dropped"] = {"()": QueryValuesDropped}
    config["handlers"]["access"]["filters"] = ["query_values_dropped"]
    return config
