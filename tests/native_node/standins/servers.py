"""Fake Wallarm installer host (HTTPS, self-signed) and fake node readiness endpoint, on 127.0.0.1."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (P-256: generated in milliseconds) and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


class _Server:
    """A threaded HTTP server on a free loopback port, answering GETs with `answer(path)`."""

    def __init__(self, answer: Callable[[str], tuple[int, bytes]], tls: ssl.SSLContext | None = None) -> None:
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests[self.path] += 1
                status, body = answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class InstallerHost(_Server):
    """meganode.wallarm.com over HTTPS: `files` maps a path to (HTTP status, body); others are 404."""

    def __init__(self, files: dict[str, tuple[int, bytes]], cert: Path, key: Path) -> None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        super().__init__(lambda path: files.get(path, (404, b"Not Found")), tls)


class ReadyEndpoint(_Server):
    """The node's /ready: HTTP 200 once `is_ready()` holds (e.g. the installer ran), 503 before."""

    def __init__(self, is_ready: Callable[[], bool]) -> None:
        def answer(path: str) -> tuple[int, bytes]:
            if path != "/ready":
                return 404, b"Not Found"
            return (200, b"ok") if is_ready() else (503, b"not ready")

        super().__init__(answer)
