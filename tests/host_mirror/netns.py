"""Sockets in a network namespace the lab made, created by this process (no helper program to start).

setns(2) moves only the thread that calls it, and a socket stays in the namespace it was created in.
So a short-lived thread enters the namespace, creates the socket and ends; the socket is then used
from any thread, and no thread of this process (pytest's own, moto's clients) ever leaves the host's
namespace. Python 3.11 has no os.setns, hence libc's through ctypes.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from http.server import HTTPServer
from socketserver import BaseRequestHandler

CLONE_NEWNET = 0x40000000
# Not in Python's socket module: like SO_RCVBUF, but past net.core.rmem_max (root only).
SO_RCVBUFFORCE = 33
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in(namespace: str, family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
    """A new socket of the named namespace (/run/netns/NAME)."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter_and_make() -> None:
        try:
            handle = os.open(f"/run/netns/{namespace}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(handle, CLONE_NEWNET) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"cannot enter the network namespace {namespace}: {os.strerror(error)}")
            finally:
                os.close(handle)
            made.append(socket.socket(family, kind))
        except BaseException as error:  # handed to the caller's thread
            failed.append(error)

    thread = threading.Thread(target=enter_and_make, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


def listening_in(namespace: str, family: socket.AddressFamily, address: tuple[str, int]) -> socket.socket:
    """A TCP socket of the namespace listening on `address` (SO_REUSEADDR; an IPv6 one takes IPv4 too,
    as http.server's does)."""
    sock = socket_in(namespace, family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock


class NamespaceHTTPServer(HTTPServer):
    """An http.server server on a listening socket of a lab namespace (listening_in), served by a thread
    of this process until close(). A subclass sets what its handler reads before calling this."""

    def __init__(
        self, sock: socket.socket, name: str, handler: Callable[..., BaseRequestHandler], poll_interval: float
    ) -> None:
        port = sock.getsockname()[1]
        # No bind here (HTTPServer's own looks the address up in DNS: 10 s where DNS does not answer);
        # the socket it made in this process's namespace gives way to the namespace's.
        super().__init__((name, port), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_name, self.server_port = name, port
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()
