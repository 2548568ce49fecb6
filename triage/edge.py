"""The service's edge (DESIGN 12): what every request meets before and after its route.

- A body over 1 MiB answers 413 before anything reads it (imports have their own limit).
- A 422 names the field and the problem and never echoes what was sent (it may hold a
  victim's name): pydantic's `input`, `ctx` and `url` are dropped, and its messages are kept
  only where they describe the rule, not the value.
- A database that cannot be reached (down, restarting, a pooled connection it dropped, no
  free connection) answers 503 with `Retry-After`: the request did nothing, and the same
  request again (an intake retry with its `Idempotency-Key`) is safe. Logged as one line.
- An error nobody planned for answers a plain 500 and is logged by type and route, without
  its message (an exception's text can hold the body it failed on).
"""

import logging
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from triage.db import unreachable

MAX_BODY = 1024 * 1024  # bytes
# Seconds a client is asked to wait when the database is unavailable: about what a
# PostgreSQL restart or fail-over takes.
RETRY_AFTER = 5
UNAVAILABLE = "the database is unavailable: try again shortly"
log = logging.getLogger("triage.edge")

# pydantic error types whose message quotes the value sent; answered in these words instead.
OWN_WORDS = {
    "json_invalid": "the body is not valid JSON (UTF-8)",
    "json_type": "the body must be a JSON object",
    "string_unicode": "must be valid UTF-8 text",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def safe_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """pydantic's errors as the API answers them: where and what, never the value."""
    answer = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        message = OWN_WORDS.get(kind) or str(error.get("msg", "is not valid"))
        location = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        answer.append({"loc": location, "msg": message, "type": kind})
    return answer


def unprocessable(errors: Iterable[Mapping[str, Any]]) -> JSONResponse:
    return JSONResponse(
        {"detail": safe_errors(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def request_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's own 422 (path, query, header and form fields), without the values sent."""
    return unprocessable(error.errors())


class Unexpected:
    """An error nobody planned for: a plain 500 (if nothing was sent yet), logged by kind
    and route with the frames' places, never the error's text, and not raised further (the
    server would log it whole). A database that cannot be reached is no bug: 503 with
    `Retry-After`, logged as one line (kind and route; the frames would say nothing new)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, noting)
        except Exception as error:
            route = getattr(scope.get("route"), "path", "unmatched")
            cause = unreachable(error)
            if cause is not None:
                log.warning("database unavailable: %s on %s %s", cause, scope["method"], route)
                if not started:
                    answer = JSONResponse(
                        {"detail": UNAVAILABLE},
                        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(RETRY_AFTER)},
                    )
                    await answer(scope, receive, send)
                return
            frames = "".join(traceback.format_tb(error.__traceback__))
            log.error("unhandled %s on %s %s\n%s", type(error).__name__, scope["method"],
                      route, frames)  # fmt: skip
            if not started:
                answer = JSONResponse({"detail": "internal error"}, status_code=500)
                await answer(scope, receive, send)


class _TooLarge(Exception):
    """An upload passed its limit while being read."""


class BodyLimit:
    """413 for a body over `limit` bytes: a declared Content-Length is refused unread, a
    streamed body once it passes the limit (it is held, at most `limit` bytes, then passed on)."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}  # a path's own limit (an upload's)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"])
        if limit is not None:
            await self._streamed(scope, receive, send, limit)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.limit:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A large upload: passed on as it comes (never held), 413 once it passes `limit`."""
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._too_large(scope, receive, send, limit)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, limit: int | None = None
    ) -> None:
        answer = JSONResponse(
            {"detail": f"the request body is over the limit of {limit or self.limit} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            headers={"Connection": "close"},
        )
        await answer(scope, receive, send)
