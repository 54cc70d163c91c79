"""A fake IMDSv2 on 169.254.169.254:80 inside the web host's namespace, served by a thread of this process.

Like a real instance with http_tokens required: reads need a token from PUT /latest/api/token.
Answers placement/availability-zone, instance-type and, when given, placement/availability-zone-id;
anything else is 404. `serve_imds` returns once the socket listens; `close` stops it.
"""

from __future__ import annotations

import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from tests.host_mirror.netns import socket_in

ADDRESS = "169.254.169.254"


class FakeImds(HTTPServer):
    def __init__(self, sock: socket.socket, zone: str, instance_type: str, zone_id: str | None) -> None:
        # No bind here (HTTPServer's own looks the address up in DNS: 10 s where DNS does not answer);
        # the socket it made in this process's namespace gives way to the one in the web host's.
        super().__init__((ADDRESS, 80), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_name, self.server_port = ADDRESS, 80
        self.answers = {
            "/latest/meta-data/placement/availability-zone": zone,
            "/latest/meta-data/instance-type": instance_type,
            **({"/latest/meta-data/placement/availability-zone-id": zone_id} if zone_id else {}),
        }
        self.tokens: set[str] = set()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


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
    sock = socket_in(namespace, socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ADDRESS, 80))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return FakeImds(sock, zone, instance_type, zone_id)
