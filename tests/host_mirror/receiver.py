"""Stand-in for the NLB's UDP 4789 listener: sockets in the receiver's namespace, read by this process.

One socket per NLB address. The kernel queues what arrives (a receive buffer far larger than a
test's copies, so nothing is dropped while no one reads) until `drain` records it, in the file
`vxlan.read_records` reads: per datagram a 4-byte big-endian length, a 1-byte index of the address
it came to, the sender's IPv4 address (4 bytes), the datagram. The kernel reassembles IP fragments
before a datagram reaches the socket, as the NLB node's target would see it.
"""

from __future__ import annotations

import select
import socket
import struct
from pathlib import Path

from tests.host_mirror.netns import SO_RCVBUFFORCE, socket_in

VXLAN_PORT = 4789
BUFFER = 32 << 20


class Receiver:
    def __init__(self, namespace: str, addresses: tuple[str, ...], out: Path) -> None:
        self.sockets: list[socket.socket] = []
        self.count = 0  # datagrams recorded so far
        self._sink = out.open("wb")
        try:
            for address in addresses:
                sock = socket_in(namespace, socket.AF_INET, socket.SOCK_DGRAM)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER)
                sock.bind((address, VXLAN_PORT))
                sock.setblocking(False)
        except BaseException:
            self.close()
            raise

    def drain(self) -> int:
        """Records every datagram queued now; how many were recorded in all."""
        for index, sock in enumerate(self.sockets):
            while True:
                try:
                    data, (sender, _) = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                self._sink.write(struct.pack("!IB4s", len(data), index, socket.inet_aton(sender)) + data)
                self.count += 1
        return self.count

    def wait(self, timeout: float) -> None:
        """Until a datagram is queued, or `timeout` seconds."""
        select.select(self.sockets, [], [], timeout)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self._sink.close()
