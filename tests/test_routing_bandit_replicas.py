"""Two `costops serve` processes sharing one Redis learn as one bandit: calls and feedback on
either count for both, a score sent to the other replica replaces the first one's, and a replica
restarted finds everything it had learned."""

from __future__ import annotations

import time
import uuid

import openai
import pytest

from tests import rawhttp
from tests.replicas import Replica, redis_or_skip


def _state(replica: Replica) -> dict:
    arms = rawhttp.get(f"{replica.url}/admin/routing/bandits").json()["auto"]["tasks"].get("default", {})
    return {arm: (s["calls"], s["quality_n"], s["mean_quality"]) for arm, s in arms.items()}


def _call(replica: Replica, key: str) -> tuple[str, str]:
    client = openai.OpenAI(base_url=f"{replica.url}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Summarize our refund policy."}], max_tokens=50)
    return raw.headers["x-costops-arm"].split("/")[1], raw.headers["x-costops-request-id"]


def _score(replica: Replica, key: str, request_id: str, score: float) -> None:
    deadline = time.monotonic() + 20  # the other replica knows the id once the first has written its row
    while True:
        reply = rawhttp.post(f"{replica.url}/v1/feedback", json={"request_id": request_id, "score": score},
                             headers={"authorization": f"Bearer {key}"})
        if reply.status == 200 or time.monotonic() > deadline:
            assert reply.status == 200, reply.body
            return
        time.sleep(0.1)


def _totals(replica: Replica) -> tuple[int, int, float]:
    state = _state(replica)
    calls = sum(c for c, _, _ in state.values())
    n = sum(q for _, q, _ in state.values())
    total = sum(q * (m or 0) for _, q, m in state.values())
    return calls, n, round(total, 6)


def _eventually(replica: Replica, want: tuple[int, int, float]) -> None:
    """The replica's view reaches ``want`` (a call is booked just after its answer is out, so a
    loaded machine may show it a moment later)."""
    deadline = time.monotonic() + 15
    while True:
        got = _totals(replica)
        if got == want or time.monotonic() > deadline:
            assert got == want
            return
        time.sleep(0.05)


@pytest.fixture
def setup(simulator, tmp_path):
    url = redis_or_skip()
    run = uuid.uuid4().hex[:8]
    prefix = f"costops:test:bandit:{run}"
    config = tmp_path / "costops.yaml"
    config.write_text(
        f"redis: {{url: '{url}'}}\n"
        f"keys: [{{id: k, key: sk-{run}, tenant: t-{run}}}]\n"
        "ledger: {flush_interval_s: 0.05}\n"
        "routing:\n  policies:\n    auto:\n"
        f"      {{kind: bandit, arms: [gpt-4o-mini, gpt-4o], redis_key: '{prefix}', refresh_s: 0.2}}\n"
    )
    db = f"sqlite:///{tmp_path}/shared.db"  # one ledger, as replicas behind a load balancer share one
    started: list[Replica] = []

    def start(n: int) -> Replica:
        replica = Replica(config, simulator.url, tmp_path, n, db=db)
        started.append(replica)
        return replica.wait_ready()

    yield start, f"sk-{run}"
    for replica in started:
        replica.stop()
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{{{prefix}}}:*"):
        client.delete(key)


def test_two_replicas_learn_as_one_bandit_and_a_restart_forgets_nothing(setup) -> None:
    start, key = setup
    a, b = start(0), start(1)
    served = []
    for _ in range(8):
        arm, request_id = _call(a, key)
        served.append((arm, request_id))
        _score(a, key, request_id, 0.9)
    _eventually(b, (8, 8, round(8 * 0.9, 6)))  # B sees A's calls and scores

    for _ in range(4):
        _call(b, key)  # unscored calls: cost only
    _score(b, key, served[0][1], 0.1)  # a score sent to B replaces the one A counted
    _eventually(a, (12, 8, round(7 * 0.9 + 0.1, 6)))

    a.stop()
    restarted = start(2)
    assert _totals(restarted) == (12, 8, round(7 * 0.9 + 0.1, 6))  # nothing to wait for: it was all in Redis
    arm, request_id = _call(restarted, key)
    _score(restarted, key, request_id, 1.0)
    _eventually(b, (13, 9, round(7 * 0.9 + 0.1 + 1.0, 6)))
