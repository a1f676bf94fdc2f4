"""Live health per deployment: the circuit breaker, and moving averages of latency and errors.

The :class:`Observe` handler sits just outside the provider attempt, so it sees every attempt
(the first, a fallback's, a cascade's escalation) with its own deployment. Latency is the time
to the first token for a streamed request and to the whole answer otherwise, from the attempt's
start. Routing reads a :meth:`Health.snapshot`: plain values, so the choice made from them is
a pure function (replayable). With Redis the replicas share open circuits and these averages
(:mod:`costops.routing.circuits`); without, each keeps its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from costops.errors import CostopsError
from costops.pipeline.contract import Call, Next, Reply
from costops.routing.breaker import Breaker
from costops.routing.failures import failure_kind

ALPHA = 0.2
"""Weight of the newest observation: about the last ten attempts count."""
_KEEP = 1 - ALPHA


@dataclass(frozen=True, slots=True)
class DeploymentHealth:
    circuit: str = "closed"
    """``closed``, ``open`` or ``half-open``."""
    latency_ms: float | None = None
    """Moving average of successful attempts; None before the first."""
    error_rate: float = 0.0
    """Moving average of provider failures (0 = none, 1 = all)."""
    attempts: int = 0


HEALTHY = DeploymentHealth()


class _Seen:
    """One deployment's moving averages (updated in place on every attempt)."""

    __slots__ = ("latency_ms", "error_rate", "attempts")

    def __init__(self) -> None:
        self.latency_ms: float | None = None
        self.error_rate = 0.0
        self.attempts = 0


class Health:
    def __init__(self, breaker: Breaker, clock: Callable[[], float] = time.monotonic, shared: Any = None) -> None:
        self.breaker, self.clock = breaker, clock
        self.shared = shared
        """:class:`~costops.routing.circuits.SharedCircuits`, or None (this process only)."""
        self._seen: dict[str, _Seen] = {}
        self._circuits = breaker.circuits

    def _of(self, name: str) -> _Seen:
        seen = self._seen.get(name)
        if seen is None:
            seen = self._seen[name] = _Seen()
        return seen

    def success(self, name: str, latency_ms: float) -> None:
        shared = self.shared
        if shared is not None:
            shared.observed(name, latency_ms)
            if self.breaker.success(name):
                shared.closed(name)
        elif name in self._circuits:  # a closed circuit with no failures has no entry to clear
            self.breaker.success(name)
        seen = self._seen.get(name) or self._of(name)
        last = seen.latency_ms
        seen.latency_ms = latency_ms if last is None else last + ALPHA * (latency_ms - last)
        if seen.error_rate:
            seen.error_rate *= _KEEP
        seen.attempts += 1

    def failure(self, name: str) -> None:
        shared = self.shared
        if self.breaker.failure(name, self.clock()) and shared is not None:
            shared.opened(name)
        if shared is not None:
            shared.observed(name, None)
        seen = self._of(name)
        seen.error_rate = seen.error_rate * _KEEP + ALPHA
        seen.attempts += 1

    def adopt(self, name: str, latency_ms: float | None, error_rate: float, attempts: int) -> None:
        """The fleet's averages for ``name`` (read from Redis, this replica's attempts included)."""
        seen = self._of(name)
        seen.latency_ms = latency_ms if latency_ms is not None else seen.latency_ms
        seen.error_rate, seen.attempts = error_rate, attempts

    def of(self, name: str, now: float | None = None) -> DeploymentHealth:
        seen = self._seen.get(name)
        if seen is None:
            return HEALTHY
        return DeploymentHealth(
            self.breaker.state(name, self.clock() if now is None else now), seen.latency_ms, seen.error_rate, seen.attempts,
        )

    def snapshot(self) -> Mapping[str, DeploymentHealth]:
        now = self.clock()
        return {name: self.of(name, now) for name in self._seen}


class Observe:
    """Feeds :class:`Health` from every provider attempt."""

    name = "observe"

    def __init__(self, health: Health) -> None:
        self.health, self.failure_kind = health, failure_kind

    async def start(self) -> None:
        if self.health.shared is not None:
            await self.health.shared.start()

    async def stop(self) -> None:
        if self.health.shared is not None:
            await self.health.shared.stop()

    async def handle(self, call: Call, next: Next) -> Reply | None:
        deployment = call.deployment
        if deployment is None:
            return await next(call)
        began = perf_counter()
        try:
            reply = await next(call)
        except CostopsError as error:
            if self.failure_kind(error) is not None:
                self.health.failure(deployment.name)
            raise
        end = perf_counter()
        ttft = call.record.ttft_ms
        if ttft is not None and call.stream and call.started + ttft / 1000 >= began:
            end = call.started + ttft / 1000
        self.health.success(deployment.name, (end - began) * 1000)
        return reply
