"""A fake IMDSv2 on 169.254.169.254:80 inside the web host's namespace (standard library only).

    python imds.py ZONE INSTANCE_TYPE [ZONE_ID]
Like a real instance with http_tokens required: reads need a token from PUT /latest/api/token.
Answers placement/availability-zone, instance-type and, when given, placement/availability-zone-id;
anything else is 404. READY on stdout once
listening.
"""

from __future__ import annotations

import secrets
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

TOKENS: set[str] = set()


class Handler(BaseHTTPRequestHandler):
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
        TOKENS.add(token)
        self._answer(200, token)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") not in TOKENS:
            self._answer(401, "Unauthorized")
        elif self.path == "/latest/meta-data/placement/availability-zone":
            self._answer(200, sys.argv[1])
        elif self.path == "/latest/meta-data/placement/availability-zone-id" and len(sys.argv) > 3:
            self._answer(200, sys.argv[3])
        elif self.path == "/latest/meta-data/instance-type":
            self._answer(200, sys.argv[2])
        else:
            self._answer(404, "Not Found")


class Server(HTTPServer):
    def server_bind(self) -> None:
        # HTTPServer's own looks the address up in DNS (getfqdn): 10 s where DNS does not answer.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "169.254.169.254", 80


if __name__ == "__main__":
    server = Server(("169.254.169.254", 80), Handler)
    print("READY", flush=True)
    server.serve_forever()
