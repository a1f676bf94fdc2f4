"""Adaptive backoff from a throttled deployment: pure decisions over a fake clock."""

from __future__ import annotations

import pytest

from costops.control.adaptive import (
    HEALTHY,
    AdaptiveConfig,
    Health,
    choose,
    merge,
    recovered,
    share_at,
    throttled,
)

CFG = AdaptiveConfig(base_backoff_s=1, max_backoff_s=8, recovery_s=10, min_share=0.05)


def test_the_providers_retry_after_is_honoured_then_the_share_recovers_linearly() -> None:
    h = throttled(HEALTHY, 100.0, 20.0, CFG)
    assert h.blocked_until == 120 and h.strikes == 1 and h.share == 0.5
    assert share_at(h, 119.9, CFG) == 0
    assert share_at(h, 120.0, CFG) == 0.5
    assert share_at(h, 122.5, CFG) == pytest.approx(0.75)
    assert share_at(h, 125.0, CFG) == 1 and recovered(h, 125.0, CFG)


def test_without_a_hint_the_backoff_doubles_up_to_the_cap_and_the_share_halves() -> None:
    h, now, waits, shares = HEALTHY, 0.0, [], []
    for _ in range(5):
        h = throttled(h, now, None, CFG)
        waits.append(h.blocked_until - now)
        shares.append(round(h.share, 4))
        now = h.blocked_until  # 429 again the moment the block ends
    assert waits == [1, 2, 4, 8, 8]
    assert shares == [0.5, 0.25, 0.125, 0.0625, 0.05]
    # fully recovered: the next 429 is a first strike again
    later = throttled(h, now + 100, None, CFG)
    assert later.strikes == 1 and later.blocked_until == now + 101


def test_a_burst_of_429s_from_calls_already_in_flight_is_one_event() -> None:
    h = throttled(HEALTHY, 0.0, None, CFG)
    assert throttled(h, 0.2, None, CFG) == h
    longer = throttled(h, 0.2, 5.0, CFG)
    assert longer.blocked_until == 5.2 and longer.strikes == 1


def test_choose_spreads_to_a_healthy_sibling_and_waits_when_there_is_none() -> None:
    blocked = {"a": throttled(HEALTHY, 0.0, 10.0, CFG)}
    assert choose("a", ("b",), blocked, 1.0, CFG, 0.0).deployment == "b"
    none = choose("a", (), blocked, 1.0, CFG, 0.0)
    assert none.deployment is None and none.wait == 9
    both = {**blocked, "b": throttled(HEALTHY, 0.0, 4.0, CFG)}
    assert choose("a", ("b",), both, 1.0, CFG, 0.0).wait == 3
    # recovering at share 0.5 + 1/10 per second: draws below the share stay, the rest go to b
    assert share_at(blocked["a"], 12.0, CFG) == pytest.approx(0.7)
    assert choose("a", ("b",), blocked, 12.0, CFG, 0.69).deployment == "a"
    assert choose("a", ("b",), blocked, 12.0, CFG, 0.71).deployment == "b"
    assert choose("a", (), blocked, 12.0, CFG, 0.99).deployment == "a"  # nowhere else to go
    assert choose("a", ("b",), {}, 0.0, CFG, 0.99).deployment == "a"


def test_replicas_merge_to_the_later_block() -> None:
    early, late = Health(10, 1, 0.5, 10), Health(20, 2, 0.25, 20)
    assert merge(early, late) == late and merge(late, early) == late
