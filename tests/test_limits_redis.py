"""Two gateway processes sharing one Redis: the combined admitted rate stays within the limit,
concurrency slots are shared, and a dead replica's slots come back when their leases lapse.

No outcome hangs on a timing window: the load runs until both replicas have refused, slots are
held by calls far longer than the checks take, and a lapse is waited for, not slept for."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests import rawhttp, replicas
from tests.replicas import REDIS_URL

LEASE_TTL_S = 3
"""Short, so a dead replica's slots come back quickly; a third of it (renewal) is still a second."""
HOLD = "hi [[sim:delay=20]]"
"""A call that holds its slot until the test is done with it (its replica is killed under it)."""


class Replica(replicas.Replica):
    def post(self, key: str, content: str = "hi") -> int:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
        return rawhttp.post(f"{self.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"},
                            timeout=60).status

    def slots_in_use(self) -> int:
        """Slots held, as this replica reads them from Redis (0 for a limit it has not met yet)."""
        rows = rawhttp.get(f"{self.url}/admin/limits/status").json()["limits"]
        return next((r["in_use"] for r in rows if r["limit"].endswith(":concurrent")), 0)


def until(predicate, what: str, timeout: float = 30.0) -> float:
    """Seconds it took for ``predicate`` to hold (generous: a loaded machine may starve the replicas)."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def pair(simulator, tmp_path_factory) -> Iterator[tuple[str, tuple[Replica, Replica]]]:
    """Two replicas for the module (they take a second to start); the last test kills one."""
    run = uuid.uuid4().hex[:8]  # fresh buckets in a Redis that outlives test runs
    config = f"""keys:
  - {{id: bot-{run}, key: sk-bot, tenant: acme-{run}}}
  - {{id: solo-{run}, key: sk-solo, tenant: solo-{run}}}
limits:
  rules:
    - {{scope: tenant, id: acme-{run}, rpm: 120}}
    - {{scope: key, id: solo-{run}, concurrent: 2}}
  lease_ttl_s: {LEASE_TTL_S}
redis: {{url: "{REDIS_URL}"}}
"""
    with replicas.pair(config, simulator.url, tmp_path_factory.mktemp("replicas"), Replica) as group:
        yield run, group


def test_two_replicas_admit_at_most_the_limit_together(pair) -> None:
    run, (a, b) = pair
    admitted = {a.port: 0, b.port: 0}
    refused = {a.port: 0, b.port: 0}
    lock = threading.Lock()
    done = threading.Event()
    started = time.monotonic()
    give_up = started + 120

    def hammer(replica: Replica) -> None:
        while not done.is_set() and time.monotonic() < give_up:
            status = replica.post("sk-bot")
            assert status in (200, 429)
            with lock:
                (admitted if status == 200 else refused)[replica.port] += 1
                if all(refused.values()):  # the burst is spent, as both replicas have seen
                    done.set()

    threads = [threading.Thread(target=hammer, args=(r,)) for r in (a, b) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = sum(admitted.values())
    bound = 120 + 2 * elapsed  # capacity + refill at 2 a second
    print(f"\nadmitted {admitted} refused {refused} in {elapsed:.2f}s: {total} <= {bound:.1f}")
    assert done.is_set(), "both replicas should refuse once the shared burst is spent"
    assert 120 <= total <= bound
    assert all(admitted.values())


def test_concurrency_is_shared_and_a_dead_replicas_slots_lapse(pair) -> None:
    run, (a, b) = pair

    def hold() -> None:
        try:
            a.post("sk-solo", HOLD)
        except OSError:  # replica a is killed under it
            pass

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for t in holders:
        t.start()
    until(lambda: a.slots_in_use() == 2, "both calls on replica a to hold their slot")
    assert [r.post("sk-solo") for r in (a, b, a, b)] == [429] * 4, "two slots in all, whichever replica is asked"
    time.sleep(LEASE_TTL_S + 0.5)  # past the lease: a renews its calls' leases while it lives
    assert b.slots_in_use() == 2 and b.post("sk-solo") == 429
    a.proc.kill()  # dies without releasing anything
    lapsed = until(lambda: b.post("sk-solo") == 200, "replica a's slots to lapse")
    print(f"\nreplica a's slots came back {lapsed:.1f} s after it died (lease_ttl_s: {LEASE_TTL_S})")
    status = rawhttp.get(f"{b.url}/admin/limits/status").json()
    assert status["backend"] == "redis"
    for t in holders:
        t.join()
    assert {"limit": f"key:solo-{run}:concurrent", "label": f"key solo-{run}: 2 concurrent requests",
            "in_use": 0, "capacity": 2} in status["limits"]
