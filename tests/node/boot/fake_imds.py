"""A fake EC2 instance metadata service on 127.0.0.1 that only speaks IMDSv2.

Like a real instance with ``http_tokens = required``: every read needs a session token from
``PUT /latest/api/token`` (which needs the TTL header), and reads without it get 401.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"


@dataclass(frozen=True)
class ImdsRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    had_valid_session_token: bool


@dataclass
class FakeImds:
    """IMDSv2 handing out `credentials` (AccessKeyId, SecretAccessKey, optional Token) for `role`.

    `credentials_missing_for` makes the first N credential listings answer 404, like an instance
    whose profile is not attached yet.
    """

    credentials: dict[str, str] | None
    role: str = "wallarm-node"
    credentials_missing_for: int = 0
    requests: list[ImdsRequest] = field(default_factory=list)
    _session_tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeImds:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self, status: int, body: str, content_type: str = "text/plain") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                imds._record("PUT", self.path, False)
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
                if self.path != "/latest/api/token":
                    self._answer(404, "Not Found")
                elif not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    self._answer(400, "Bad Request")
                else:
                    token = secrets.token_urlsafe(32)
                    with imds._lock:
                        imds._session_tokens.add(token)
                    self._answer(200, token)

            def do_GET(self) -> None:
                with imds._lock:
                    valid = self.headers.get("X-aws-ec2-metadata-token") in imds._session_tokens
                imds._record("GET", self.path, valid)
                if not valid:
                    self._answer(401, "Unauthorized")
                elif self.path == CREDENTIALS_PATH:
                    with imds._lock:
                        missing = imds.credentials is None or imds.credentials_missing_for > 0
                        imds.credentials_missing_for -= 1
                    if missing:
                        self._answer(404, "Not Found")
                    else:
                        self._answer(200, imds.role)
                elif self.path == CREDENTIALS_PATH + imds.role and imds.credentials is not None:
                    document = {
                        "Code": "Success",
                        "LastUpdated": "2026-01-01T00:00:00Z",
                        "Type": "AWS-HMAC",
                        "Expiration": "2099-01-01T00:00:00Z",
                        **imds.credentials,
                    }
                    self._answer(200, json.dumps(document), "application/json")
                else:
                    self._answer(404, "Not Found")

        return Handler

    def _record(self, method: str, path: str, valid: bool) -> None:
        with self._lock:
            self.requests.append(ImdsRequest(method, path, valid))
