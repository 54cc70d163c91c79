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
