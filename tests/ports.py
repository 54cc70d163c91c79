"""Loopback ports held closed, for tests of what happens when nothing listens."""

from __future__ import annotations

import socket
from types import TracebackType


def closed_socket() -> socket.socket:
    """A loopback TCP port held closed: bound and never listening, so a connection is refused, and no
    other process can take the port while the socket is open. A port bound once and released could
    be taken by another test's server before the code under test connected (seen under load: a boot
    script got a silent listener's timeout instead of "nothing listens")."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    return held


class RefusingPort:
    """A port held closed (closed_socket) while the block runs."""

    def __enter__(self) -> int:
        self._held = closed_socket()
        port: int = self._held.getsockname()[1]
        return port

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._held.close()
