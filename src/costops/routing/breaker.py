"""A circuit breaker per deployment: a pure state machine of (events, now), no I/O.

    closed --(``failures`` failures in a row)--> open --(``cooldown_s`` later)--> half-open
    half-open: one probe call is let through; its success closes the circuit, its failure opens
    it again for another cooldown.

While a deployment's circuit is open its calls go straight to the next fallback instead of
waiting for a timeout each: a dead provider costs one cooldown's worth of probes, not every
caller's patience. State is per process; with Redis, the replicas share their open circuits
(:mod:`costops.routing.circuits`), merged in here by :meth:`Breaker.adopt`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5
    """Consecutive failures that open the circuit."""
    cooldown_s: float = 30.0
    """How long an open circuit refuses calls before it lets one probe through."""
    sync_s: float = 0.5
    """How often a replica reads the circuits the others opened (with Redis; 0: never share)."""
    redis_prefix: str = "costops:circuit"


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


@dataclass(slots=True)
class Breaker:
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    _circuits: dict[str, _Circuit] = field(default_factory=dict)

    @property
    def circuits(self) -> dict[str, _Circuit]:
        """Deployments with a failure or an open circuit (no entry: closed, no failures)."""
        return self._circuits

    def allows(self, name: str, now: float) -> bool:
        """May a call go to ``name`` now? A half-open circuit lets exactly one probe through."""
        circuit = self._circuits.get(name)
        if circuit is None or circuit.opened_at is None:
            return True
        if now - circuit.opened_at < self.settings.cooldown_s or circuit.probing:
            return False
        circuit.probing = True
        return True

    def unprobe(self, name: str) -> None:
        """The probe :meth:`allows` let through was not sent after all (admission refused it)."""
        circuit = self._circuits.get(name)
        if circuit is not None:
            circuit.probing = False

    def success(self, name: str) -> bool:
        """Close the circuit; True when it was open (or half-open)."""
        circuit = self._circuits.pop(name, None)
        return circuit is not None and circuit.opened_at is not None

    def failure(self, name: str, now: float) -> bool:
        """Count a failure; True when it opened the circuit (or pushed its opening to ``now``)."""
        circuit = self._circuits.setdefault(name, _Circuit())
        circuit.failures += 1
        if circuit.probing or circuit.failures >= self.settings.failures:
            circuit.opened_at, circuit.probing = now, False
            return True
        return False

    def adopt(self, name: str, opened_at: float) -> None:
        """Another replica opened ``name``'s circuit at ``opened_at`` (this clock): open it here
        too, unless this breaker knows of a later opening."""
        circuit = self._circuits.setdefault(name, _Circuit())
        if circuit.opened_at is None or circuit.opened_at < opened_at:
            circuit.opened_at, circuit.probing = opened_at, False
            circuit.failures = max(circuit.failures, self.settings.failures)

    def state(self, name: str, now: float) -> str:
        circuit = self._circuits.get(name)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        return "half-open" if now - circuit.opened_at >= self.settings.cooldown_s else "open"
