"""The simulator's settings: a small frozen value, so two simulators built from equal configs
answer the same request sequence with the same bytes."""

from __future__ import annotations

from dataclasses import dataclass, field

from costops.providers.simulator.billing import BillSkew
from costops.providers.simulator.grading import Grading


@dataclass(frozen=True, slots=True)
class Host:
    """One more deployment the simulator serves, under ``/h/<name>/``: the same APIs with a
    speed and error rates of its own (and its own prompt cache, counters and grades), so one
    simulator stands for a model offered by several providers that differ in latency and health."""

    name: str
    latency_scale: float = 1.0
    error_rate_429: float = 0.0
    error_rate_5xx: float = 0.0


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = 0
    """Seeds every draw: output lengths and words (with the request body), errors and ids (with
    the request counter)."""
    latency_scale: float = 1.0
    """Multiplies each model's latency profile; 0 never sleeps (benchmarks, most tests)."""
    error_rate_429: float = 0.0
    """Probability that a request is refused with 429 and a ``retry-after`` header."""
    error_rate_5xx: float = 0.0
    """Probability of a server error: 500 or 503 (Anthropic: 500 or 529 overloaded)."""
    require_key: bool = False
    """Answer 401 when the request carries no API key in its API's header."""
    grading: Grading | None = None
    """Grade every answer (``grading``): failing answers show it, ``/sim/grade`` reports it.
    None (the default) answers exactly as before and records nothing."""
    bill_skew: BillSkew = field(default_factory=BillSkew)
    """How the usage and cost reports (``/v1/organization/costs``, ``/v1/organizations/cost_report``...)
    differ from what was served: calls around the gateway, prices it does not know."""
    hosts: tuple[Host, ...] = ()
    """More deployments under ``/h/<name>/`` (e.g. ``{base_url}/h/slow/v1`` for OpenAI clients)."""
    check_error_rate: float = 0.0
    """Share of semantic cache checks answered wrongly (``checks``), drawn per (seed, prompt)."""

    def __post_init__(self) -> None:
        for name in ("error_rate_429", "error_rate_5xx", "check_error_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"SimConfig.{name} must be within [0, 1], got {rate!r}")
        if self.error_rate_429 + self.error_rate_5xx > 1.0:
            raise ValueError("SimConfig.error_rate_429 + error_rate_5xx must not exceed 1")
        if self.latency_scale < 0:
            raise ValueError(f"SimConfig.latency_scale must be >= 0, got {self.latency_scale!r}")
        names = [h.name for h in self.hosts]
        for host in self.hosts:
            if not host.name or "/" in host.name or names.count(host.name) > 1:
                raise ValueError(f"SimConfig.hosts: {host.name!r} must be a unique name without '/'")
            SimConfig(latency_scale=host.latency_scale, error_rate_429=host.error_rate_429,
                      error_rate_5xx=host.error_rate_5xx)  # its rates checked as the simulator's own
