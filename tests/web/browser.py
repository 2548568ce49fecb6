"""A signed-in person at the pages, for tests without a real browser: a TestClient with its
own cookies, which reads each page's forms the way a browser would post them."""

import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from tests.support import PASSWORD

PAGE_BASE = "http://127.0.0.1"  # a local address: the session cookie is not Secure here


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    """Each form's action and the value of each hidden field (what a browser sends
    unchanged: the CSRF token, the version read, the idempotency key)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(found.get("action", ""), found.get("method", "get").lower()))
        elif tag == "input" and self.forms and found.get("type") == "hidden":
            self.forms[-1].fields[found.get("name", "")] = found.get("value", "")


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Person:
    """Someone signed in to the pages through the sign-in form."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
        self.username = username
        page = self.client.get("/sign-in")
        form = next(f for f in forms_of(page.text) if f.action.startswith("/sign-in"))
        answer = self.client.post(
            form.action, data={**form.fields, "username": username, "password": PASSWORD}
        )
        assert answer.status_code == 303, answer.text
        self.home = answer.headers["location"]

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.client.get(path, **kwargs)

    def submit(self, page: Response | str, action: str, **data: Any) -> Response:
        """Post the form with this action from the page, its hidden fields as they were."""
        html = page if isinstance(page, str) else page.text
        form = next((f for f in forms_of(html) if f.action == action and f.method == "post"),
                    None)  # fmt: skip
        assert form is not None, f"no form posting to {action}"
        return self.client.post(action, data={**form.fields, **data})

    def follow(self, answer: Response) -> Response:
        assert answer.status_code == 303, (answer.status_code, answer.text[:2000])
        return self.client.get(answer.headers["location"])


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces folded (for asserting what people read)."""
    words = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    words = re.sub(r"<[^>]+>", " ", words)
    return re.sub(r"\s+", " ", words.replace("&#39;", "'").replace("&amp;", "&")).strip()


def new_username(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}"
