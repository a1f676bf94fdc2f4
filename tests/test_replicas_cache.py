"""Two `costops serve` processes sharing one Redis see each other's cache entries: an exact hit,
a semantic hit on a paraphrase, and an invalidation on one replica that clears the other."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import openai
import pytest

from tests import rawhttp, replicas
from tests.replicas import Replica, redis_or_skip

ADMIN = {"authorization": "Bearer adm"}


def _pair(simulator, tmp_path_factory, cache: str) -> Iterator[tuple[Replica, Replica]]:
    """Two replicas; ``replica.key`` is the virtual key of the test's own tenant."""
    url = redis_or_skip()
    run = uuid.uuid4().hex[:8]  # a fresh tenant and stream: runs never see each other's entries
    config = (
        f"redis: {{url: '{url}'}}\n"
        f"keys: [{{id: k, key: sk-{run}, tenant: t-{run}}}]\n"
        "server: {admin_key: adm}\n"  # mutating admin calls need a key even on loopback
        f"cache: {cache.replace('RUN', run)}\n"
    )
    try:
        with replicas.pair(config, simulator.url, tmp_path_factory.mktemp("cache-replicas")) as (a, b):
            a.key = b.key = f"sk-{run}"  # type: ignore[attr-defined]
            yield a, b
    finally:
        import redis

        redis.Redis.from_url(url).delete(f"costops:test:{run}")


@pytest.fixture(scope="module")
def pair(simulator, tmp_path_factory) -> Iterator[tuple[Replica, Replica]]:
    yield from _pair(simulator, tmp_path_factory, "{exact: {default_ttl_s: 120}}")


@pytest.fixture(scope="module")
def semantic_pair(simulator, tmp_path_factory) -> Iterator[tuple[Replica, Replica]]:
    yield from _pair(simulator, tmp_path_factory, "{semantic: {redis_key: 'costops:test:RUN', min_score: 0.75}}")


def ask(replica: Replica, question: str, *, poll: bool = False) -> tuple[str | None, str]:
    """(x-costops-cache, answer). ``poll``: look up without storing (``x-costops-cache: no-store``),
    so a replica asking before the other's entry reaches it never serves its own answer later."""
    client = openai.OpenAI(base_url=f"{replica.url}/v1", api_key=replica.key, max_retries=0)  # type: ignore[attr-defined]
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", temperature=0, messages=[{"role": "user", "content": question}],
        extra_headers={"x-costops-cache": "no-store"} if poll else None,
    )
    return raw.headers.get("x-costops-cache"), raw.parse().choices[0].message.content


def eventually(replica: Replica, question: str, want: str) -> str:
    deadline = time.monotonic() + 15  # generous: the whole suite may be loading both cores
    while True:
        header, answer = ask(replica, question, poll=True)
        if header == want or time.monotonic() > deadline:
            assert header == want, f"{question!r}: {header}"
            return answer
        time.sleep(0.05)


def test_an_exact_answer_stored_by_one_process_is_served_by_the_other(pair) -> None:
    a, b = pair
    assert ask(b, "What is single sign-on?", poll=True)[0] == "miss"  # B asks first, as a loaded suite may
    header, answer = ask(a, "What is single sign-on?")
    assert header == "miss"  # B's poll stored nothing
    assert eventually(b, "What is single sign-on?", "exact") == answer


def test_a_paraphrase_hits_the_other_process_semantic_cache(semantic_pair) -> None:
    a, b = semantic_pair
    # B asks before A's entry can reach it (what a loaded suite does): a poll stores nothing, so
    # the hit that follows is A's entry, not B's own answer
    assert ask(b, "Hi! Do you offer a discount for nonprofits? Thanks", poll=True)[0] == "miss"
    header, answer = ask(a, "Do you offer a discount for nonprofits?")
    assert header == "miss"
    assert eventually(b, "Hi! Do you offer a discount for nonprofits? Thanks", "semantic") == answer
    assert ask(b, "Do you offer a discount for students?")[0] == "miss"


def test_invalidation_on_one_process_clears_the_other(pair) -> None:
    a, b = pair
    ask(a, "How do I export my data?")
    eventually(b, "How do I export my data?", "exact")
    resp = rawhttp.post(f"{a.url}/admin/cache/invalidate", json={"pattern": "*"}, headers=ADMIN)
    assert resp.status == 200, resp.body
    eventually(b, "How do I export my data?", "miss")


@pytest.fixture(scope="module")
def both_pair(simulator, tmp_path_factory) -> Iterator[tuple[Replica, Replica]]:
    yield from _pair(simulator, tmp_path_factory, "{exact: {default_ttl_s: 120}, semantic: {redis_key: 'costops:test:RUN'}}")


def test_one_invalidation_clears_both_caches_in_both_processes(both_pair) -> None:
    a, b = both_pair
    ask(a, "How do I rotate my API key?")
    eventually(b, "How do I rotate my API key?", "exact")
    eventually(b, "How can I rotate my API key?", "semantic")
    resp = rawhttp.post(f"{a.url}/admin/cache/invalidate", json={"pattern": "*"}, headers=ADMIN)
    assert resp.status == 200 and resp.json()["removed"]["semantic"] >= 1, resp.body
    eventually(b, "How can I rotate my API key?", "miss")
