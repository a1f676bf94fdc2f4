"""When the shared budget state (Redis) goes away or comes back empty, and how the books stay
right: the budgets stage's recovery, off the request path but for the requests that meet it.

    Redis unreachable   reserve: ``on_state_error`` (block: 503; allow: admit, the call is kept
                        in flight and its hold is put back once Redis answers);
                        settle: retried for ``SETTLE_WAIT_S`` (at once journaled once Redis has
                        been away that long), journaled here and applied when Redis answers
                        with the same epoch
    state lost          (the marker is gone: a restart without persistence, a flush) one replica
                        takes the rebuild lock, waits until every replica's ledger rows written
                        before it noticed are in (two flush intervals), sets each window's
                        buckets to the ledger's spend and writes a new epoch; the others wait
                        for it. Every replica then puts back the holds of its calls in flight.
    new epoch           (another replica rebuilt) adopt it; journaled settles of the old epoch
                        are dropped: the ledger rows they were journaled with were submitted
                        before the rebuild read the ledger, so the rebuild counted them

The ordering that makes it exact: the gateway submits a call's ledger row only after the
budgets stage settled it, so a settle that waits for the rebuild is not in the ledger the
rebuild reads, and is then applied to the rebuilt state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from costops.control.budgets_view import BudgetsView
from costops.control.ledger_view import ledger_parts
from costops.control.reservations import Claim, StateLost
from costops.control.windows import current_window

log = logging.getLogger("costops.budgets")

SETTLE_WAIT_S = 10.0
"""How long a settle keeps retrying an unreachable Redis before it is journaled."""
JOURNAL_MAX = 100_000
"""Settles kept while Redis is away; past that the oldest are dropped (and logged)."""
REBUILD_WAIT_S = 5.0
"""How long a request waits for a rebuild (its own replica's or another's) before giving up."""


@dataclass(frozen=True, slots=True)
class Settled:
    """A settle Redis did not take: applied when Redis is back with the same epoch."""

    epoch: str | None
    rid: str
    claims: list[Claim]
    actual: int
    at: float


class Recovery:
    def __init__(self, stage: BudgetsView) -> None:
        self.stage = stage
        self.journal: list[Settled] = []
        self.restore_needed = False
        """Calls were admitted without a hold (Redis away, ``on_state_error: allow``): put their holds back."""
        self._rebuilding: asyncio.Task[bool] | None = None
        self.down_since: float | None = None
        """When settles began to fail to reach Redis (monotonic); None while it answers. Once it
        has been away for ``SETTLE_WAIT_S``, settles are journaled at once instead of waiting."""

    @property
    def state(self) -> Any:
        return self.stage.state

    async def recover(self, lost: StateLost) -> bool:
        """Make the state usable again; False: not yet (the caller applies ``on_state_error``)."""
        if lost.current and lost.current != self.state.epoch:
            await self._adopt(lost.current)
            return True
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = asyncio.create_task(self._rebuild(), name="costops-budget-rebuild")
        try:
            return await asyncio.wait_for(asyncio.shield(self._rebuilding), timeout=REBUILD_WAIT_S)
        except (TimeoutError, asyncio.TimeoutError):
            return False
        except Exception as exc:
            log.error("budget state rebuild failed: %s", exc)
            return False

    async def settle(self, rid: str, claims: list[Claim], actual: int, now: float) -> tuple[Any, ...] | None:
        """Settle, riding out an outage or a rebuild; None: journaled (Redis stayed away)."""
        try:
            levels = tuple(await self.state.settle(rid, claims, actual, now))
        except asyncio.CancelledError:
            raise
        except Exception:
            if self.down_since is not None and time.monotonic() - self.down_since > SETTLE_WAIT_S:
                self._journal(rid, claims, actual, now)  # a long outage: no request waits for it
                return None
            return await self._settle_again(rid, claims, actual, now)
        self.down_since = None
        return levels

    async def _settle_again(self, rid: str, claims: list[Claim], actual: int, now: float) -> tuple[Any, ...] | None:
        deadline = time.monotonic() + SETTLE_WAIT_S
        while True:
            try:
                levels = tuple(await self.state.settle(rid, claims, actual, now))
                self.down_since = None
                return levels
            except StateLost as lost:
                if await self.recover(lost):
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.down_since is None:
                    self.down_since = time.monotonic()
                if time.monotonic() >= deadline:
                    log.error("budget settle of %s journaled: the state is unreachable (%s)", rid, exc)
                    break
                await asyncio.sleep(0.25)
                continue
            if time.monotonic() >= deadline:
                break
        self._journal(rid, claims, actual, now)
        return None

    def _journal(self, rid: str, claims: list[Claim], actual: int, now: float) -> None:
        if len(self.journal) >= JOURNAL_MAX:
            log.error("budget settle journal full (%d): dropping the oldest; that spend is counted again "
                      "only if the state is rebuilt from the ledger", JOURNAL_MAX)
            del self.journal[: JOURNAL_MAX // 10]
        self.journal.append(Settled(getattr(self.state, "epoch", None), rid, claims, actual, now))

    async def tick(self) -> None:
        """From the renewal loop: put back lost holds, apply journaled settles (same epoch only)."""
        if self.restore_needed:
            await self.restore()
        if not self.journal:
            return
        pending, self.journal = self.journal, []
        for i, entry in enumerate(pending):
            if entry.epoch != self.state.epoch:
                continue  # counted by the rebuild, from the ledger
            try:
                await self.state.settle(entry.rid, entry.claims, entry.actual, entry.at)
            except BaseException:
                self.journal = [e for e in pending[i:] if e.epoch == self.state.epoch] + self.journal
                raise
        if pending:
            log.warning("budget state is back: %d journaled settles applied", len(pending))

    async def restore(self) -> None:
        holds = list(self.stage.in_flight.values())
        if holds:
            await self.state.renew(holds, self.stage.clock() + self.stage.settings.reservation_ttl_s, restore=True)
        self.restore_needed = False

    async def _adopt(self, epoch: str) -> None:
        self.state.epoch = epoch
        dropped = [e for e in self.journal if e.epoch != epoch]
        self.journal = [e for e in self.journal if e.epoch == epoch]
        if dropped:
            log.warning("budget state was rebuilt from the ledger: %d journaled settles already counted there", len(dropped))
        await self.restore()

    async def _rebuild(self) -> bool:
        state, stage = self.state, self.stage
        if not await state.rebuild_lock():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                current = await state.current_epoch()
                if current:
                    await self._adopt(current)
                    return True
                await asyncio.sleep(0.1)
            return False
        log.warning("budget state lost (Redis restarted or flushed): rebuilding every window from the ledger")
        await asyncio.sleep(2 * stage.config.ledger.flush_interval_s + 0.2)  # rows written before now are in
        now = stage.clock()
        plan = []
        for budget in list(stage.budgets.values()):
            window = current_window(budget.window, now)
            if window is not None:
                plan.append((budget, window))
        store = stage.store()
        parts = await asyncio.to_thread(lambda: [ledger_parts(store, b, w, now) for b, w in plan])
        windows = [(b.name, p, w.keep_s) for (b, w), p in zip(plan, parts, strict=True)]
        epoch = await state.rebuild(windows)
        for budget, window in plan:
            stage.seeded.add((budget.name, window.id))
        await self._adopt(epoch)
        log.warning("budget state rebuilt from the ledger (%d windows)", len(windows))
        return True
