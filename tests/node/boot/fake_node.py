"""What nginx would serve on a configured node, on 127.0.0.1: the traffic port and the health check.

The boot script's self-check looks for listeners on the node port and the health port and asks the
health endpoint for HTTP 200. The test decides which of those hold: the node port listening or not,
the health port closed, silent (accepts and never answers) or answering with a given status.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from tests.ports import closed_socket

HEALTH_PATH = "/-/healthcheck"


def closed_url() -> tuple[str, socket.socket]:
    """http:// on a port held closed, and the socket that holds it (keep it open while the URL is used)."""
    held = closed_socket()
    return f"http://127.0.0.1:{held.getsockname()[1]}", held


@dataclass
class FakeNode:
    """Listeners standing in for the node's nginx; `health_status` None means a silent health port;
    `node_listens_after` seconds: the node port is bound at once and starts listening that long after
    the script restarts nginx (see listen_after_restart)."""

    node_listens: bool = True
    node_listens_after: float = 0
    health_listens: bool = True
    health_status: int | None = 200
    health_path: str = HEALTH_PATH
    health_requests: list[str] = field(default_factory=list)
    node_port: int = 0
    health_port: int = 0
    _sockets: list[socket.socket] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _late: socket.socket | None = None
    _late_thread: threading.Thread | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> FakeNode:
        self._done.clear()  # the runs' stand-ins are module-level: one may be entered again
        if self.node_listens and self.node_listens_after:
            self._late = self._closed()
            self.node_port = self._late.getsockname()[1]
        else:
            self.node_port = (self._listener() if self.node_listens else self._closed()).getsockname()[1]
        if not self.health_listens:
            self.health_port = self._closed().getsockname()[1]
        elif self.health_status is None:
            self.health_port = self._listener().getsockname()[1]  # accepts (backlog), never answers
        else:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
            self._server.daemon_threads = True
            self.health_port = self._server.server_address[1]
            # A short poll interval keeps shutdown (and so each test's teardown) quick.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._done.set()
        if self._late_thread is not None:
            self._late_thread.join(timeout=5)
        for listener in self._sockets:
            listener.close()

    def listen_after_restart(self, events: Path) -> None:
        """With node_listens_after: listen that long after the script restarts nginx (the stand-in
        systemctl logs it to `events`), so the self-check's wait starts with the node port closed,
        however long the steps before it took."""
        late = self._late
        if late is None:
            return

        def listen_late() -> None:
            while "systemctl restart nginx" not in events.read_text():
                if self._done.wait(0.01):
                    return
            if not self._done.wait(self.node_listens_after):
                late.listen(8)

        self._late_thread = threading.Thread(target=listen_late, daemon=True)
        self._late_thread.start()

    def _closed(self) -> socket.socket:
        held = closed_socket()
        self._sockets.append(held)
        return held

    def _listener(self) -> socket.socket:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        self._sockets.append(listener)
        return listener

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                node.health_requests.append(self.path)
                status = node.health_status if self.path == node.health_path else 404
                assert status is not None
                body = b"ok\n" if status == 200 else b"not ready\n"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
