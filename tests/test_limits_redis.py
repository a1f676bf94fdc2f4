"""Two gateway processes sharing one Redis: the combined admitted rate stays within the limit,
concurrency slots are shared, and a dead replica's slots come back when their leases lapse."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests import rawhttp, replicas
from tests.replicas import REDIS_URL, redis_or_skip


class Replica(replicas.Replica):
    def post(self, key: str, content: str = "hi") -> int:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
        return rawhttp.post(f"{self.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}).status


@pytest.fixture(scope="module")
def replicas(simulator, tmp_path_factory) -> Iterator[tuple[str, list[Replica]]]:
    """Two replicas for the module (they take a second to start); the last test kills one."""
    redis_or_skip()
    tmp_path = tmp_path_factory.mktemp("replicas")
    run = uuid.uuid4().hex[:8]  # fresh buckets in a Redis that outlives test runs
    config = tmp_path / "costops.yaml"
    config.write_text(f"""keys:
  - {{id: bot-{run}, key: sk-bot, tenant: acme-{run}}}
  - {{id: solo-{run}, key: sk-solo, tenant: solo-{run}}}
limits:
  rules:
    - {{scope: tenant, id: acme-{run}, rpm: 120}}
    - {{scope: key, id: solo-{run}, concurrent: 2}}
  lease_ttl_s: 1
redis: {{url: "{REDIS_URL}"}}
""")
    group = [Replica(config, simulator.url, tmp_path, n, db=f"sqlite:///{tmp_path}/replica-{n}.db") for n in range(2)]
    try:
        for r in group:
            r.wait_ready()
        yield run, group
    finally:
        for r in group:
            r.stop()


def test_two_replicas_admit_at_most_the_limit_together(replicas) -> None:
    run, (a, b) = replicas
    admitted = {a.port: 0, b.port: 0}
    refused = {a.port: 0, b.port: 0}
    lock = threading.Lock()
    started = time.monotonic()
    stop = started + 5.0

    def hammer(replica: Replica) -> None:
        while time.monotonic() < stop:
            status = replica.post("sk-bot")
            assert status in (200, 429)
            with lock:
                (admitted if status == 200 else refused)[replica.port] += 1

    threads = [threading.Thread(target=hammer, args=(r,)) for r in (a, b) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = sum(admitted.values())
    bound = 120 + 2 * elapsed  # capacity + refill at 2 a second
    print(f"\nadmitted {admitted} refused {refused} in {elapsed:.2f}s: {total} <= {bound:.1f}")
    assert 120 <= total <= bound
    assert all(admitted.values()) and all(refused.values())


def test_concurrency_is_shared_and_a_dead_replicas_slots_lapse(replicas) -> None:
    run, (a, b) = replicas
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda r=r: statuses.append(r.post("sk-solo", "hi [[sim:delay=1]]")))
        for r in (a, b, a, b, a, b)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]

    def hold() -> None:
        try:
            a.post("sk-solo", "hi [[sim:delay=5]]")
        except OSError:  # replica a is killed under it
            pass

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for t in holders:
        t.start()
    for _ in range(100):  # until both calls hold their slot (seen from replica b, through Redis)
        rows = rawhttp.get(f"{b.url}/admin/limits/status").json()["limits"]
        if rows and rows[0]["in_use"] == 2:
            break
        time.sleep(0.02)
    time.sleep(1.2)  # longer than lease_ttl_s: the leases are renewed while a lives
    assert b.post("sk-solo") == 429  # both slots held by replica a
    a.proc.kill()  # dies without releasing anything
    time.sleep(1.3)  # lease_ttl_s: 1
    assert b.post("sk-solo") == 200
    status = rawhttp.get(f"{b.url}/admin/limits/status").json()
    assert status["backend"] == "redis"
    for t in holders:
        t.join()
    assert {"limit": f"key:solo-{run}:concurrent", "label": f"key solo-{run}: 2 concurrent requests",
            "in_use": 0, "capacity": 2} in status["limits"]
