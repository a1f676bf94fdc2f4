"""The budgets stage's recovery without a network: settles that cannot reach the state are
journaled, applied when it answers with the same epoch, dropped when it was rebuilt (the ledger,
which the rebuild read, has them)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from costops.control import recovery
from costops.control.reservations import Claim, MemoryState


class Flaky(MemoryState):
    """A state that refuses settles while ``down``, with an epoch like the Redis one."""

    def __init__(self) -> None:
        super().__init__()
        self.down, self.epoch = False, "e1"

    async def settle(self, rid, claims, actual, now):  # noqa: ANN001, ANN201
        if self.down:
            raise ConnectionError("Redis is away")
        return await super().settle(rid, claims, actual, now)


def _stage(state: Flaky) -> SimpleNamespace:
    return SimpleNamespace(state=state, in_flight={}, clock=lambda: 1000.0, settings=SimpleNamespace(reservation_ttl_s=60))


CLAIM = Claim("b", 10_000, ("d1",), "d1", 3600)


@pytest.fixture(autouse=True)
def long_outage(monkeypatch) -> None:
    """Redis has been away longer than a settle retries: settles are journaled at once."""
    monkeypatch.setattr(recovery, "SETTLE_WAIT_S", 0.0)


async def journaled(*settles: tuple[str, int]) -> tuple[Flaky, recovery.Recovery]:
    """A recovery whose state is away while these (request id, nano-dollars) settle: each is journaled."""
    state = Flaky()
    rec = recovery.Recovery(_stage(state))  # type: ignore[arg-type]
    state.down = True
    for rid, nanos in settles:
        assert await rec.settle(rid, [CLAIM], nanos, 1000.0) is None
    assert [e.rid for e in rec.journal] == [rid for rid, _ in settles]
    return state, rec


async def spent(state: Flaky) -> int:
    return (await state.levels([CLAIM], 1000.0))[0].spent


def test_journaled_settles_apply_when_the_state_is_back_with_its_epoch() -> None:
    async def scenario() -> None:
        state, rec = await journaled(("r1", 300), ("r2", 200))
        with pytest.raises(ConnectionError):  # still away: the renewal loop logs it, the journal keeps them
            await rec.tick()
        assert len(rec.journal) == 2 and await spent(state) == 0
        state.down = False
        await rec.tick()
        assert rec.journal == [] and await spent(state) == 500

    asyncio.run(scenario())


def test_journaled_settles_are_dropped_when_the_state_was_rebuilt() -> None:
    async def scenario() -> None:
        state, rec = await journaled(("r1", 300))
        state.down = False
        await rec._adopt("e2")  # another replica rebuilt the state from the ledger
        await rec.tick()
        assert rec.journal == [] and await spent(state) == 0

    asyncio.run(scenario())
