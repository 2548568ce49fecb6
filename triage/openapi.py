"""The published OpenAPI document (DESIGN 12): self-contained, and naming every status a
route can answer, so schemathesis and client generators can run against it as published.

FastAPI documents what a route's signature declares. Two things it cannot see are added
here, once, by rule rather than on each route:

- bodies read through `body_after` are declared with pydantic's own JSON Schema, whose
  `#/$defs/...` references point nowhere in the whole document: the definitions are moved
  into `components/schemas` and the references rewritten;
- the answers every route shares by the order of DESIGN 5 and 12: 401 (no valid token),
  403 (a role that may not call it), 404 (an id out of scope), 409 (a conflict with the
  stored state), 413 (a body over 1 MiB), 422 (bad input, unknown query parameters
  included), 503 (the database unavailable).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Answered without a token.
PUBLIC = {("post", "/api/auth/token"), ("get", "/healthz"), ("get", "/readyz"),
          ("get", "/metrics")}  # fmt: skip
# Open to every signed-in role: never a 403.
EVERY_ROLE = {("delete", "/api/auth/token"), ("get", "/api/providers"),
              ("get", "/api/providers/{code}")}  # fmt: skip
# Where the stored state can refuse the request: a stale version, an event not allowed now,
# a repeated key or crime reference that says something else, a provider that exists.
CONFLICTS = {
    ("post", "/api/referrals"),
    ("put", "/api/referrals/{referral_id}/assessment"),
    ("put", "/api/referrals/{referral_id}/consent"),
    ("post", "/api/referrals/{referral_id}/events/{event}"),
    ("post", "/api/providers"),
    ("post", "/api/alerts/{alert_id}/acknowledge"),
    ("put", "/api/referrals/{referral_id}/lockdown"),
    ("delete", "/api/referrals/{referral_id}/lockdown"),
    ("post", "/api/referrals/{referral_id}/erase"),
}
WITH_BODY = {"post", "put", "patch"}

ERROR = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}
CONFLICT = {
    "title": "Conflict",
    "type": "object",
    "properties": {
        "detail": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "state": {"type": "string"},
                "version": {"type": "integer"},
                "allowed_events": {"type": "array", "items": {"type": "string"}},
                "failed": {"type": "array", "items": {"type": "string"}},
                "fields": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["message"],
        }
    },
    "required": ["detail"],
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(complete(_generated(app)))
        return built

    app.openapi = openapi  # type: ignore[method-assign]


def _generated(app: FastAPI) -> dict[str, Any]:
    return get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with its bodies' definitions hoisted and the shared answers added."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                body["schema"] = _hoisted(body["schema"], schemas)
            _add_answers(method, path, operation, schemas)
    return doc


def _hoisted(schema: Any, schemas: dict[str, Any], names: dict[str, str] | None = None) -> Any:
    """`schema` with every `$defs` in it (a `oneOf` of models has one per model) moved into
    the components, renamed where a component of that name says something else, and each
    reference to them rewritten."""
    names = dict(names or {})
    if isinstance(schema, list):
        return [_hoisted(item, schemas, names) for item in schema]
    if not isinstance(schema, dict):
        return schema
    definitions = schema.get("$defs", {})
    for name in definitions:
        names[name] = name
    for name, definition in definitions.items():
        body = _hoisted(definition, schemas, names)
        chosen, n = name, 1
        while chosen in schemas and schemas[chosen] != body:
            n += 1
            chosen = f"{name}{n}"
        schemas[chosen] = body
        names[name] = chosen
    answer = {}
    for key, value in schema.items():
        if key == "$defs":
            continue
        if key == "$ref" and value.startswith("#/$defs/"):
            answer[key] = "#/components/schemas/" + names[value.removeprefix("#/$defs/")]
        else:
            answer[key] = _hoisted(value, schemas, names)
    return answer


def _add_answers(
    method: str, path: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> None:
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("Conflict", CONFLICT)
    responses: dict[str, Any] = operation.setdefault("responses", {})

    def add(code: str, text: str, schema: str = "Error", headers: Any = None) -> None:
        responses.setdefault(code, _answer(text, schema, headers))

    key = (method, path)
    if path.startswith("/api/"):
        add("422", "bad input: the fields named, never their values", "HTTPValidationError")
        schemas.setdefault("HTTPValidationError", _validation_error())
    if key not in PUBLIC:
        add("401", "no valid bearer token")
        if key not in EVERY_ROLE:
            add("403", "this role may not call this route")
    if "{" in path:
        add("404", "no such thing, or not in the caller's scope")
    if key in CONFLICTS:
        add("409", "refused by the stored state: see detail.failed", "Conflict")
    if method in WITH_BODY:
        add("413", "the body is over 1 MiB")
    if key == ("post", "/api/auth/token"):
        add("401", "incorrect username or password")
        responses["429"] = _answer(
            "too many failed sign-ins: see Retry-After", "Error", RETRY_AFTER
        )
    if path not in ("/healthz", "/metrics", "/readyz"):  # /readyz declares its own
        add("503", "the database is unavailable: try again shortly", "Error", RETRY_AFTER)


def _answer(text: str, schema: str, headers: dict[str, Any] | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _validation_error() -> dict[str, Any]:
    return {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {
            "detail": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                        "msg": {"type": "string"},
                        "type": {"type": "string"},
                    },
                    "required": ["loc", "msg", "type"],
                },
            }
        },
    }
