"""What an experiment's or a bandit's arm did with a call: checked, booked, learned from.

The Route step chose the arm (``policy.pick``: the experiment's sticky split, the bandit's
Thompson draw) before admission, so limits and budgets judge the model actually called. This
handler sits just inside the caches (a cache hit never reached an arm, so it teaches nothing)
and settles each arm call once its answer is out:

1. the policy's ``accept`` checks, if any, judge the answer the client got: ``accepted`` on its
   ledger row (1 / 0), and, for a bandit, a binary quality observation (only when the arm's own
   model answered: a budget's downgrade or a fallback to another model teaches it nothing);
2. a bandit books the call's cost and that observation in its state (:mod:`.arm_state`), in
   Redis when the gateway has ``redis:`` (every replica learns from every call), else in this
   process, rebuilt from the ledger and the feedback table at start;
3. ``POST /v1/feedback`` reaches :meth:`Arms.feedback`: the score replaces what counted for that
   call (the check's verdict or an earlier score).

Replicas read the shared state every ``refresh_s``; between reads a replica adds its own
observations to its copy, so one gateway alone learns from every call at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from costops.cache.replay import json_from_sse
from costops.config import Config
from costops.gateway.http import respond
from costops.ledger.query import Filters
from costops.money import to_nanos
from costops.pipeline.admin import admin_doc
from costops.pipeline.contract import Call, Next, Reply
from costops.routing.acceptance import judge
from costops.routing.arm_state import (
    ArmState,
    MemoryArmState,
    RedisArmState,
    apply_observation,
    stats_from_rows,
)
from costops.routing.bandit import BanditPolicy

log = logging.getLogger("costops.routing")
HINTS = 100_000
CHOSEN = "arms.model"
"""``call.state`` key: the model the arm chose, to tell whether it is the one that answered."""


def arm_policies(policies: Mapping[str, Any]) -> dict[str, Any]:
    """The policies that choose an arm (experiments and bandits), by name."""
    return {p.name: p for p in policies.values() if getattr(p, "kind", None) in ("experiment", "bandit")}


class Arms:
    name = "arms"

    def __init__(
        self, config: Config, policies: Mapping[str, Any], store: Callable[[], Any] | None = None,
        redis: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.redis = redis
        """The gateway's one Redis client (``Shared.redis``); None: open one of its own (closed at stop)."""
        self.policies = arm_policies(policies)
        self.bandits: dict[str, BanditPolicy] = {n: p for n, p in self.policies.items() if isinstance(p, BanditPolicy)}
        self.store = store or (lambda: None)
        self.states: dict[str, ArmState] = {}
        self.shared = config.redis_url is not None
        self._redis: Any = None
        self._refresher: asyncio.Task[None] | None = None
        self._hints: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        """request id -> (policy, task, arm) of the calls this process routed lately."""
        self.admin_routes = {("GET", "/admin/routing/bandits"): self.admin_bandits}

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.bandits:
            return
        if self.shared:
            if self.redis is not None:
                client = self.redis()
            else:
                from costops.redis_client import async_redis

                client = self._redis = async_redis(str(self.config.redis_url), pool_size=8)
            for name, policy in self.bandits.items():
                self.states[name] = RedisArmState(client, policy.redis_key)
            await self.refresh()
            self._refresher = asyncio.create_task(self._refresh_loop())
            return
        store = self.store()
        for name, policy in self.bandits.items():
            rows = await asyncio.to_thread(store.arms, Filters(), name) if store is not None else []
            policy.snapshot = stats_from_rows(rows)
            self.states[name] = MemoryArmState(policy.snapshot)

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self._redis is not None:
            await self._redis.aclose()

    async def refresh(self) -> None:
        for name, state in self.states.items():
            try:
                self.bandits[name].snapshot = await state.load()
            except Exception as exc:  # the last snapshot keeps routing while Redis is away
                log.warning("bandit %s: could not read the shared state (%s); routing on the last one", name, exc)

    async def _refresh_loop(self) -> None:
        interval = min(p.refresh_s for p in self.bandits.values())
        while True:
            await asyncio.sleep(interval)
            await self.refresh()

    # -- the request path -------------------------------------------------------------------------

    async def handle(self, call: Call, next: Next) -> Reply | None:
        policy = self.policies.get(call.record.policy or "") if call.record.arm else None
        if policy is None:
            return await next(call)
        call.response_headers.append((b"x-costops-arm", f"{policy.name}/{call.record.arm}".encode()))
        if policy.accept is not None:
            call.capture_stream = True
        if policy.name in self.bandits:
            self._hints[call.record.request_id] = (policy.name, call.record.task or "default", call.record.arm or "")
            if len(self._hints) > HINTS:
                self._hints.popitem(last=False)
        call.state[CHOSEN] = call.model
        call.entered.append(self)  # type: ignore[arg-type]  # settled in after(), once the answer is out
        return await next(call)

    async def before(self, call: Call) -> Reply | None:
        return None

    async def after(self, call: Call) -> None:
        record = call.record
        policy = self.policies[record.policy or ""]
        if record.status >= 400:
            return
        if policy.accept is not None and call.response_body is not None:
            body = call.response_body
            if call.stream:
                body = json_from_sse(call.api, body, record.usage) or b""
            record.accepted = judge(policy.accept, call.api, call.body, body).ok
        bandit = self.bandits.get(policy.name)
        if bandit is None or record.arm is None:
            return
        if record.model != call.state.get(CHOSEN):  # a budget's downgrade or a fallback answered, not the arm
            self._hints.pop(record.request_id, None)
            return
        quality = None if record.accepted is None else float(record.accepted)
        task, cost = record.task or "default", to_nanos(record.cost.total)
        state = self.states.get(bandit.name)
        if state is None:
            return
        await state.observe(record.request_id, task, record.arm, cost, quality)
        if self.shared:  # this replica's copy learns now; the next read brings everyone's
            apply_observation(bandit.snapshot, task, record.arm, cost, quality)

    # -- feedback -------------------------------------------------------------------------------

    async def feedback(self, request_id: str, score: float) -> None:
        """``POST /v1/feedback`` for a call: a bandit's quality for it becomes ``score``."""
        hint = self._hints.get(request_id)
        if hint is not None:
            name, task, arm = hint
            await self.states[name].rescore(request_id, score, (task, arm))
            return
        for state in self.states.values():
            if await state.rescore(request_id, score, None):
                return
        if self.shared:
            return
        store = self.store()  # a call routed before this process started: the ledger knows it
        row = await asyncio.to_thread(store.request_arm, request_id) if store is not None else None
        kept = self.states.get(row["policy"]) if row is not None else None
        if not isinstance(kept, MemoryArmState):
            return
        assert row is not None
        previous = row["score"] if row["score"] is not None else row["accepted"]
        task = row["task"] or "default"
        if previous is not None:  # counted when the state was rebuilt: the score replaces it
            kept.remember(request_id, [task, row["arm"], float(previous)])
        await kept.rescore(request_id, score, (task, row["arm"]))

    # -- admin ----------------------------------------------------------------------------------

    @admin_doc("What each bandit has learned: per task type and arm, calls, mean quality, mean cost, reward",
               response={"type": "object", "additionalProperties": {"type": "object"}})
    async def admin_bandits(self, scope: Any, receive: Any, send: Any) -> None:
        if self.shared:
            await self.refresh()
        await respond(send, 200, orjson.dumps({n: p.summary() for n, p in self.bandits.items()}))
