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
