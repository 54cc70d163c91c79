"""Tiny loopback servers: the primary app, a recording mirror receiver (HTTP or HTTPS) and a DNS stub.

Each is a context manager that serves from a daemon thread and stops within a bounded time, so a
failing test never leaves a listener behind. Handlers that sleep wake up early when the server stops.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from socketserver import StreamRequestHandler
from types import TracebackType
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on right now (connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def free_port_pair() -> int:
    """A port P such that nothing listens on P or P + 1 right now (the NGINX relay takes both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
            first.bind((LOOPBACK, 0))
            port: int = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as second:
                try:
                    second.bind((LOOPBACK, port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two free neighbouring loopback ports")


def wait_for_port(port: int, timeout: float = 5.0) -> None:
    """Return once something accepts connections on the loopback port; raise after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout}s") from None
            time.sleep(0.02)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as a server saw it; header names are lower-case."""

    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    received_at: float


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: hundreds of concurrent users would meet dropped SYNs here.
    request_queue_size = 1024

    def __init__(self, owner: HttpStandIn) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _Handler)

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        # One call per accepted connection (TLS: after its handshake): what keep-alive is measured by.
        self.owner.count_connection(bool(getattr(request, "session_reused", False)))
        super().process_request(request, client_address)


class _Handler(StreamRequestHandler):
    """HTTP/1.1 with keep-alive, parsed by hand: http.server's handler parses each request's headers
    with email.parser and writes its answer in several pieces, which made the stand-ins cost more CPU
    than the NGINX or Envoy under test. Same behaviour: Content-Length bodies, Expect: 100-continue,
    HTTP/1.0 closes unless it asks for keep-alive, `Connection: close` closes."""

    # The answer leaves in one write; with Nagle on, a kept-alive peer would still wait on a delayed ACK.
    disable_nagle_algorithm = True
    server: _RecordingServer

    def handle(self) -> None:
        try:
            while self._handle_one():
                pass
        except (OSError, ValueError):
            pass  # the peer hung up mid-request, or sent what is not HTTP: nothing left to answer

    def _handle_one(self) -> bool:
        """Serve one request; whether the connection stays open for another."""
        request_line = self.rfile.readline(65537)
        if not request_line:
            return False
        method, target, version = request_line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        owner = self.server.owner
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(target)
        owner.record(
            ReceivedRequest(
                method=method,
                path=url.path,
                query=url.query,
                body=body,
                headers=headers,
                received_at=time.monotonic(),
            )
        )
        if owner.delay:
            owner.stopping.wait(owner.delay)
        payload = owner.response_body
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(payload)}\r\n\r\n"
        try:
            self.wfile.write(head.encode() + (payload if method != "HEAD" else b""))
        except OSError:
            # NGINX gave up on a slow mirror and closed the connection: nothing left to answer.
            return False
        connection = headers.get("connection", "").lower()
        return connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")


class HttpStandIn:
    """An HTTP(S) server on 127.0.0.1 that records every request and answers `response_body`.

    `delay` (seconds) makes it accept and read a request, then wait before answering: a slow endpoint.
    Give `tls_cert`/`tls_key` to serve HTTPS; `sni_names` then lists the SNI of each handshake.
    """

    def __init__(
        self,
        response_body: bytes = b"ok",
        delay: float = 0.0,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self.response_body = response_body
        self.delay = delay
        self.stopping = threading.Event()
        self.sni_names: list[str | None] = []
        self.connections = 0
        self.resumed_sessions = 0
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._httpd = _RecordingServer(self)
        if tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_cert, tls_key)
            context.sni_callback = self._on_sni
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _on_sni(self, _sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        with self._lock:
            self.sni_names.append(name)

    def count_connection(self, resumed: bool) -> None:
        with self._lock:
            self.connections += 1
            self.resumed_sessions += resumed

    def record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self.sni_names.clear()
            self.connections = self.resumed_sessions = 0

    def wait_for(self, count: int, timeout: float = 3.0) -> list[ReceivedRequest]:
        """The requests once at least `count` arrived, or whatever arrived after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 5.0) -> list[ReceivedRequest]:
        """The requests once none arrived for `quiet` seconds (bounded by `timeout`): `quiet` after the
        last arrival, or after the call if none came (not in whole `quiet` steps, which waited up to
        twice as long)."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.requests), time.monotonic()
        while (now := time.monotonic()) < deadline and now - since < quiet:
            time.sleep(0.01)
            count = len(self.requests)
            if count != seen:
                seen, since = count, time.monotonic()
        return self.requests

    def start(self) -> HttpStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HttpStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class DnsStandIn:
    """A UDP DNS server on 127.0.0.1 answering A queries for `names` with 127.0.0.1.

    Every other A name gets NXDOMAIN; AAAA queries get an empty answer. `queries` records
    (name, type) pairs so a test can tell NGINX really asked at run time.
    """

    def __init__(self, names: set[str], ttl: int = 1) -> None:
        self.names = {name.lower().rstrip(".") for name in names}
        self.ttl = ttl
        self.queries: list[tuple[str, int]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = self._answer(packet)
            if answer:
                self._sock.sendto(answer, peer)

    def _answer(self, packet: bytes) -> bytes | None:
        if len(packet) < 12:
            return None
        query_id, _flags, qdcount = struct.unpack("!HHH", packet[:6])
        if qdcount != 1:
            return None
        labels: list[str] = []
        offset = 12
        while offset < len(packet) and packet[offset]:
            length = packet[offset]
            labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
            offset += 1 + length
        question_end = offset + 5
        if question_end > len(packet):
            return None
        qtype, _qclass = struct.unpack("!HH", packet[offset + 1 : question_end])
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        question = packet[12:question_end]
        known = name in self.names
        answers = b""
        if known and qtype == 1:
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, self.ttl, 4) + socket.inet_aton(LOOPBACK)
        rcode = 0 if known else 3
        header = struct.pack("!HHHHHH", query_id, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
        return header + question + answers

    def start(self) -> DnsStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> DnsStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class HungStandIn:
    """A TCP listener on 127.0.0.1 that accepts connections, reads what arrives and never answers.

    An analyser that is up but stuck. `max_open` is the most connections it held open at once: what
    a cap on the mirror's connections is measured by. Every connection is closed on stop.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(1024)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self.max_open = 0
        self._open: set[socket.socket] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        try:
                            conn, _ = sock.accept()
                        except OSError:
                            continue
                        conn.setblocking(False)
                        selector.register(conn, selectors.EVENT_READ)
                        self._open.add(conn)
                        self.accepted += 1
                        self.max_open = max(self.max_open, len(self._open))
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:  # the peer gave up: forget the connection
                        selector.unregister(sock)
                        self._open.discard(sock)
                        sock.close()
            for conn in self._open:
                conn.close()

    @property
    def open_now(self) -> int:
        return len(self._open)

    def __enter__(self) -> HungStandIn:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


class BlackholeStandIn:
    """A port whose SYNs go unanswered: a listener with the smallest backlog that never accepts.

    Once its one queued connection is taken, Linux drops further SYNs while the queue is full, so a
    connect() waits until its own timeout, as towards a blackholed address.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        # Fill the queue now, so even the first copy meets a dropped SYN.
        self._filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._filler.settimeout(1)
        self._filler.connect((LOOPBACK, self.port))

    def __enter__(self) -> BlackholeStandIn:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._filler.close()
        self._listener.close()
