"""Many requests over a few keep-alive connections, one at a time, as a handful of real users send them.

A thin HTTP/1.1 client on raw sockets: http.client parses every answer's headers with email.parser,
which cost more CPU per request than the NGINX or Envoy under test. Answers must carry
Content-Length (NGINX's and Envoy's do, and so do the stand-ins'); one that says `Connection: close`
makes the next request on its slot open a new connection, as http.client would.
"""

from __future__ import annotations

import socket
import time
from typing import BinaryIO

from tests.mirror.servers import LOOPBACK


class _Connection:
    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader: BinaryIO = self.sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def round_robin(
    port: int,
    targets: list[str],
    clients: int,
    method: str = "GET",
    body: bytes | None = None,
    host: str = "shop.example.test",
    timeout: float = 10.0,
) -> list[tuple[int, bytes, float]]:
    """Send `method target` for each target over `clients` keep-alive connections, round robin, each
    waiting for its answer before the next request: (status, body, seconds) of each, in order."""
    length = b"" if body is None else f"Content-Length: {len(body)}\r\n".encode()
    conns: list[_Connection | None] = [None] * clients
    results: list[tuple[int, bytes, float]] = []
    try:
        for index, target in enumerate(targets):
            slot = index % clients
            conn = conns[slot] or _Connection(port, timeout)
            conns[slot] = conn
            started = time.monotonic()
            conn.sock.sendall(
                f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n".encode() + length + b"\r\n" + (body or b"")
            )
            status_line = conn.reader.readline(65537)
            if not status_line:
                raise ConnectionError(f"{method} {target}: the server closed the connection without an answer")
            status = int(status_line.split(None, 2)[1])
            headers: dict[bytes, bytes] = {}
            while (line := conn.reader.readline(65537)) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if b"content-length" not in headers:
                raise ValueError(f"{method} {target}: answer without Content-Length: {status_line!r}")
            length_of_answer = int(headers[b"content-length"])
            answer = conn.reader.read(length_of_answer)
            if len(answer) != length_of_answer:
                raise ConnectionError(f"{method} {target}: the answer broke off after {len(answer)} bytes")
            results.append((status, answer, time.monotonic() - started))
            if headers.get(b"connection", b"").lower() == b"close":
                conn.close()
                conns[slot] = None
    finally:
        for open_conn in conns:
            if open_conn is not None:
                open_conn.close()
    return results
