"""MemoryState keeps a rolling window's spend as a running total: every level it reports must
equal the plain sum over the window's buckets, however settles, seeds, prunes and a window that
moves on interleave."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from costops.control.reservations import Claim, MemoryState

HOURS = [f"h{i}" for i in range(12)]
ops = st.lists(st.tuples(st.sampled_from(["settle", "seed", "prune", "move"]), st.integers(0, 11),
                         st.integers(0, 10_000)), min_size=1, max_size=60)


def _claim(start: int) -> Claim:
    buckets = tuple(HOURS[start : start + 4]) or (HOURS[-1],)
    return Claim("rolling", 10**12, buckets, buckets[-1], 3600)


# No deadline: each example runs an event loop, and on a busy machine one can take over
# hypothesis's 200 ms, which says nothing about the totals.
@settings(deadline=None)
@given(ops)
def test_running_totals_equal_the_sum_over_the_buckets(seq) -> None:
    async def run() -> None:
        state = MemoryState()
        start = 0
        claim = _claim(start)
        for op, i, nanos in seq:
            if op == "settle":
                await state.settle("r", [claim], nanos, 0.0)
            elif op == "seed":
                await state.seed("rolling", HOURS[i], nanos, 3600)
            elif op == "prune":
                await state.prune("rolling", [HOURS[i]])
            else:  # the window moves on by an hour (a new tuple of buckets)
                start = min(start + 1, 8)
                claim = _claim(start)
            (level,) = await state.levels([claim], 0.0)
            assert level.spent == sum(state.spent["rolling"].get(b, 0) for b in claim.buckets)

    asyncio.run(run())


def test_a_hold_is_released_in_the_claims_it_was_made_in_and_levels_read_the_window_bucket() -> None:
    """settle_now releases a hold in one pass when it is given the claims the hold was made in,
    and by the hold's own claims otherwise (an equal list, or other claims); a one-bucket claim
    whose bucket is not the one a settle adds to reads its own bucket."""
    state = MemoryState()
    a, b = Claim("a", 1000, ("m1",), "m1", 60), Claim("b", 1000, ("d1",), "d1", 60)
    claims = [a, b]
    assert state.reserve_now("r1", claims, 100, 0.0, 60.0).held == 100
    assert state.reserve_now("r2", [a, b], 200, 0.0, 60.0).held == 200
    assert (state.reserved["a"], state.reserved["b"]) == (300, 300)
    levels = state.settle_now("r1", claims, 40, 1.0)  # the very list: released in the pass
    assert [tuple(lv) for lv in levels] == [(40, 200, 1000), (40, 200, 1000)]
    levels = state.settle_now("r2", [a], 50, 1.0)  # other claims: the hold's own are released
    assert [tuple(lv) for lv in levels] == [(90, 0, 1000)] and state.reserved["b"] == 0
    assert state.spent["b"] == {"d1": 40}
    odd = Claim("c", -1, ("x",), "y", 60)  # settles into y, its window is x
    state.spent["c"]["x"] = 7
    assert [tuple(lv) for lv in state.settle_now("r3", [odd], 5, 1.0)] == [(7, 0, 2**62)]
    assert state.spent["c"] == {"x": 7, "y": 5}
    # costops sets the cap: the hold is the smallest room, at least the least; the levels include it
    admission = state.reserve_now("r4", claims, 2000, 2.0, 60.0, least=10)
    assert admission.held == 910 and [tuple(lv) for lv in admission.levels] == [(90, 910, 1000), (40, 910, 1000)]
    assert not state.reserve_now("r5", claims, 100, 2.0, 60.0).admitted


def test_a_refusal_by_a_later_claim_holds_nothing_in_the_earlier_ones() -> None:
    """The hold is taken claim by claim as each fits; a claim that does not fit gives back what
    the ones before it took, so the refused request leaves every level as it found it."""
    state = MemoryState()
    roomy, third = Claim("roomy", 1000, ("m",), "m", 60), Claim("t", 1000, ("x",), "x", 60)
    tight = Claim("tight", 100, ("d",), "d", 60)
    refused = state.reserve_now("r1", [roomy, third, tight], 150, 0.0, 60.0)
    assert not refused.admitted and refused.refused_by == 2
    assert [tuple(lv) for lv in refused.levels] == [(0, 0, 1000), (0, 0, 1000), (0, 0, 100)]
    assert (state.reserved["roomy"], state.reserved["t"], state.reserved["tight"]) == (0, 0, 0)
    assert "r1" not in state.holds and state._expiry == []
    admitted = state.reserve_now("r2", [roomy, tight], 100, 0.0, 60.0)  # exactly the room left
    assert admitted.admitted and [tuple(lv) for lv in admitted.levels] == [(0, 100, 1000), (0, 100, 100)]


def test_the_expiry_heap_keeps_only_the_holds_still_held_and_they_expire_as_before(monkeypatch) -> None:
    """Settled holds leave their heap entry behind; once the heap has doubled it is rebuilt from
    the holds still held (at their latest renewal), so it stays bounded by the calls in flight,
    and a hold still expires exactly at its expiry."""
    import costops.control.reservations as reservations

    monkeypatch.setattr(reservations, "_COMPACT_MIN", 8)
    state = MemoryState()
    state._compact_at = 8
    claim = Claim("busy", 10**9, ("d",), "d", 3600)
    assert state.reserve_now("slow", [claim], 7, 0.0, 100.0).held == 7  # never settled: expires at 100
    asyncio.run(state.renew([("slow", [claim], 7)], 130.0))  # renewed: its first entry is stale
    for i in range(200):  # each settled at once: 200 entries of holds that are gone
        state.reserve_now(f"r{i}", [claim], 5, 1.0 + i * 0.1, 110.0 + i * 0.1)
        state.settle_now(f"r{i}", [claim], 3, 1.0 + i * 0.1)
        assert len(state._expiry) <= 2 * (len(state.holds) + 1) + 8  # the holds at the last rebuild, r{i} among them
    assert state.reserved["busy"] == 7 and set(state.holds) == {"slow"}
    assert state.reserve_now("late", [claim], 1, 129.0, 200.0).held == 1 and state.reserved["busy"] == 8  # "slow" held at 129
    state.settle_now("late", [claim], 0, 129.0)
    assert state.reserve_now("after", [claim], 1, 130.0, 200.0).levels[0].reserved == 1  # "slow" expired at 130
    assert "slow" not in state.holds
