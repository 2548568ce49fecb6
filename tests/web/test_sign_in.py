"""Signing in and out: a server-side session in a hardened cookie, each role to its home,
the sign-in redirect for an unsigned visitor (to this site only), the security headers."""

import re

import pytest
from fastapi.testclient import TestClient

from tests.support import PASSWORD
from tests.web.browser import PAGE_BASE, forms_of, text_of
from tests.web.conftest import Visit


@pytest.mark.parametrize(("role", "home"), [("triage", "/queue"), ("commissioner", "/dashboard"),
                                            ("admin", "/admin/users")])  # fmt: skip
def test_each_role_lands_on_its_home_page(person: Visit, role: str, home: str) -> None:
    visitor = person(role)
    assert visitor.home == home
    assert visitor.get("/").headers["location"] == home
    assert visitor.get(home).status_code == 200


def test_the_session_cookie_is_hardened(person: Visit, client: TestClient) -> None:
    visitor = person("triage")
    page = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
    form = forms_of(page.get("/sign-in").text)[0]
    answer = page.post("/sign-in", data={**form.fields, "username": visitor.username,
                                         "password": PASSWORD})  # fmt: skip
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie"
                  and v.startswith("triage_session="))  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # 127.0.0.1 only; any other host gets Secure
    remote = TestClient(client.app, base_url="https://triage.example.org", follow_redirects=False)
    form = forms_of(remote.get("/sign-in").text)[0]
    answer = remote.post("/sign-in", data={**form.fields, "username": visitor.username,
                                           "password": PASSWORD})  # fmt: skip
    assert "Secure" in answer.headers["set-cookie"]


def test_an_unsigned_visitor_is_sent_to_sign_in_and_back(person: Visit, client: TestClient) -> None:
    stranger = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
    answer = stranger.get("/alerts?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/alerts%3Fx%3D1"
    worker = person("triage")
    page = stranger.get(answer.headers["location"])
    form = forms_of(page.text)[0]
    signed = stranger.post("/sign-in", data={**form.fields, "username": worker.username,
                                             "password": PASSWORD})  # fmt: skip
    assert signed.headers["location"] == "/alerts?x=1"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "javascript:x"])
def test_next_is_followed_only_within_this_site(
    person: Visit, client: TestClient, elsewhere: str
) -> None:
    worker = person("triage")
    stranger = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
    page = stranger.get("/sign-in", params={"next": elsewhere})
    form = forms_of(page.text)[0]
    signed = stranger.post("/sign-in", data={**form.fields, "username": worker.username,
                                             "password": PASSWORD, "next": elsewhere})  # fmt: skip
    assert signed.headers["location"] == "/queue"


def test_a_wrong_password_says_so_without_saying_which(person: Visit, client: TestClient) -> None:
    worker = person("triage")
    stranger = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
    form = forms_of(stranger.get("/sign-in").text)[0]
    answer = stranger.post("/sign-in", data={**form.fields, "username": worker.username,
                                             "password": "not-it"})  # fmt: skip
    assert answer.status_code == 400
    words = text_of(answer.text)
    assert "There is a problem" in words and "Enter a correct username and password" in words
    assert 'href="#username"' in answer.text


def test_the_sign_in_form_needs_its_own_token(person: Visit, client: TestClient) -> None:
    worker = person("triage")
    stranger = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
    answer = stranger.post("/sign-in", data={"username": worker.username, "password": PASSWORD})
    assert answer.status_code == 400
    assert "expired" in text_of(answer.text)


def test_signing_out_ends_the_session(person: Visit) -> None:
    worker = person("triage")
    page = worker.get("/queue")
    saved = dict(worker.client.cookies)
    answer = worker.submit(page, "/sign-out")
    assert answer.headers["location"] == "/sign-in?signed_out=true"
    replay = TestClient(worker.client.app, base_url=PAGE_BASE, follow_redirects=False,
                        cookies=saved)  # fmt: skip
    assert replay.get("/queue").status_code == 303  # the old cookie is dead server-side


def test_every_page_carries_the_security_headers(person: Visit) -> None:
    page = person("triage").get("/queue")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_script(person: Visit) -> None:
    html = person("triage").get("/referrals/new").text
    assert "<script>" not in html and " onclick=" not in html and "style=" not in html


def test_the_api_docs_work_without_the_internet(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs.text


def test_a_role_on_another_roles_page_gets_403(person: Visit) -> None:
    answer = person("provider", "core-general").get("/queue")
    assert answer.status_code == 403
    assert "You cannot use this page" in text_of(answer.text)


def test_an_unknown_page_is_a_page_not_json(person: Visit) -> None:
    answer = person("triage").get("/nowhere")
    assert answer.status_code == 404
    assert "Page not found" in text_of(answer.text)


def test_the_sign_in_page_labels_its_fields(client: TestClient) -> None:
    page = TestClient(client.app, base_url=PAGE_BASE).get("/sign-in").text
    for field, words in (("username", "Username"), ("password", "Password")):
        assert re.search(rf'<label[^>]*for="{field}"[^>]*>\s*{words}\s*</label>', page)
    assert re.search(r"<button[^>]*>\s*Sign in\s*</button>", page)


def test_a_provider_signs_in_to_its_offers(person: Visit) -> None:
    worker = person("provider", "core-general")
    assert worker.home == "/offers"
    assert worker.get("/offers").status_code == 200
