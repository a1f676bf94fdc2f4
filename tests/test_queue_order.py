"""Queue ordering, aging and header parsing: pure, with a fake clock."""

from __future__ import annotations

import pytest

from costops.control.queue import QueueConfig, QueueFull, WaitQueue, parse_deadline, parse_priority
from costops.errors import BadRequest


def test_priority_and_deadline_headers() -> None:
    assert [parse_priority(v) for v in (None, "high", "LOW", "normal", "7")] == [5, 8, 2, 5, 7]
    with pytest.raises(BadRequest, match="x-costops-priority"):
        parse_priority("urgent")
    now = 1_767_225_600.0
    assert parse_deadline("2.5", now) == now + 2.5  # seconds from now
    assert parse_deadline("1767225610", now) == 1_767_225_610  # Unix seconds
    assert parse_deadline("1767225610500", now) == 1_767_225_610.5  # Unix milliseconds
    with pytest.raises(BadRequest, match="x-costops-deadline"):
        parse_deadline("tomorrow", now)


def test_high_priority_first_then_earliest_deadline_then_arrival() -> None:
    q = WaitQueue(QueueConfig(max_size=10, max_wait_s=60, aging_s=5))
    low = q.enter(2, 50.0, 0.0, "x")
    late = q.enter(5, 40.0, 0.1, "x")
    soon = q.enter(5, 20.0, 0.2, "x")
    high = q.enter(8, 60.0, 0.3, "x")
    other = q.enter(9, 60.0, 0.4, "y")  # waits for another limit: not a competitor
    order = []
    for _ in range(4):
        head = q.head("x", 1.0)
        assert head is not None
        order.append(head)
        q.leave(head, 1.0)
    assert order == [high, soon, late, low]
    assert q.head("y", 1.0) is other and len(q) == 1


def test_aging_lets_a_long_waiting_low_request_past_newer_high_ones() -> None:
    q = WaitQueue(QueueConfig(max_size=10, max_wait_s=60, aging_s=5))
    low = q.enter(2, 100.0, 0.0, "x")
    q.enter(8, 100.0, 29.0, "x")
    assert q.head("x", 29.0) is not low  # 2 + 5 levels of aging < 8
    assert q.head("x", 30.0) is low  # 2 + 6 = 8, and it has waited longest


def test_bounded_and_lines_tracked() -> None:
    q = WaitQueue(QueueConfig(max_size=2, max_wait_s=60))
    a = q.enter(5, 10.0, 0.0, "x")
    q.enter(5, 10.0, 0.0, "y")
    with pytest.raises(QueueFull):
        q.enter(5, 10.0, 0.0, "x")
    assert q.busy(("z", "y")) == "y"
    q.move(a, "y", 0.0)
    assert q.depth() == {"y": 2} and q.busy(("x",)) is None
