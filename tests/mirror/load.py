"""Load that arrives as real traffic does: open loop, over keep-alive connections, on 127.0.0.1.

Each client holds one HTTP/1.1 connection and sends on a fixed schedule, whatever the server does
(open loop): a slow answer does not slow the offered load, it shows as latency. A request's latency
runs from the moment it was *due*, so a request that had to wait for the one before it on the same
connection counts that wait too (no coordinated omission). Bounded in count and time: every run
stops by itself.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.mirror.servers import LOOPBACK


@dataclass
class LoadResult:
    """What the users saw: one latency (seconds, from when the request was due) per answered request."""

    offered: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    clients: int = 1
    interval: float = 1.0
    started: float = 0.0  # the first due time (event loop clock: time.monotonic)
    finished: float = 0.0  # the last answer

    def due(self, client: int, number: int) -> float:
        """When request `number` of `client` was due: clients start spread over one interval."""
        return self.started + (client / self.clients) * self.interval + number * self.interval

    @property
    def seconds(self) -> float:
        return max(0.0, self.finished - self.started)

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def share_over(self, seconds: float) -> float:
        """Share of the offered requests that took longer than `seconds` or got no answer."""
        slow = sum(1 for latency in self.latencies if latency > seconds)
        return (slow + self.offered - self.completed) / self.offered if self.offered else 0.0

    def percentile(self, percent: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[percent - 1]

    def summary(self) -> str:
        return (
            f"{self.completed}/{self.offered} answered, {self.throughput:.0f} req/s, "
            f"p50 {self.percentile(50) * 1000:.1f} ms, p99 {self.percentile(99) * 1000:.1f} ms, "
            f"over 100 ms {self.share_over(0.1):.2%}, statuses {dict(self.statuses)}"
            + (f", errors {dict(self.errors)}" if self.errors else "")
        )


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" not in headers:
        raise ValueError(f"answer without Content-Length: {lines[0]!r}")
    await reader.readexactly(int(headers["content-length"]))
    return status


async def _client(port: int, index: int, due_times: list[float], result: LoadResult, timeout: float, host: str) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(LOOPBACK, port), timeout)
    try:
        for number, due in enumerate(due_times):
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            request = f"GET /app/load?c={index}&n={number} HTTP/1.1\r\nHost: {host}\r\n\r\n"
            writer.write(request.encode())
            try:
                status = await asyncio.wait_for(_read_response(reader), timeout)
            except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as error:
                result.errors[type(error).__name__] += 1
                return  # the connection is unusable; its remaining requests count as unanswered
            result.latencies.append(loop.time() - due)
            result.statuses[status] += 1
            result.finished = max(result.finished, loop.time())
    finally:
        writer.close()


async def _run(port: int, clients: int, interval: float, seconds: float, timeout: float, host: str) -> LoadResult:
    loop = asyncio.get_running_loop()
    # Clients start spread over one interval, so the load is even, as many independent users are.
    result = LoadResult(clients=clients, interval=interval, started=loop.time() + 0.05)
    per_client = max(1, int(seconds / interval))
    schedules = [[result.due(i, n) for n in range(per_client)] for i in range(clients)]
    result.offered = clients * per_client
    await asyncio.gather(*(_client(port, i, due, result, timeout, host) for i, due in enumerate(schedules)))
    return result


def open_loop(
    port: int,
    clients: int = 40,
    interval: float = 0.2,
    seconds: float = 3.0,
    timeout: float = 10.0,
    host: str = "shop.example.test",
) -> LoadResult:
    """`clients` keep-alive connections, each sending a GET every `interval` seconds for `seconds`.

    The defaults are the load of issue 24: 40 clients every 200 ms, 200 requests a second.
    """
    # In a thread of its own: asyncio.run would otherwise close and unset this thread's event loop,
    # which the Pulumi mock engine of the next test in this process still expects to find.
    results: list[LoadResult] = []
    worker = threading.Thread(
        target=lambda: results.append(asyncio.run(_run(port, clients, interval, seconds, timeout, host)))
    )
    worker.start()
    worker.join(timeout=seconds + 2 * timeout + 30)
    if not results:
        raise RuntimeError(f"the load did not finish within {seconds + 2 * timeout + 30:.0f} s")
    return results[0]
