"""The request path's optional stages: one small protocol, and their order built in one place.

A stage sees a :class:`Call` twice: ``before`` the provider is called (it may refuse the call by
raising a :class:`~costops.errors.CostopsError`, change the model or deployment (a budget
downgrade, a route), or answer it itself with a :class:`Reply` (a cache hit)), and ``after``
the call has been answered and priced (settle a budget reservation, store a cache entry).
``after`` runs for every stage whose ``before`` ran, in reverse order, whatever the outcome,
so a reservation is never left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from costops.config import Config, Deployment, VirtualKey
from costops.ledger.record import UsageRecord
from costops.usage import Usage


@dataclass(slots=True)
class Call:
    """One request as the stages see it."""

    api: str
    """The client's API: ``openai`` or ``anthropic``."""
    endpoint: str
    body: dict[str, Any]
    raw: bytes
    key: VirtualKey
    record: UsageRecord
    headers: Mapping[str, str]
    """The request's ``x-costops-*`` control headers, lower-case names."""
    now: float
    deployment: Deployment | None = None
    model: str = ""
    """The model to send upstream; a stage may change it (and ``deployment`` with it)."""
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    """Headers stages add to the client's response (e.g. ``x-costops-cache``)."""
    capture_stream: bool = False
    """Set by a stage that needs the streamed bytes in ``after`` (a cache storing the answer)."""
    response_body: bytes | None = None
    """What the client received: the JSON body, or the whole SSE stream when captured."""
    state: dict[str, Any] = field(default_factory=dict)
    """Scratch space, one key per stage (reservation ids, cache keys)."""

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass(slots=True)
class Reply:
    """An answer a stage gives instead of the provider."""

    body: bytes
    """The client-format body: JSON, or the whole SSE stream when the request streams."""
    usage: Usage
    """What the provider call would have used: the avoided cost is priced from it."""
    kind: str
    """How it was served, for the ledger and ``x-costops-cache``: ``exact``, ``semantic``..."""
    status: int = 200


class Stage(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def before(self, call: Call) -> Reply | None: ...

    async def after(self, call: Call) -> None: ...


def build_stages(config: Config, clock: Callable[[], float]) -> list[Stage]:
    """The stages in the order a request meets them: admission (rate limits and the priority
    queue, then budgets), then the caches (exact, semantic), then prompt shaping for provider
    prompt caching. A stage is built only when its config section asks for it."""
    sections = config.sections
    stages: list[Stage | None] = []
    if "limits" in sections or "queue" in sections:
        from costops.control.limits import limits_stage

        stages.append(limits_stage(config, clock))
    if "budgets" in sections:
        from costops.control.budgets import budgets_stage

        stages.append(budgets_stage(config, clock))
    cache = sections.get("cache") or {}
    exact: Any = None
    semantic: Any = None
    if cache.get("exact") is not None:
        from costops.cache.stage import exact_cache_stage

        stages.append(exact := exact_cache_stage(config, clock))
    if cache.get("semantic") is not None:
        from costops.cache.semantic.stage import semantic_cache_stage

        stages.append(semantic := semantic_cache_stage(config, clock))
    if exact is not None and semantic is not None:  # one invalidation clears both caches
        exact.also_invalidate.append(semantic.invalidate)
    if cache.get("prompt") is not None:
        from costops.cache.prompt import prompt_cache_stage

        stages.append(prompt_cache_stage(config, clock))
    return [s for s in stages if s is not None]
