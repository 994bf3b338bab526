"""Open-loop load: requests arrive as a Poisson stream at a stated rate, whatever the server's speed.

A closed-loop client waits for each answer before it sends the next request, so a slow server slows
its own load and the slow period hides in fewer samples ("coordinated omission"). Here each request
has a scheduled arrival time drawn in advance (exponential gaps at ``rate_per_s``); it is sent at that
time on its own connection from a pool large enough that no request waits for another, and its latency
is measured from the scheduled arrival, so time spent queued on the client side counts as well.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

Request = Callable[[], tuple[str, str, dict[str, str]]]
"""Makes one request: ``(method, path, headers)``."""


@dataclass(frozen=True)
class OpenLoopResult:
    """What an open-loop run measured."""

    scheduled: int
    """Requests whose arrival fell within the run."""
    latencies_s: list[float]
    """Per successful request: completion minus scheduled arrival, in seconds."""
    shed: int
    """Requests answered 503 (shed under overload)."""
    failed: int
    """Requests that got no HTTP answer (connection refused, reset or closed by the server)."""
    elapsed_s: float
    """From the run's start (arrival offset 0) to the last completion."""

    @property
    def achieved_rps(self) -> float:
        """Successful requests per second over the run."""
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0


def arrival_times(*, rate_per_s: float, seconds: float, seed: int) -> list[float]:
    """Offsets in seconds, from 0, of a Poisson stream's arrivals within ``seconds``."""
    rng = random.Random(seed)
    times, t = [], rng.expovariate(rate_per_s)
    while t < seconds:
        times.append(t)
        t += rng.expovariate(rate_per_s)
    return times


async def drive_open_loop(
    base: str, *, rate_per_s: float, seconds: float, make_request: Request, seed: int = 17
) -> OpenLoopResult:
    """Send ``make_request()`` at Poisson arrivals for ``seconds``; wait for every answer.

    Raises:
        RuntimeError: a request answered neither 2xx nor 503.
    """
    arrivals = arrival_times(rate_per_s=rate_per_s, seconds=seconds, seed=seed)
    latencies: list[float] = []
    shed = failed = 0
    # idle connections are dropped before uvicorn's 5 s keep-alive timeout can close one under a new request
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=200, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
        start = time.perf_counter()

        async def one(scheduled: float) -> None:
            nonlocal shed, failed
            method, path, headers = make_request()
            try:
                response = await http.request(method, path, headers=headers)
            except httpx.TransportError:
                failed += 1
                return
            if response.status_code == 503:
                shed += 1
                return
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
            latencies.append(time.perf_counter() - scheduled)

        tasks = []
        for offset in arrivals:
            scheduled = start + offset
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return OpenLoopResult(scheduled=len(arrivals), latencies_s=latencies, shed=shed, failed=failed, elapsed_s=elapsed)
