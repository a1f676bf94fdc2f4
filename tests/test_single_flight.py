"""Single-flight over real HTTP: N concurrent identical cacheable requests make one upstream call
(the simulator's request counter), the others are answered from the leader's answer and booked
as cache hits; a paraphrase the semantic cache would serve follows too, a near-miss does not;
followers wait a bounded time, and go upstream themselves when the leader fails; across two
replicas sharing Redis a request waits for the other replica's leader.

The simulator sits behind a gate the test opens, so a leader stays in flight exactly until the
followers are seen waiting (the gateway's cache stats): no timing window decides the outcome."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from costops.providers.simulator import SimConfig, create_simulator
from costops.serving import BackgroundServer
from tests import rawhttp, replicas
from tests.conftest import RunningGateway, gateways
from tests.replicas import redis_or_skip

QUESTION = "How do I upgrade my subscription to the annual plan?"
RUN = uuid.uuid4().hex[:8]


class Gate:
    """The simulator behind a gate: provider calls are counted as they arrive and held until the
    test opens the gate; ``fail_first`` answers the first call with a 400 itself. ``calls(text)``
    counts the calls that asked ``text`` (this test's own, whatever else reaches the port)."""

    def __init__(self) -> None:
        self.sim = create_simulator(SimConfig(latency_scale=0))
        self.arrived = 0
        self.fail_first = False
        self.bodies: list[bytes] = []
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    def calls(self, text: str) -> int:
        return sum(1 for b in self.bodies if json.dumps(text).encode() in b)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.sim(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.arrived += 1
        n = self.arrived
        self.bodies.append(body)
        while not self._open.is_set():
            await asyncio.sleep(0.005)
        if self.fail_first and n == 1:
            error = json.dumps({"error": {"message": "bad request (the gate)", "type": "invalid_request_error"}}).encode()
            await send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": error})
            return

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.sim(scope, replay, send)


@pytest.fixture
def gate() -> Iterator[tuple[Gate, str]]:
    g = Gate()
    server = BackgroundServer(g).start()
    try:
        yield g, server.url
    finally:
        g.open()
        server.stop()


@pytest.fixture
def gated_gateway(gate, tmp_path: Path) -> Iterator[Callable[[str], RunningGateway]]:
    """``start(cache)``: a gateway for tenant acme, its providers behind the gate."""
    with gateways(gate[1], tmp_path) as start:
        yield lambda cache: start(f"keys: [{{id: acme, key: sk-acme, tenant: acme}}]\ncache: {cache}\n")


def until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout  # generous: a loaded suite may starve both cores
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def stats(url: str, path: str = "/admin/cache/stats", headers: dict[str, str] | None = None) -> dict[str, Any]:
    data = rawhttp.get(url + path, headers=headers).json()
    return data.get("exact", data)


def ask(url: str, text: str, key: str = "sk-acme") -> tuple[dict[str, str], str]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", temperature=0, max_tokens=20, messages=[{"role": "user", "content": text}])
    return dict(raw.headers), raw.parse().choices[0].message.content or ""


def leader_then_followers(url: str, gate: Gate, leader: str, followers: list[str], waiting: Callable[[], int],
                          upstream: int = 1) -> tuple[tuple[dict[str, str], str], list[tuple[dict[str, str], str]]]:
    """Send ``leader``, hold it at the gate, send ``followers``; open the gate once ``waiting()``
    says they all wait and ``upstream`` calls have arrived (near-misses go upstream too)."""
    with ThreadPoolExecutor(len(followers) + 1) as pool:
        first = pool.submit(ask, url, leader)
        until(lambda: gate.arrived >= 1, "the leader to reach the provider")
        rest = [pool.submit(ask, url, text) for text in followers]
        expected = sum(1 for _ in followers) - (upstream - 1)
        until(lambda: waiting() == expected and gate.arrived == upstream, f"{expected} followers waiting")
        gate.open()
        return first.result(), [f.result() for f in rest]


def test_identical_concurrent_requests_make_one_upstream_call_and_followers_are_booked_as_hits(gate, gated_gateway) -> None:
    g, _ = gate
    gw = gated_gateway("{exact: {default_ttl_s: 600}}")
    before = g.sim.requests
    (lead_headers, answer), followers = leader_then_followers(
        gw.url, g, QUESTION, [QUESTION] * 7, lambda: stats(gw.url)["waiting"])
    assert g.sim.requests - before == 1
    assert lead_headers["x-costops-cache"] == "miss"
    for headers, text in followers:
        assert headers["x-costops-cache"] == "exact" and int(headers["x-costops-cache-wait-ms"]) >= 0
        assert text == answer
    s = stats(gw.url)
    assert (s["followers"], s["followers_upstream"], s["waiting"], s["stores"]) == (7, 0, 0, 1)
    records = gw.records(8)
    misses = [r for r in records if r.cache == "miss"]
    hits = [r for r in records if r.cache == "exact"]
    assert len(misses) == 1 and len(hits) == 7 and misses[0].cost.total > 0
    assert all(r.cost.total == Decimal(0) and r.avoided_cost == misses[0].cost.total for r in hits)
    # later identical requests are ordinary hits: no wait
    headers, _ = ask(gw.url, QUESTION)
    assert headers["x-costops-cache"] == "exact" and "x-costops-cache-wait-ms" not in headers


def test_followers_wait_a_bounded_time_then_go_upstream_themselves(gate, gated_gateway) -> None:
    g, _ = gate
    gw = gated_gateway("{exact: {default_ttl_s: 600, single_flight_wait_s: 0.2}}")
    before = g.sim.requests
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(ask, gw.url, QUESTION)
        until(lambda: g.arrived >= 1, "the leader to reach the provider")
        rest = [pool.submit(ask, gw.url, QUESTION) for _ in range(3)]
        until(lambda: g.arrived == 4, "the followers to give up waiting and call the provider")
        g.open()
        results = [first.result()] + [f.result() for f in rest]
    assert g.sim.requests - before == 4
    assert [h["x-costops-cache"] for h, _ in results] == ["miss"] * 4
    assert stats(gw.url)["followers_upstream"] == 3


def test_when_the_leader_fails_its_followers_go_upstream_themselves(gate, gated_gateway) -> None:
    g, _ = gate
    g.fail_first = True
    gw = gated_gateway("{exact: {default_ttl_s: 600}}")
    before = g.sim.requests
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(ask, gw.url, QUESTION)
        until(lambda: g.arrived >= 1, "the leader to reach the provider")
        rest = [pool.submit(ask, gw.url, QUESTION) for _ in range(3)]
        until(lambda: stats(gw.url)["waiting"] == 3, "3 followers waiting")
        g.open()  # the leader gets a 400; its followers are not left waiting out their 30 s
        with pytest.raises(openai.BadRequestError):
            first.result()
        followers = [f.result() for f in rest]
    assert g.sim.requests - before == 3
    assert [h["x-costops-cache"] for h, _ in followers] == ["miss"] * 3
    assert stats(gw.url)["followers_upstream"] == 3
    # nothing stays in flight after a failure: the next identical request is an ordinary hit
    assert ask(gw.url, QUESTION)[0]["x-costops-cache"] == "exact"


def test_a_paraphrase_follows_a_semantic_leader_and_a_near_miss_does_not(gate, gated_gateway) -> None:
    g, _ = gate
    gw = gated_gateway("{semantic: {min_score: 0.75}}")  # the judge scores this paraphrase ~0.84
    before = g.sim.requests
    near_miss = "How do I downgrade my subscription to the annual plan?"
    paraphrase = "Hi! How can I upgrade my subscription to the annual plan? Thanks"
    (lead, answer), followers = leader_then_followers(
        gw.url, g, QUESTION, [QUESTION, QUESTION, paraphrase, near_miss],
        lambda: stats(gw.url, "/admin/cache/semantic/stats")["waiting"], upstream=2)
    assert g.sim.requests - before == 2  # the leader and the near-miss
    assert lead["x-costops-cache"] == "miss"
    *same, (miss_headers, miss_text) = followers
    assert all(h["x-costops-cache"] == "semantic" and "x-costops-cache-wait-ms" in h and t == answer for h, t in same)
    assert miss_headers["x-costops-cache"] == "miss" and "x-costops-cache-wait-ms" not in miss_headers
    records = gw.records(5)
    assert sorted(r.cache for r in records) == ["miss", "miss", "semantic", "semantic", "semantic"]
    assert all(r.cost.total == 0 and r.avoided_cost > 0 for r in records if r.cache == "semantic")


@pytest.mark.parametrize("cache, stats_path, served_as", [
    ("{exact: {default_ttl_s: 120}}", "/admin/cache/stats", "exact"),
    ("{semantic: {redis_key: 'costops:test:RUN'}}", "/admin/cache/semantic/stats", "semantic"),
])
def test_across_replicas_a_request_waits_for_the_other_replicas_leader(gate, tmp_path: Path, cache: str,
                                                                       stats_path: str, served_as: str) -> None:
    url = redis_or_skip()
    g, sim_url = gate
    run = uuid.uuid4().hex[:8]  # a tenant (and a stream) of its own: other runs' claims and entries never match
    config = f"redis: {{url: '{url}'}}\nkeys: [{{id: k, key: sk-{run}, tenant: t-{run}}}]\ncache: {cache.replace('RUN', run)}\n"
    try:
        with replicas.pair(config, sim_url, tmp_path) as (a, b):
            question = f"{QUESTION} (run {run})"
            before = g.sim.requests
            with ThreadPoolExecutor(4) as pool:
                first = pool.submit(ask, a.url, question, f"sk-{run}")
                until(lambda: g.arrived >= 1, "replica A's leader to reach the provider")
                rest = [pool.submit(ask, b.url, question, f"sk-{run}") for _ in range(3)]
                until(lambda: stats(b.url, stats_path)["waiting"] == 3, "three requests on replica B waiting")
                g.open()
                (lead, answer), followers = first.result(), [f.result() for f in rest]
            assert g.calls(question) == 1, f"{g.arrived} calls reached the provider's port"
            assert g.sim.requests - before >= 1
            assert lead["x-costops-cache"] == "miss"
            assert all(h["x-costops-cache"] == served_as and "x-costops-cache-wait-ms" in h and t == answer
                       for h, t in followers)
    finally:
        if served_as == "semantic":
            import redis

            redis.Redis.from_url(url).delete(f"costops:test:{run}")


def test_across_replicas_a_paraphrase_waits_for_the_other_replicas_leader(gate, tmp_path: Path) -> None:
    """Replica A leads a question; on replica B two paraphrases the judge would serve from it wait
    for A's answer (found on A's board in Redis, then polled for in the shared entries) and a
    near-miss goes upstream: two provider calls for four questions."""
    url = redis_or_skip()
    g, sim_url = gate
    run = uuid.uuid4().hex[:8]
    config = (f"redis: {{url: '{url}'}}\nkeys: [{{id: k, key: sk-{run}, tenant: t-{run}}}]\n"
              f"cache: {{semantic: {{min_score: 0.75, redis_key: 'costops:test:{run}'}}}}\n")
    paraphrase = "Hi! How can I upgrade my subscription to the annual plan? Thanks"
    near_miss = "How do I downgrade my subscription to the annual plan?"
    try:
        with replicas.pair(config, sim_url, tmp_path) as (a, b):
            with ThreadPoolExecutor(4) as pool:
                first = pool.submit(ask, a.url, QUESTION, f"sk-{run}")
                until(lambda: g.arrived >= 1, "replica A's leader to reach the provider")
                rest = [pool.submit(ask, b.url, text, f"sk-{run}") for text in (paraphrase, paraphrase, near_miss)]
                until(lambda: stats(b.url, "/admin/cache/semantic/stats")["waiting"] == 2 and g.arrived == 2,
                      "two paraphrases on replica B waiting, the near-miss upstream")
                g.open()
                (lead, answer), followers = first.result(), [f.result() for f in rest]
            assert (g.calls(QUESTION), g.calls(paraphrase), g.calls(near_miss)) == (1, 0, 1)
            assert lead["x-costops-cache"] == "miss"
            *same, (miss_headers, _) = followers
            assert all(h["x-costops-cache"] == "semantic" and "x-costops-cache-wait-ms" in h and t == answer for h, t in same)
            assert miss_headers["x-costops-cache"] == "miss"
            b_stats = stats(b.url, "/admin/cache/semantic/stats")
            assert (b_stats["followers_remote"], b_stats["followers"]) == (1, 2)  # one waited on A, one on it
    finally:
        import redis

        client = redis.Redis.from_url(url)
        client.delete(f"costops:test:{run}", *client.keys(f"costops:test:{run}:flight:*"))
