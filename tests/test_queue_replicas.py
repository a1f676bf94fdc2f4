"""Two replicas sharing one rpm bucket through Redis, each with its own queue: a request whose
place in its replica's line shows it cannot be served before ``max_wait_s`` gets its 429 at
once, naming the line ahead of it, instead of waiting out the whole ``max_wait_s``."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import pytest

from tests import rawhttp, replicas
from tests.replicas import REDIS_URL

MAX_WAIT_S = 4.0


@pytest.fixture(scope="module")
def pair(simulator, tmp_path_factory) -> Iterator[tuple[str, tuple[replicas.Replica, replicas.Replica]]]:
    run = uuid.uuid4().hex[:8]
    config = f"""keys: [{{id: q-{run}, key: sk-q-{run}, tenant: q-{run}}}]
limits: {{rules: [{{scope: key, id: q-{run}, rpm: 30}}]}}
queue: {{max_size: 100, max_wait_s: {MAX_WAIT_S}}}
redis: {{url: "{REDIS_URL}"}}
"""
    with replicas.pair(config, simulator.url, tmp_path_factory.mktemp("queue-replicas")) as group:
        yield run, group


def _post(replica: replicas.Replica, key: str) -> tuple[int, dict]:
    body = {"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    resp = rawhttp.post(f"{replica.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
    return resp.status, resp.json()


def test_a_request_that_cannot_make_it_is_answered_at_once(pair) -> None:
    run, (a, b) = pair
    key = f"sk-q-{run}"
    for i in range(30):  # the burst: rpm 30 holds 30, then refills one every 2 s
        assert _post((a, b)[i % 2], key)[0] == 200
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def one(replica: replicas.Replica) -> None:
        out = _post(replica, key)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=one, args=(r,)) for r in (a, b) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    early = [body["error"] for s, body in results if s == 429 and "ahead of it in the queue" in body["error"]["message"]]
    # in each replica's line of six, those behind the second cannot be served within 4 s (2 s a
    # request): six a side leave room for threads that reach their queue late on a loaded machine
    assert len(early) >= 2, [(s, body.get("error", {}).get("message")) for s, body in results]
    for error in early:
        assert error["code"] == "queue_deadline_exceeded"
        message = error["message"]
        # the queue's entry check answered it, before any wait: its message counts the line ahead and
        # says so; one that waited out max_wait_s says "waited N.Ns in the queue" instead
        assert "each taking the limit 2.0s to refill" in message
        assert message.endswith("answered now instead of at its deadline"), message
        assert "waited" not in message, message
        ahead = re.search(r"with (\d+) requests? ahead", message)
        assert ahead and int(ahead[1]) >= 1, message
    assert any(s == 200 for s, _ in results)  # the heads of the lines were served
