"""Stand-in for the NLB's UDP 4789 listener: records every datagram it gets, in a file, until SIGTERM.

Run inside the receiver's network namespace (standard library only, started by path):
    python receiver.py OUT ADDRESS [ADDRESS ...]
Each record in OUT is: 4-byte big-endian length, 1-byte index of the address it came to, the sender's
IPv4 address (4 bytes), the datagram.
OUT.ready appears once every socket is bound. The kernel reassembles IP fragments before a datagram
reaches the socket, as the NLB node's target would see it.
"""

from __future__ import annotations

import selectors
import signal
import socket
import struct
import sys
from pathlib import Path


def main() -> None:
    out = Path(sys.argv[1])
    selector = selectors.DefaultSelector()
    sockets: dict[int, socket.socket] = {}
    for index, address in enumerate(sys.argv[2:]):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((address, 4789))
        selector.register(sock, selectors.EVENT_READ, index)
        sockets[index] = sock
    running = True

    def stop(signum: int, frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    with out.open("wb") as sink:
        Path(f"{out}.ready").touch()
        # After SIGTERM, what is queued in the sockets is still read (drained) before exiting, so a
        # receiver that lagged behind on a busy machine loses nothing the kernel delivered.
        while True:
            stopping = not running
            ready = selector.select(timeout=0 if stopping else 0.05)
            for key, _ in ready:
                data, (sender, _) = sockets[key.data].recvfrom(65535)
                sink.write(struct.pack("!IB4s", len(data), key.data, socket.inet_aton(sender)) + data)
                sink.flush()
            if stopping and not ready:
                break


if __name__ == "__main__":
    main()
