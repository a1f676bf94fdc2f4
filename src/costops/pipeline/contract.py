"""The contract every step of the request path shares: the call, the reply, the handler.

A handler is ``async handle(call, next) -> Reply | None`` (or a plain ``handle`` returning an
awaitable: a step that decides before any await returns ``next(call)`` as it is, with no
coroutine frame of its own, as the route step does). It may answer itself (a cache hit
returns a :class:`Reply`), refuse (raise a :class:`~costops.errors.CostopsError`), change the
target (``call.model`` / ``call.deployment``), or call ``next`` zero, one or several times (a
cascade escalating, a fallback after a 5xx). The innermost handler is one provider attempt.

``None`` from ``next`` means the answer has already gone to the client (a streamed or a JSON
provider answer, delivered as it arrived); a :class:`Reply` is an answer not yet delivered,
which the gateway's edge sends. A handler that wants to judge an answer before the client sees
it (a cascade's cheaper try) sets ``call.deliver = False`` and gets the answer back as a Reply.

The older two-method form (``before`` / ``after``, :class:`Stage`) is adapted into a handler by
:func:`costops.pipeline.chain.stage_handler`: ``after`` runs once the answer is out, for every
stage whose ``before`` ran, in reverse order, whatever the outcome.

This module imports nothing of the stages, so stages, caches and controls all depend on it and
on nothing above it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from costops.config import Deployment, VirtualKey
from costops.ledger.record import UsageRecord
from costops.usage import Usage

UPSTREAM_RETRY_AFTER = "upstream_retry_after"
"""``Call.state`` key the attempt sets when the call failed at the provider (not at costops): its
``retry-after``, or None. Adaptive backoff learns only from these."""


@dataclass(slots=True)
class Call:
    """One request as the handlers see it."""

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
    """The model to send upstream; a handler may change it (and ``deployment`` with it)."""
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    """Headers handlers add to the client's response (e.g. ``x-costops-cache``)."""
    capture_stream: bool = False
    """Set by a handler that needs the streamed bytes afterwards (a cache storing the answer)."""
    response_body: bytes | None = None
    """What the client received: the JSON body, or the whole SSE stream when captured."""
    state: dict[str, Any] = field(default_factory=dict)
    """Scratch space, one key per handler (reservation ids, cache keys)."""
    client_credential: str | None = None
    """The caller's own provider key (bring-your-own-key on a keyless loopback gateway)."""
    client_headers: Mapping[str, str] = field(default_factory=dict)
    """Client headers forwarded to the provider (``anthropic-version``, ``anthropic-beta``)."""
    deliver: bool = True
    """False: the attempt returns its answer as a Reply instead of sending it to the client."""
    out: Any = None
    """Where the answer goes: the edge's :class:`~costops.gateway.response.ClientResponse`."""
    started: float = 0.0
    """``time.perf_counter()`` when the request arrived (latency and time to first token)."""
    entered: list[Stage] = field(default_factory=list)
    """Stages whose ``before`` ran: their ``after`` is owed, in reverse order."""

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass(slots=True)
class Reply:
    """An answer not yet delivered to the client."""

    body: bytes
    """The client-format body: JSON, or the whole SSE stream when the request streams."""
    usage: Usage
    """What the answer used (for a cache hit: what the provider call would have used, so the
    avoided cost is priced from it)."""
    kind: str
    """How it was served, for the ledger and ``x-costops-cache``: ``exact``, ``semantic``, or
    ``provider`` (a provider answer held back for judging: already priced in the record)."""
    status: int = 200

    @property
    def from_cache(self) -> bool:
        return self.kind != "provider"


Next = Callable[[Call], Awaitable["Reply | None"]]


class Handler(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def handle(self, call: Call, next: Next) -> Awaitable[Reply | None]: ...


@dataclass(frozen=True, slots=True)
class Shared:
    """What ``create_app`` builds once and hands to the stages that need it, so a price catalog
    given to the gateway also prices budget estimates and one ledger connection serves all."""

    pricer: Any = None
    """The gateway's :class:`~costops.pricing.quote.Pricer`; None: a stage builds its own (offline tools)."""
    store: Callable[[], Any] | None = None
    """The gateway's ledger store once it is open (it opens at start-up, after the stages are built)."""
    redis: Callable[[], Any] | None = None
    """The gateway's one asyncio Redis client for ``redis.url`` (made on first use, closed by the
    gateway at shutdown); None: a stage opens its own (offline tools)."""
    attempt: Callable[[], Any] | None = None
    """The chain's innermost provider attempt (built after the stages): a stage that makes a
    provider call of its own (the semantic cache's LLM check) makes it through this."""
    record_attempt: Callable[[UsageRecord], None] | None = None
    """Books a row that is not the logical request's (journal, ledger queue, metrics)."""


class Stage(Protocol):
    """The two-method step: ``before`` may refuse, redirect or answer; ``after`` settles."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def before(self, call: Call) -> Reply | None: ...

    async def after(self, call: Call) -> None: ...
