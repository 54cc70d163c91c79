"""A fake IMDSv2 on 169.254.169.254:80 inside the web host's namespace, served by a thread of this process.

Like a real instance with http_tokens required: reads need a token from PUT /latest/api/token.
Answers placement/availability-zone, instance-type and, when given, placement/availability-zone-id;
anything else is 404. `serve_imds` returns once the socket listens; `close` stops it.
"""

from __future__ import annotations

import secrets
import socket
from http.server import BaseHTTPRequestHandler

from tests.host_mirror.netns import NamespaceHTTPServer, listening_in

ADDRESS = "169.254.169.254"


class FakeImds(NamespaceHTTPServer):
    def __init__(self, sock: socket.socket, zone: str, instance_type: str, zone_id: str | None) -> None:
        self.answers = {
            "/latest/meta-data/placement/availability-zone": zone,
            "/latest/meta-data/instance-type": instance_type,
            **({"/latest/meta-data/placement/availability-zone-id": zone_id} if zone_id else {}),
        }
        self.tokens: set[str] = set()
        super().__init__(sock, ADDRESS, Handler, poll_interval=0.05)


class Handler(BaseHTTPRequestHandler):
    server: FakeImds

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if self.path != "/latest/api/token" or not ttl.isdigit():
            self._answer(400, "Bad Request")
            return
        token = secrets.token_urlsafe(16)
        self.server.tokens.add(token)
        self._answer(200, token)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") not in self.server.tokens:
            self._answer(401, "Unauthorized")
        elif self.path in self.server.answers:
            self._answer(200, self.server.answers[self.path])
        else:
            self._answer(404, "Not Found")


def serve_imds(namespace: str, zone: str, instance_type: str, zone_id: str | None) -> FakeImds:
    """The fake IMDSv2 of `namespace`, listening; without `zone_id`, availability-zone-id answers 404."""
    return FakeImds(listening_in(namespace, socket.AF_INET, (ADDRESS, 80)), zone, instance_type, zone_id)
