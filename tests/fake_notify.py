"""A local fake of the GOV.UK Notify API, served from a thread for the tests.

It answers `POST /v2/notifications/email` and `/sms` as Notify does, checks each request's
JWT as Notify does (HS256 over `{"iss": service id, "iat": now}`, signed with the secret
part of the API key, `iat` within 30 s) and answers 403 to a bad one, records every request
as it came (raw bytes included), and answers in turn whatever it was told to: 201, Notify's
400, a 500, a 429, or no answer until well past the client's timeout.
"""

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"triage_test-{SERVICE_ID}-{SECRET}"

CREATED = "created"
REFUSED = "refused"  # 400, Notify's BadRequestError
BROKEN = "broken"  # 500
LIMITED = "limited"  # 429, Notify's RateLimitError
HANG = "hang"  # no answer until released or 10 s


@dataclass
class Received:
    """One request as the fake saw it."""

    path: str
    headers: dict[str, str]
    raw: bytes
    token_valid: bool
    token_problem: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.raw)
        return body


class FakeNotify:
    """Start with `with FakeNotify() as notify:`; `notify.base_url` is its address."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[str] = deque()
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeNotify":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *answers: str) -> None:
        """Answer the next requests with these, in order; `CREATED` once they run out."""
        self.answers.extend(answers)

    def next_answer(self) -> str:
        with self.lock:
            return self.answers.popleft() if self.answers else CREATED

    def check_token(self, authorization: str) -> tuple[bool, str | None, dict[str, Any]]:
        """Notify's check: a bearer JWT, HS256, issued by the service, signed with its secret,
        issued within 30 s of now."""
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return False, "no bearer token", {}
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, SECRET, algorithms=["HS256"], options={"require": ["iss", "iat"]}
            )
        except jwt.PyJWTError as error:
            return False, f"{type(error).__name__}: {error}", {}
        if header.get("alg") != "HS256" or header.get("typ") != "JWT":
            return False, f"header {header}", claims
        if claims["iss"] != SERVICE_ID:
            return False, f"issuer {claims['iss']}", claims
        if abs(time.time() - int(claims["iat"])) > 30:
            return False, "iat more than 30 s from now", claims
        return True, None, claims


def _handler(fake: FakeNotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
            pass  # quiet: the tests read `fake.received`

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            valid, problem, claims = fake.check_token(self.headers.get("Authorization", ""))
            with fake.lock:
                fake.received.append(
                    Received(self.path, dict(self.headers.items()), raw, valid, problem, claims)
                )
            if not valid:
                return self.reply(403, _errors(403, "AuthError", "Invalid token: signature"))
            if self.path not in ("/v2/notifications/email", "/v2/notifications/sms"):
                return self.reply(404, _errors(404, "NotFound", "Not found"))
            answer = fake.next_answer()
            if answer == REFUSED:
                self.reply(400, _errors(400, "BadRequestError", "Missing personalisation: body"))
            elif answer == BROKEN:
                self.reply(500, _errors(500, "Exception", "Internal server error"))
            elif answer == LIMITED:
                message = "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"
                self.reply(429, _errors(429, "RateLimitError", message))
            else:
                if answer == HANG:
                    fake.released.wait(10)
                self.reply(201, _created(json.loads(raw)))

        def reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # gone if the client gave up waiting (the timeout test)

    return Handler


def _errors(status: int, error: str, message: str) -> dict[str, Any]:
    return {"status_code": status, "errors": [{"error": error, "message": message}]}


def _created(request: dict[str, Any]) -> dict[str, Any]:
    notification_id = str(uuid.uuid4())
    return {
        "id": notification_id,
        "reference": request.get("reference"),
        "content": {"subject": "", "body": ""},
        "uri": f"/v2/notifications/{notification_id}",
        "template": {"id": request["template_id"], "version": 1, "uri": ""},
    }
