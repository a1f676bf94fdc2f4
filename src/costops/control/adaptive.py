"""Backing off a deployment the provider throttles, and choosing where a request goes meanwhile.

A 429 from a deployment means the *provider* is out of capacity for us, whatever our own limits
say. Hammering it wastes the client's time and, with some providers, lengthens the penalty.
So, per deployment:

1. **Back off.** The deployment gets no traffic until ``blocked_until``: the provider's
   ``retry-after`` when it sent one (honoured as given), else ``base * 2^(strikes-1)`` capped
   at ``max_backoff_s``. 429s from calls that were already in flight when the block began do
   not count as new strikes: one burst is one event, not twenty.
2. **Spread.** Meanwhile requests go to a *sibling* (another deployment serving the same model)
   that is healthy. With no sibling the request is refused (or queued) until the block ends,
   rather than sent to a provider that just said no.
3. **Recover gradually (AIMD on the traffic share).** Each 429 halves the deployment's share of
   its traffic (multiplicative decrease, floor ``min_share``); after the block the share grows
   back linearly, reaching 1 after ``recovery_s`` (additive increase). A request draws a number
   in [0, 1): below the share it goes to the deployment, above it to a sibling. A deployment with
   no sibling takes everything once its block ends: there is nowhere else to send it.

Everything here is a pure function of (state, now); the stage holds the states, and replicas
share them through Redis with :func:`merge` deciding which of two states is newer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from costops.config import ConfigError, reject_unknown

THROTTLE_STATUSES = frozenset({429, 529})
"""Statuses that mean "too much, slow down": OpenAI's and Anthropic's 429, Anthropic's 529."""


@dataclass(frozen=True, slots=True)
class AdaptiveConfig:
    base_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    recovery_s: float = 30.0
    """Seconds for the traffic share to climb from 0 back to 1 after a block ends."""
    min_share: float = 0.05
    sync_s: float = 0.5
    """How often a replica reads the other replicas' view of the deployments from Redis."""


@dataclass(frozen=True, slots=True)
class Health:
    """One deployment's state: blocked until a time, then its share recovering from ``share``
    at ``since`` (which is never before ``blocked_until``)."""

    blocked_until: float = 0.0
    strikes: int = 0
    share: float = 1.0
    since: float = 0.0


HEALTHY = Health()


@dataclass(frozen=True, slots=True)
class Choice:
    deployment: str | None
    """Where to send the request; None when every candidate is blocked."""
    wait: float = 0.0
    """When None: seconds until the first candidate's block ends."""


def share_at(health: Health, now: float, config: AdaptiveConfig) -> float:
    if now < health.blocked_until:
        return 0.0
    if health.share >= 1.0:
        return 1.0
    return min(1.0, health.share + max(0.0, now - health.since) / config.recovery_s)


def throttled(health: Health, now: float, retry_after: float | None, config: AdaptiveConfig) -> Health:
    """The state after the deployment answered 429 at ``now``."""
    if now < health.blocked_until:
        # an in-flight call admitted before the block: only a longer hint moves the block
        if retry_after is not None and now + retry_after > health.blocked_until:
            until = now + retry_after
            return Health(until, health.strikes, health.share, until)
        return health
    current = share_at(health, now, config)
    strikes = 1 if current >= 1.0 else health.strikes + 1
    if retry_after is not None and retry_after >= 0:
        backoff = retry_after
    else:
        backoff = min(config.max_backoff_s, config.base_backoff_s * 2 ** (strikes - 1))
    until = now + backoff
    return Health(until, strikes, max(config.min_share, current / 2), until)


def recovered(health: Health, now: float, config: AdaptiveConfig) -> bool:
    """True once the deployment is back to its full share: its state can be forgotten."""
    return share_at(health, now, config) >= 1.0


def choose(
    primary: str,
    siblings: Sequence[str],
    health: Mapping[str, Health],
    now: float,
    config: AdaptiveConfig,
    draw: float,
) -> Choice:
    """Where a request for ``primary`` goes, given a uniform ``draw`` in [0, 1)."""
    own = share_at(health.get(primary, HEALTHY), now, config)
    if own >= 1.0 or draw < own:
        return Choice(primary)
    best, best_share = None, 0.0
    for name in siblings:
        s = share_at(health.get(name, HEALTHY), now, config)
        if s > best_share:
            best, best_share = name, s
    if best is not None:
        return Choice(best)
    if own > 0.0:
        return Choice(primary)
    waits = [health.get(n, HEALTHY).blocked_until - now for n in (primary, *siblings)]
    return Choice(None, max(0.0, min(waits)))


def merge(local: Health, remote: Health) -> Health:
    """Two replicas' views of one deployment: the later block is the newer news."""
    if remote.blocked_until > local.blocked_until:
        return remote
    if remote.blocked_until == local.blocked_until and remote.share < local.share:
        return remote
    return local


def parse_adaptive(raw: Any, where: str) -> AdaptiveConfig | None:
    if raw is False:
        return None
    if raw is True or raw is None:
        return AdaptiveConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be false or a mapping like {{base_backoff_s: 1, max_backoff_s: 60}}")
    known = {"base_backoff_s", "max_backoff_s", "recovery_s", "min_share", "sync_s"}
    values: dict[str, float] = {}
    reject_unknown(raw, known, where)
    for key, value in raw.items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.{key}: must be a number, got {value!r}") from None
        if values[key] <= 0 or isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: must be positive, got {value!r}")
    if values.get("min_share", 0.05) > 1:
        raise ConfigError(f"{where}.min_share: must be at most 1")
    return AdaptiveConfig(**values)
