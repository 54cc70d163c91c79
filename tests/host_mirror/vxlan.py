"""Decoding what the receiver recorded: VXLAN, the inner Ethernet frame, IPv4/IPv6 and TCP.

`read_records` parses the receiver's file; `decode` one datagram; `streams` rebuilds each direction
of each TCP connection from the copies (in sequence order, duplicates dropped), so a test can say
"the 200 KB answer arrived whole" by comparing bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
TCP = 6
SYN = 0x02


@dataclass(frozen=True)
class Copy:
    """One mirrored TCP segment as it arrived: the datagram's length, the VNI and the inner packet."""

    datagram_length: int
    receiver: int  # index of the receiver address it came to
    sender: str  # the outer source address
    vni: int
    frame_length: int  # the inner Ethernet frame
    ip_version: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes


def read_records(path: Path) -> list[tuple[int, str, bytes]]:
    data = path.read_bytes()
    records, offset = [], 0
    while offset + 9 <= len(data):
        length, receiver, sender = struct.unpack_from("!IB4s", data, offset)
        records.append((receiver, str(ipaddress.IPv4Address(sender)), data[offset + 9 : offset + 9 + length]))
        offset += 9 + length
    return records


def decode(receiver: int, sender: str, datagram: bytes) -> Copy | None:
    """The TCP segment inside a VXLAN datagram; None for anything else (tests count those too)."""
    if len(datagram) < 8 + 14 or datagram[0] != 0x08:
        return None
    vni = int.from_bytes(datagram[4:7], "big")
    frame = datagram[8:]
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    packet = frame[14:]
    if ethertype == ETH_IPV4:
        header = (packet[0] & 0x0F) * 4
        (total,) = struct.unpack_from("!H", packet, 2)
        if packet[9] != TCP:
            return None
        src, dst = str(ipaddress.IPv4Address(packet[12:16])), str(ipaddress.IPv4Address(packet[16:20]))
        segment, version = packet[header:total], 4
    elif ethertype == ETH_IPV6:
        (length,) = struct.unpack_from("!H", packet, 4)
        if packet[6] != TCP:
            return None
        src, dst = str(ipaddress.IPv6Address(packet[8:24])), str(ipaddress.IPv6Address(packet[24:40]))
        segment, version = packet[40 : 40 + length], 6
    else:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", segment, 0)
    offset = (segment[12] >> 4) * 4
    return Copy(
        len(datagram),
        receiver,
        sender,
        vni,
        len(frame),
        version,
        src,
        dst,
        sport,
        dport,
        seq,
        segment[13],
        segment[offset:],
    )


def copies(path: Path) -> tuple[list[Copy], int]:
    """The decoded TCP copies, and how many datagrams were something else."""
    decoded, other = [], 0
    for receiver, sender, datagram in read_records(path):
        copy = decode(receiver, sender, datagram)
        if copy is None:
            other += 1
        else:
            decoded.append(copy)
    return decoded, other


def streams(found: list[Copy]) -> dict[tuple[str, int, str, int], bytes]:
    """Each direction's bytes, from the segment after its SYN on; a gap raises (the copy is not whole)."""
    by_direction: dict[tuple[str, int, str, int], list[Copy]] = defaultdict(list)
    for copy in found:
        by_direction[(copy.src, copy.sport, copy.dst, copy.dport)].append(copy)
    result = {}
    for key, segments in by_direction.items():
        syns = [s for s in segments if s.flags & SYN]
        if not syns:
            raise AssertionError(f"no SYN copied for {key}")
        base = (syns[0].seq + 1) % 2**32
        data = bytearray()
        for segment in sorted(segments, key=lambda s: (s.seq - base) % 2**32):
            if not segment.payload:
                continue
            start = (segment.seq - base) % 2**32
            if start > len(data):
                raise AssertionError(f"{key}: bytes {len(data)}-{start} were not copied")
            data += segment.payload[len(data) - start :]
        result[key] = bytes(data)
    return result
