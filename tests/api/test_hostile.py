"""DESIGN 12 at the edge: oversized and broken bodies, errors that never echo what was sent,
nothing unplanned answered as more than a plain 500 (issue 14). One test per class found."""

import json
import logging
import os
import re
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Api, referral_body
from tests.web.browser import Person

SECRET = "Zelda Quartermaine-Fotheringay"


class TestBodies:
    def test_a_body_over_one_mebibyte_is_refused_unread(self, triage: Api) -> None:
        body = referral_body(notes="x" * (1024 * 1024))
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 413
        assert "limit" in answer.json()["detail"]

    def test_a_body_just_under_the_limit_is_read(self, triage: Api) -> None:
        answer = triage.post("/api/referrals", referral_body(notes="x" * 4000))
        assert answer.status_code == 201

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/api/referrals"),
            ("PUT", "/api/referrals/{id}/assessment"),
            ("PUT", "/api/referrals/{id}/consent"),
            ("POST", "/api/referrals/{id}/events/contact_made"),
            ("POST", "/api/routing/preview"),
        ],
    )
    def test_a_body_that_is_not_utf8_is_a_422(self, triage: Api, method: str, path: str) -> None:
        ref = triage.create()
        answer = triage.client.request(
            method, path.format(id=ref["id"]), content=b'{"version": 1, "x": "\\x80\x80"}',
            headers={**triage.headers, "Content-Type": "application/json"},
        )  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["msg"] == "the body is not valid JSON (UTF-8)"


class TestNoEcho:
    def test_a_422_names_the_field_but_not_the_value(self, triage: Api) -> None:
        body = referral_body(victim={"full_name": SECRET, "postcode": SECRET})
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 422
        assert SECRET not in answer.text
        assert ["body", "victim", "postcode"] in [e["loc"] for e in answer.json()["detail"]]

    def test_a_query_422_does_not_echo_either(self, triage: Api) -> None:
        answer = triage.get("/api/referrals", params={"state": SECRET})
        assert answer.status_code == 422 and SECRET not in answer.text

    def test_a_huge_invalid_body_answers_small(self, triage: Api) -> None:
        body = referral_body(victim={"full_name": SECRET * 20_000})  # about 600 KB
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 422
        assert len(answer.content) < 2_000


class TestUnplanned:
    def test_an_unplanned_error_is_a_plain_500_logged_without_its_text(
        self, triage: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from triage.referrals import service

        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"failed on {SECRET}")

        monkeypatch.setattr(service, "list_referrals", broken)
        with caplog.at_level(logging.ERROR, logger="triage.edge"):
            answer = triage.get("/api/referrals")
        assert answer.status_code == 500
        assert answer.json() == {"detail": "internal error"}
        assert "RuntimeError" in caplog.text and "/api/referrals" in caplog.text
        assert SECRET not in caplog.text


class TestMetrics:
    def test_a_made_up_method_is_not_a_label(self, triage: Api) -> None:
        triage.client.request("FROBNICATE", "/api/referrals")
        text = triage.client.get("/metrics").text
        assert "FROBNICATE" not in text
        assert 'method="other"' in text

    def test_metrics_are_prometheus_text(self, triage: Api) -> None:
        answer = triage.client.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain")
        json.dumps(answer.text)  # plain text, not JSON


class TestRanges:
    """Dates in the years people mean, ids within their columns, text a database can hold."""

    @pytest.mark.parametrize("born", ["0001-01-01", "9999-12-31", "1899-12-31"])
    def test_a_date_of_birth_out_of_range(self, triage: Api, born: str) -> None:
        victim = {"full_name": "Al Ray", "date_of_birth": born}
        answer = triage.post("/api/referrals", referral_body(victim=victim))
        assert answer.status_code == 422
        assert ["body", "victim", "date_of_birth"] in [e["loc"] for e in answer.json()["detail"]]

    @pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
    def test_a_time_out_of_range(self, triage: Api, at: str) -> None:
        answer = triage.post("/api/referrals", referral_body(crime_reported_at=at))
        assert answer.status_code == 422
        ref = triage.create()
        event = triage.event(ref["id"], "log_contact_attempt", ref["version"], channel="phone",
                             outcome="no_answer", at=at)  # fmt: skip
        assert event.status_code == 422

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/api/reports/conversion", {"from": "0001-01-01"}),
            ("/api/reports/vcop-compliance", {"to": "9999-12-31"}),
            ("/api/reports/providers", {"from": "1066-10-14"}),
            ("/api/reports/moj-return", {"quarter": "0000Q1"}),
            ("/api/reports/moj-return", {"quarter": "9999Q4"}),
        ],
    )
    def test_report_dates_out_of_range(self, sign_in: Any, path: str, params: dict) -> None:
        answer = sign_in("commissioner").get(path, params=params)
        assert answer.status_code == 422, answer.text

    # alerts.id is an integer column: 2**31 is beyond it on PostgreSQL (schemathesis found
    # 2**63 - 2 answering 500 once ids were bounded by bigint).
    @pytest.mark.parametrize("alert_id", [2**31, 2**63 - 2, 13030332930974433280])
    def test_an_id_beyond_its_column(self, triage: Api, alert_id: int) -> None:
        answer = triage.post(f"/api/alerts/{alert_id}/acknowledge")
        assert answer.status_code in (404, 422)

    @pytest.mark.parametrize("name", ["Nul\x00Name", "Lone \ud800 surrogate", "Two\rlines"])
    def test_text_no_database_can_hold(self, sign_in: Any, name: str) -> None:
        admin = sign_in("admin")
        entry = {"code": "peak-new", "name": name, "services": ["general"],
                 "areas": ["derby_city"], "respond_by_hours": 24}  # fmt: skip
        answer = admin.client.post("/api/providers", headers=admin.headers,
                                   content=json.dumps(entry).encode())  # fmt: skip
        assert answer.status_code == 422, answer.text
        where = [e["loc"] for e in answer.json()["detail"]]
        assert ["body", "name"] in where or ["body"] in where  # a lone surrogate is not JSON

    def test_a_capacity_beyond_its_column(self, sign_in: Any) -> None:
        admin = sign_in("admin")
        answer = admin.put("/api/providers/core-general/capacity",
                           {"accepting": True, "capacity": 2**40})  # fmt: skip
        assert answer.status_code == 422


class TestPlausible:
    def test_a_crime_reported_before_the_victim_was_born(self, triage: Api) -> None:
        victim = {"full_name": "Iris Vale", "date_of_birth": "1990-01-01"}
        body = referral_body(crime_reported_at="1980-05-01T10:00:00Z", victim=victim)
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "crime_reported_at"]

    def test_the_same_crime_reference_with_other_details_is_a_409_naming_them(
        self, triage: Api
    ) -> None:
        body = referral_body()
        first = triage.post("/api/referrals", body)
        assert first.status_code == 201
        other = {**body, "crime_type": "robbery",
                 "victim": {**body["victim"], "full_name": SECRET}}  # fmt: skip
        answer = triage.post("/api/referrals", other)
        assert answer.status_code == 409, answer.text
        detail = answer.json()["detail"]
        assert detail["fields"] == ["crime_type", "victim.full_name"]
        assert detail["failed"] == ["external_ref_reused"]
        assert SECRET not in answer.text
        again = triage.post("/api/referrals", body)  # the same body: still the same referral
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]

    def test_the_order_of_hate_strands_is_not_a_difference(self, triage: Api) -> None:
        body = referral_body(hate_strands=["race", "religion"])
        first = triage.post("/api/referrals", body).json()
        again = triage.post("/api/referrals", {**body, "hate_strands": ["religion", "race"]})
        assert again.status_code == 200 and again.json()["id"] == first["id"]

    def test_an_intake_replay_learns_nothing_triage_did_since(self, sign_in: Any) -> None:
        triage, feed = sign_in("triage"), sign_in("intake")
        body = referral_body()
        created = triage.post("/api/referrals", body).json()
        triage.event(created["id"], "contact_made", created["version"], channel="phone")
        replay = feed.post("/api/referrals", body)
        assert replay.status_code == 200
        receipt = replay.json()
        assert receipt["id"] == created["id"]
        assert (receipt["state"], receipt["version"]) == ("received", 1)  # as it arrived
        other = feed.post("/api/referrals", {**body, "notes": "changed"})
        assert other.status_code == 409
        assert other.json()["detail"].keys() == {"message", "failed", "fields"}


class TestLeaks:
    def test_a_provider_never_sees_another_providers_workers(self, triage: Api, sign_in) -> None:
        from tests.api.flows import assessing, ok
        from tests.api.test_routing import DA_HIGH, DA_HIGH_ASSESSMENT

        idva = sign_in("provider", provider="da-idva", username="idva-worker-ann")
        general = sign_in("provider", provider="core-general", username="general-worker-bo")
        ref = assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)
        ref = ok(triage.event(ref["id"], "route", ref["version"]))
        ref = ok(idva.event(ref["id"], "decline", ref["version"], reason="no_capacity"))
        ref = ok(general.event(ref["id"], "accept", ref["version"]))
        history = general.get(f"/api/referrals/{ref['id']}/history")
        assert history.status_code == 200
        assert "idva-worker-ann" not in history.text
        actors = {(e["action"], e["actor"]) for e in history.json()["events"]}
        assert ("decline", "another provider") in actors
        assert ("accept", "general-worker-bo") in actors
        page = Person(general.client, "general-worker-bo").get(f"/referrals/{ref['id']}")
        assert page.status_code == 200 and "general-worker-bo" in page.text
        assert "idva-worker-ann" not in page.text and "another provider" in page.text
        full = triage.get(f"/api/referrals/{ref['id']}/history").text
        assert "idva-worker-ann" in full  # triage still sees who


PUBLIC = {("POST", "/api/auth/token"), ("GET", "/healthz"), ("GET", "/readyz"),
          ("GET", "/metrics")}  # fmt: skip
FILL = {"referral_id": "00000000-0000-4000-8000-000000000000", "event": "contact_made",
        "code": "core-general", "alert_id": "1",
        "job_id": "00000000-0000-4000-8000-000000000000"}  # fmt: skip


# What intake may do: create referrals, read the provider directory, sign out.
INTAKE_MAY = {("POST", "/api/referrals"), ("DELETE", "/api/auth/token"),
              ("GET", "/api/providers"), ("GET", "/api/providers/core-general"),
              ("POST", "/api/imports/police-feed"), ("GET", f"/api/imports/{FILL['job_id']}"),
              ("GET", f"/api/imports/{FILL['job_id']}/rejects")}  # fmt: skip


def operations(client: Any) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [
        (method.upper(), path.format(**FILL))
        for path, ops in document["paths"].items()
        for method in ops
        if (method.upper(), path) not in PUBLIC
    ]


class TestAnswerOrder:
    """401 whatever the body; a role that may not call the route gets 403 before 422."""

    def test_without_a_token_every_operation_answers_401_whatever_the_body(
        self, client: Any
    ) -> None:
        wrong = []
        for method, path in operations(client):
            answer = client.request(method, path + "?nonsense=1", content=b"{not json",
                                    headers={"Content-Type": "application/json"})  # fmt: skip
            if answer.status_code != 401:
                wrong.append((method, path, answer.status_code))
        assert wrong == []

    def test_a_role_that_may_not_call_a_route_gets_403_before_422(self, sign_in: Any) -> None:
        intake = sign_in("intake")  # may only create referrals
        wrong = []
        for method, path in operations(intake.client):
            if (method, path) in INTAKE_MAY:
                continue
            headers = {**intake.headers, "Content-Type": "application/json"}
            answer = intake.client.request(method, path + "?nonsense=1", content=b"{not json",
                                           headers=headers)  # fmt: skip
            if answer.status_code not in (403, 404):
                wrong.append((method, path, answer.status_code))
        assert wrong == []


class TestUnknownQuery:
    @pytest.mark.parametrize(
        "path",
        ["/api/referrals", "/api/alerts", "/api/providers", "/api/reports/conversion",
         "/api/alerts/summary"],
    )  # fmt: skip
    def test_an_unknown_query_parameter_is_a_422_naming_it(self, sign_in: Any, path: str) -> None:
        caller = sign_in("commissioner" if "reports" in path else "triage")
        answer = caller.get(path, params={"stat": "closed"})  # a typo of "state"
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["query", "stat"]

    def test_the_declared_ones_still_work(self, triage: Api) -> None:
        answer = triage.get("/api/referrals", params={"state": "closed", "limit": 5})
        assert answer.status_code == 200


class TestExports:
    """Text a person typed never reaches a CSV or XLSX cell as a formula, nor splits a row."""

    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_a_provider_name_like_a_formula_is_text(self, sign_in: Any, fmt: str) -> None:
        import csv as csv_module
        import io

        from openpyxl import load_workbook

        from tests.api.flows import held

        admin = sign_in("admin")
        entry = admin.get("/api/providers/core-general").json()
        entry.pop("code")
        for key in ("accepting", "capacity"):
            entry.pop(key, None)
        formula = '=HYPERLINK("http://x.invalid","click")'
        body = {**entry, "code": "core-general", "name": formula, "respond_by_hours": 48,
                "accepting": True}  # fmt: skip
        assert admin.put("/api/providers/core-general", body).status_code == 200
        triage = sign_in("triage")
        held(triage, sign_in("provider", "core-general"))
        answer = sign_in("commissioner").get("/api/reports/providers", params={"format": fmt})
        assert answer.status_code == 200
        if fmt == "csv":
            rows = list(csv_module.DictReader(io.StringIO(answer.text)))
            names = [r["name"] for r in rows]
        else:
            sheet = load_workbook(io.BytesIO(answer.content)).active
            header = [c.value for c in next(sheet.iter_rows(max_row=1))]
            names = [
                row[header.index("name")] for row in sheet.iter_rows(min_row=2, values_only=True)
            ]
        assert "'" + formula in names
        assert formula not in names

    def test_a_carriage_return_does_not_split_a_csv_row(self) -> None:
        from triage.reports.formats import to_csv

        text = to_csv([{"name": "one\rtwo", "count": 1}]).decode()
        assert text == 'name,count\r\n"one\rtwo",1\r\n'


# Anything at all, where a route takes input: bytes, text, JSON with extreme numbers.
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["0000-01-01", "9999-12-31T23:59:59Z", "\x00", "\ud800", "=1+1", "-1e400"])
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)
BODIES = (
    st.binary(max_size=600)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(st.sampled_from(["version", "victim", "crime_type", "username", "password",
                                       "form_token", "capacity", "provider", "reason", "q"]),
                      JSON, max_size=6).map(lambda v: json.dumps(v).encode())
)  # fmt: skip
CONTENT_TYPES = st.sampled_from([
    "application/json", "application/x-www-form-urlencoded", "multipart/form-data",
    "multipart/form-data; boundary=x", "text/plain", "application/json; charset=latin-1", "",
])  # fmt: skip
SEGMENTS = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=30
    )
    | st.integers(min_value=-(2**70), max_value=2**70).map(str)
    | st.uuids().map(str)
    | st.sampled_from(["contact_made", "core-general", "1", "%00", "..", "VR-26-AAAAAAAA"])
)
QUERIES = st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3)


SEEN: "Counter[int]" = Counter()


def every_route(app: Any) -> list[tuple[str, str]]:
    """Every method and path the app serves, pages included, read from the app itself (so a
    new route is covered without editing this test); FastAPI keeps an included router's
    routes inside it, under the prefix it was included with."""
    found = []
    waiting = [("", route) for route in app.router.routes]
    while waiting:
        prefix, route = waiting.pop(0)
        included = getattr(route, "original_router", None)
        if included is not None:
            inner = prefix + route.include_context.prefix
            waiting.extend((inner, r) for r in included.routes)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.append((method, prefix + route.path))
    return found


def test_every_route_is_found() -> None:
    from triage.app import create_app
    from triage.config import Settings

    app = create_app(Settings(database_url="sqlite:////nonexistent/routes.db", scheduler=False))
    routes = every_route(app)
    assert ("POST", "/api/referrals/{referral_id}/events/{event}") in routes
    assert ("GET", "/queue") in routes and ("POST", "/sign-in") in routes
    assert len(routes) > 50


class TestAnyBytes:
    @pytest.fixture
    def callers(self, client: Any, sign_in: Any) -> tuple[list[dict[str, str]], Person]:
        """No token, a triage token; and a triage worker signed in to the pages."""
        name = f"any-bytes-{uuid.uuid4().hex[:8]}"
        triage = sign_in("triage", username=name)
        return [{}, triage.headers], Person(client, name)

    @settings(max_examples=int(os.environ.get("ANY_BYTES_EXAMPLES", "6")), deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=st.data())
    def test_no_route_answers_a_5xx_whatever_it_is_sent(
        self, client: Any, callers: tuple[list[dict[str, str]], Person], data: Any
    ) -> None:
        tokens, page = callers
        for method, template in every_route(client.app):
            path = re.sub(r"\{[^}]+\}", lambda _: quote(data.draw(SEGMENTS), safe=""), template)
            body = data.draw(BODIES) if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            headers = {"Content-Type": data.draw(CONTENT_TYPES)}
            query = data.draw(QUERIES)
            for caller in tokens:
                answer = client.request(method, path, content=body, params=query,
                                        headers={**headers, **caller})  # fmt: skip
                assert answer.status_code < 500, (method, template, answer.status_code)
                SEEN[answer.status_code] += 1
            answer = page.client.request(method, path, content=body, params=query, headers=headers)
            assert answer.status_code < 500, ("page", method, template, answer.status_code)


def teardown_module() -> None:
    print(f"\nany bytes: {sum(SEEN.values())} requests, answers {dict(sorted(SEEN.items()))}")
