"""The rate-limit stage: limits per key, tenant, model and deployment, the priority queue, and
adaptive backoff from deployments the provider throttles.

A request's way through ``before``:

1. steer: if its deployment was throttled (429) recently, send it to a healthy sibling, or
   refuse / queue it until the block ends (:mod:`costops.control.adaptive`);
2. estimate its tokens (exact prompt count + ``max_tokens``, only when a tokens-per-minute
   limit applies) and take from every bucket and concurrency limit that applies, all or none,
   in process or in Redis (:mod:`costops.control.bucket`, :mod:`costops.control.bucket_redis`);
   a refusal by a deployment's own limit tries that deployment's siblings first;
3. refused: with ``queue:`` configured, wait in the priority queue (:mod:`costops.control.queue`),
   else answer 429 with ``retry-after`` and the limit's name.

``readmit``, before a further attempt (a cascade's escalation, a fallback), settles what the
attempts so far used and takes again for the new target, refusing (429) rather than queueing.
``giveback``, when the budgets then refuse that target, returns all it took at once.
``after`` settles the token buckets against the actual usage, frees the concurrency slots and
feeds upstream 429s back into step 1.

The hot path: the rules that apply to a (key, model, deployment) are resolved once and memoized,
so a request no rule matches costs two dict lookups. If Redis is unreachable, limits fall back to
this process's buckets (logged) and Redis is tried again a few seconds later: a Redis outage
loosens the limits to per replica, it never stops the traffic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from costops.config import Config
from costops.control.adaptive import (
    HEALTHY,
    THROTTLE_STATUSES,
    Health,
    choose,
    merge,
    recovered,
    share_at,
    throttled,
)
from costops.control.bucket import ADMITTED, LocalBuckets, Plan, Slots, Verdict
from costops.control.bucket_redis import RedisBuckets
from costops.control.bucket_rules import parse_limits, plan_for
from costops.control.estimate import call_cap, call_input_tokens
from costops.control.queue import WaitQueue, parse_queue
from costops.errors import CostopsError, RateLimited
from costops.gateway.http import respond
from costops.pipeline.admin import admin_doc
from costops.pipeline.attempts import EARLIER, used_tokens
from costops.pipeline.contract import UPSTREAM_RETRY_AFTER, Call, Reply

log = logging.getLogger("costops.limits")

REDIS_RETRY_S = 5.0
SHARED_POLL_S = 0.05
"""How often a queued request re-checks a limit whose slots other replicas may free."""
_PLAN_CACHE_MAX = 10_000
USED = "limits.used"
"""``call.state`` key: tokens of the call's attempts settled by :meth:`LimitsStage.readmit`."""


class Taken(NamedTuple):
    """What a request took from its limits: a named tuple (built in C), one per request."""

    plan: Plan
    tokens: int
    lease: str
    shared: bool


_taken = tuple.__new__
"""``_taken(Taken, (plan, tokens, lease, shared))``: built in C, not by the named tuple's ``__new__``."""


class LimitsStage:
    name = "limits"

    def __init__(self, config: Config, clock: Callable[[], float], redis: Callable[[], Any] | None = None) -> None:
        sections = config.sections
        self.config, self.clock = config, clock
        self.redis = redis
        """The gateway's shared Redis client (``Shared.redis``); None: the stage opens its own."""
        self.settings = parse_limits(sections.get("limits"))
        self.adaptive = self.settings.adaptive
        queue_config = parse_queue(sections.get("queue"))
        self.queue = WaitQueue(queue_config) if queue_config else None
        self.redis_url = config.redis_url
        self.local = LocalBuckets()
        self.shared: RedisBuckets | None = None
        self._redis_down_until = 0.0
        self.health: dict[str, Health] = {}
        self._plans: dict[tuple[str, str, str, str], Plan | None] = {}
        self._siblings: dict[tuple[str, str], tuple[str, ...]] = {}
        self._leases: dict[str, tuple[Slots, ...]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rng = random.Random()
        self.admin_routes = {("GET", "/admin/limits/status"): self.status_route}

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.redis_url is None:
            return
        self.shared = RedisBuckets(self.redis_url, self.redis() if self.redis is not None else None)
        try:
            await self.shared.ping()
        except Exception as exc:
            self._redis_failed(exc)
        if any(r.concurrent for r in self.settings.rules):
            self._tasks.append(asyncio.create_task(self._renew_leases()))
        if self.adaptive is not None:
            self._tasks.append(asyncio.create_task(self._sync_health()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self.shared is not None:
            await self.shared.close()

    # -- before: steer, take, else queue or refuse --------------------------------------------------

    async def before(self, call: Call) -> Reply | None:
        verdict = await self._try(call, queued=False)
        if verdict.ok:
            return None
        if self.queue is None:
            raise self._refusal(call, verdict)
        poll = SHARED_POLL_S if self.shared is not None else None
        try:
            await self.queue.wait(lambda: self._try(call, queued=True), verdict, call.headers, self.clock, poll)
        except CostopsError as error:
            _retry_ms(call, error.retry_after or 1.0)
            raise
        return None

    async def _try(self, call: Call, *, queued: bool) -> Verdict:
        if self.health and self.adaptive is not None and call.deployment is not None:
            verdict = self._steer(call)
            if not verdict.ok:
                return verdict
        verdict = await self._take(call, queued=queued)
        if verdict.ok or verdict.scope != "deployment" or call.deployment is None:
            return verdict
        return await self._on_siblings(call, verdict, queued=queued)

    async def _on_siblings(self, call: Call, verdict: Verdict, *, queued: bool) -> Verdict:
        """The deployment's own limit is spent (``verdict``): a sibling may have room."""
        assert call.deployment is not None
        original, now = call.deployment, self.clock()
        for name in self._sibling_names(call):
            if self.adaptive is not None and share_at(self.health.get(name, HEALTHY), now, self.adaptive) <= 0:
                continue
            call.deployment = self.config.deployment(name)
            if (await self._take(call, queued=queued)).ok:
                return ADMITTED
        call.deployment = original
        return verdict

    def _steer(self, call: Call) -> Verdict:
        assert call.deployment is not None and self.adaptive is not None
        primary, now = call.deployment.name, self.clock()
        choice = choose(primary, self._sibling_names(call), self.health, now, self.adaptive, self._rng.random())
        if primary in self.health and recovered(self.health[primary], now, self.adaptive):
            del self.health[primary]
        if choice.deployment is None:
            return Verdict(
                False, f"upstream:{primary}", f"deployment {primary}: the provider is throttling it (429)",
                "deployment", choice.wait,
            )
        if choice.deployment != primary:
            call.deployment = self.config.deployment(choice.deployment)
        return ADMITTED

    async def _take(self, call: Call, *, queued: bool) -> Verdict:
        plan = self._plan(call)
        if plan is None:
            return ADMITTED
        if not queued and self.queue is not None and self.queue.lines:
            line = self.queue.busy(plan.idents)
            if line is not None:  # others already wait for this limit: queue behind them, don't overtake
                return Verdict(False, line, _label(plan, line), "", 0.0)
        if plan.token_buckets:  # the prompt counted exactly (estimated for families without an
            # offline tokenizer) plus the most the reply may use: the request's cap or the default
            _, cap, n = call_cap(call)  # output_tokens(), from the body's cap read once per request
            tokens = call_input_tokens(call) + (self.settings.default_output_tokens if cap is None else cap) * n
        else:
            tokens = 0
        lease = uuid.uuid4().hex if plan.slots else ""
        now = self.clock()
        shared = self.shared is not None and now >= self._redis_down_until
        if shared:
            assert self.shared is not None
            try:
                verdict = await self.shared.take(now, plan, tokens, lease, self.settings.lease_ttl_s)
            except Exception as exc:
                self._redis_failed(exc)
                shared = False
        if not shared:
            verdict = self.local.take(now, plan, tokens)
        if verdict.ok:
            call.state["limits"] = _taken(Taken, (plan, tokens, lease, shared))
            if lease and shared:
                self._leases[lease] = plan.slots
        return verdict

    def _plan(self, call: Call) -> Plan | None:
        key = call.key
        deployment = call.deployment.name if call.deployment is not None else ""
        memo = (key.id, call.record.model_requested, call.model, deployment)
        try:
            return self._plans[memo]
        except KeyError:
            plan = plan_for(self.settings.rules, key, call.record.model_requested, call.model, deployment)
            if len(self._plans) < _PLAN_CACHE_MAX:
                self._plans[memo] = plan
            return plan

    def _sibling_names(self, call: Call) -> tuple[str, ...]:
        """Other deployments serving the same model, unless the client pinned one
        (``deployment/model``)."""
        assert call.deployment is not None
        memo = (call.deployment.name, call.model)
        names = self._siblings.get(memo)
        if names is None:
            requested = self.config.aliases.get(call.record.model_requested, call.record.model_requested)
            pinned = "/" in requested and self.config.deployment(requested.split("/", 1)[0]) is not None
            names = () if pinned else tuple(
                d.name for d in self.config.deployments if d.name != call.deployment.name and d.serves(call.model)
            )
            self._siblings[memo] = names
        return names

    async def readmit(self, call: Call) -> None:
        """Admit the call's next attempt at its new target: release what the earlier one took
        (settled at the tokens used so far), then take for the new target's limits (steered and
        tried on siblings as ``before`` does). Refused: 429, without queueing mid-request."""
        await self._release(call)
        call.state[USED] = used_tokens(call)
        verdict = await self._try(call, queued=True)
        if not verdict.ok:
            raise self._refusal(call, verdict)

    # -- after: settle, release, learn from the provider --------------------------------------------

    async def after(self, call: Call) -> None:
        record = call.record
        if record.status in THROTTLE_STATUSES and record.deployment and self.adaptive is not None and (
                UPSTREAM_RETRY_AFTER in call.state):  # the provider's 429, not one costops gave (a budget's)
            await self._throttled(record.deployment, call.state[UPSTREAM_RETRY_AFTER])
        pending = self._settle(call, True)  # _release(), with no coroutine of its own when local
        if pending is not None:
            await self._settle_shared(*pending)

    async def giveback(self, call: Call) -> None:
        """A later admission (the budgets) refused the target this stage just took for: that
        attempt never runs, so all it took comes back at once (its tokens, its request units,
        its slots), not when the request ends, and a concurrent request is not refused for it."""
        await self._release(call, ran=False)

    async def _release(self, call: Call, *, ran: bool = True) -> None:
        pending = self._settle(call, ran)
        if pending is not None:
            await self._settle_shared(*pending)

    def _settle(self, call: Call, ran: bool) -> tuple[Taken, float, float, float] | None:
        """Settle what the call took, in this process; what Redis must settle instead is returned
        for :meth:`_settle_shared` (taken, extra tokens, request units, now)."""
        taken: Taken | None = call.state.pop("limits", None)
        if taken is None:
            return None
        plan = taken.plan
        if not ran:
            extra, requests = -taken.tokens, -1.0
        else:  # every attempt's tokens, less those of the attempts a readmit settled already
            if not plan.token_buckets:
                extra = 0
            elif EARLIER in call.state or USED in call.state:
                extra = used_tokens(call) - call.state.get(USED, 0) - taken.tokens
            else:  # one attempt: used_tokens(), inlined
                usage = call.record.usage
                extra = usage.prompt_tokens + usage.output_tokens - taken.tokens
            requests = 0.0
        now = self.clock()
        if taken.shared and self.shared is not None:
            return taken, extra, requests, now
        self.local.settle(now, plan, extra, requests)
        if self.queue is not None and self.queue.lines:
            self._wake(plan, now)
        return None

    async def _settle_shared(self, taken: Taken, extra: float, requests: float, now: float) -> None:
        assert self.shared is not None
        self._leases.pop(taken.lease, None)
        try:
            await self.shared.settle(now, taken.plan, extra, taken.lease, requests)
        except Exception as exc:  # the lease lapses by itself; the token difference is lost
            self._redis_failed(exc)
        if self.queue is not None and self.queue.lines:
            self._wake(taken.plan, now)

    def _wake(self, plan: Plan, now: float) -> None:
        assert self.queue is not None
        for line in plan.idents:
            if line in self.queue.lines:
                self.queue.wake(line, now)

    async def _throttled(self, deployment: str, retry_after: float | None) -> None:
        assert self.adaptive is not None
        now = self.clock()
        before = self.health.get(deployment, HEALTHY)
        after = throttled(before, now, retry_after, self.adaptive)
        if after == before:
            return
        self.health[deployment] = after
        log.warning(
            "deployment %s answered 429: no traffic for %.1fs, then its share recovers from %.0f%% (strike %d)",
            deployment, after.blocked_until - now, after.share * 100, after.strikes,
        )
        if self.shared is not None and now >= self._redis_down_until:
            try:
                await self.shared.publish_health(deployment, after, now, self.adaptive.recovery_s)
            except Exception as exc:
                self._redis_failed(exc)

    # -- background: leases and the other replicas' view of the deployments --------------------------

    async def _renew_leases(self) -> None:
        interval = self.settings.lease_ttl_s / 3
        while True:
            await asyncio.sleep(interval)
            if self._leases and self.shared is not None:
                try:
                    await self.shared.renew(list(self._leases.items()), self.clock(), self.settings.lease_ttl_s)
                except Exception as exc:
                    self._redis_failed(exc)

    async def _sync_health(self) -> None:
        assert self.adaptive is not None and self.shared is not None
        names = [d.name for d in self.config.deployments]
        while True:
            await asyncio.sleep(self.adaptive.sync_s)
            if self.clock() < self._redis_down_until:
                continue
            try:
                remote = await self.shared.read_health(names)
            except Exception as exc:
                self._redis_failed(exc)
                continue
            now = self.clock()
            for name, health in remote.items():
                mine = merge(self.health.get(name, HEALTHY), health)
                if not recovered(mine, now, self.adaptive):
                    self.health[name] = mine

    def _redis_failed(self, exc: BaseException) -> None:
        if self.clock() >= self._redis_down_until:
            log.error("limits: Redis at %s failed (%s); using per-replica limits for %gs", self.redis_url, exc, REDIS_RETRY_S)
        self._redis_down_until = self.clock() + REDIS_RETRY_S

    # -- errors -----------------------------------------------------------------------------------

    def _refusal(self, call: Call, verdict: Verdict) -> RateLimited:
        _retry_ms(call, verdict.wait)
        return RateLimited(
            f"rate limit reached for {verdict.label}; retry after {verdict.wait:.1f}s",
            retry_after=verdict.wait,
            code="rate_limit_exceeded",
        )


    # -- admin ------------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        now = self.clock()
        shared = self.shared is not None and now >= self._redis_down_until
        rows = self.local.status(now)
        if shared:
            assert self.shared is not None
            rows = await self.shared.status(now) + rows
        deployments = {}
        if self.adaptive is not None:
            for name, health in self.health.items():
                deployments[name] = {
                    "blocked_for_s": round(max(0.0, health.blocked_until - now), 3),
                    "share": round(share_at(health, now, self.adaptive), 3),
                    "strikes": health.strikes,
                }
        queue = None
        if self.queue is not None:
            queue = {"depth": len(self.queue), "max_size": self.queue.config.max_size, "by_limit": self.queue.depth()}
        return {"backend": "redis" if shared else "local", "limits": rows, "queue": queue, "deployments": deployments}

    @admin_doc("Rate limits now: each bucket's level, concurrency in use, the queue, provider backoff",
               response={"type": "object", "required": ["backend", "limits", "queue", "deployments"], "properties": {
                   "backend": {"enum": ["local", "redis"]},
                   "limits": {"type": "array", "items": {"type": "object", "required": ["limit", "label", "capacity"]}},
                   "queue": {"type": ["object", "null"]},
                   "deployments": {"type": "object"},
               }})
    async def status_route(self, scope: Any, receive: Any, send: Any) -> None:
        await respond(send, 200, orjson.dumps(await self.status()))


def _label(plan: Plan, ident: str) -> str:
    labels = {b.ident: b.label for b in (*plan.request_buckets, *plan.token_buckets)}
    labels.update((s.ident, s.label) for s in plan.slots)
    return labels.get(ident, ident)


def _retry_ms(call: Call, seconds: float) -> None:
    """``retry-after`` is whole seconds; both SDKs prefer the exact ``retry-after-ms``."""
    call.response_headers.append((b"retry-after-ms", str(max(1, round(seconds * 1000))).encode()))


def limits_stage(config: Config, clock: Callable[[], float], redis: Callable[[], Any] | None = None) -> LimitsStage:
    """``redis``: the gateway's shared client (``Shared.redis``); None opens one of its own."""
    return LimitsStage(config, clock, redis)
