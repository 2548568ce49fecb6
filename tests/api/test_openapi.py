"""The published OpenAPI document is self-contained and names every status a route can
answer (DESIGN 12): schemathesis and client generators run against it as published."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from triage.openapi import CONFLICTS, EVERY_ROLE, PUBLIC


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [r for k, v in value.items() for r in ([v] if k == "$ref" else references(v))]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    found = references(document)
    assert found, "the document has references"
    dangling = {r for r in found if r.removeprefix("#/components/schemas/") not in schemas}
    assert dangling == set()
    assert "$defs" not in str(document)


def test_every_operation_names_the_answers_it_can_give(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        answers = set(operation["responses"])
        key = (method, path)
        if path.startswith("/api/"):
            assert {"401", "422", "503"} <= answers, key
        if key not in PUBLIC and key not in EVERY_ROLE:
            assert "403" in answers, key
        if "{" in path:
            assert "404" in answers, key
        if method in ("post", "put"):
            assert "413" in answers, key
        assert ("409" in answers) == (key in CONFLICTS), key
    token = document["paths"]["/api/auth/token"]["post"]["responses"]
    assert "Retry-After" in token["429"]["headers"]


def test_the_rules_name_only_routes_that_exist(document: dict[str, Any]) -> None:
    present = {(m, p) for m, p, _ in operations(document)}
    assert present >= PUBLIC | EVERY_ROLE | CONFLICTS


def test_metrics_are_declared_as_text(document: dict[str, Any]) -> None:
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]


def test_reports_declare_their_files(document: dict[str, Any]) -> None:
    content = document["paths"]["/api/reports/conversion"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(content)
