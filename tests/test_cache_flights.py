"""The exact cache's per-request bookkeeping, pinned against the general forms it shortcuts:
single-flight makes a future only when a follower arrives, and the key's remembered
``namespace|model|`` prefix gives exactly :func:`entry_key`'s key."""

from __future__ import annotations

import asyncio

import pytest

from costops.cache.config import parse_exact
from costops.cache.control import NO_CONTROL, CacheControl
from costops.cache.flights import Flights
from costops.cache.keys import choose_namespace, entry_key, request_hash
from costops.cache.stage import ExactCacheStage
from costops.cache.tiers import Entry, MemoryTier
from costops.errors import Forbidden
from costops.usage import Usage


def test_a_leader_nobody_follows_makes_no_future() -> None:
    flights = Flights()
    assert flights.try_lead("k") and "k" in flights
    assert not flights.try_lead("k")  # one leader per key
    assert flights._leaders == {"k": None}
    flights.land("k", "answer")
    assert "k" not in flights and flights.try_lead("k")  # landed: the next request leads


def test_followers_share_one_future_and_get_the_leaders_answer() -> None:
    async def run() -> tuple[list[object], int]:
        flights = Flights()
        assert flights.try_lead("k")
        followers = [asyncio.ensure_future(flights.follow("k", 5.0)) for _ in range(3)]
        while flights.waiting < 3:
            await asyncio.sleep(0)
        futures = {id(flights._leaders["k"])}
        flights.land("k", "answer")
        return list(await asyncio.gather(*followers)), len(futures)

    answers, futures = asyncio.run(run())
    assert answers == ["answer"] * 3 and futures == 1


def test_a_follower_that_waits_in_vain_gets_none_and_a_failed_leader_frees_the_key() -> None:
    async def run() -> tuple[object, object]:
        flights = Flights()
        flights.lead("k")
        timed_out = await flights.follow("k", 0.01)
        follower = asyncio.ensure_future(flights.follow("k", 5.0))
        while flights.waiting < 1:
            await asyncio.sleep(0)
        flights.land("k", None)  # the leader failed: followers go upstream themselves
        return timed_out, await follower

    assert asyncio.run(run()) == (None, None)


BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


@pytest.mark.parametrize("tenant,model", [("acme", "gpt-4o-mini"), ("a|b c", "gpt*4o?[x]"), ("", "")])
def test_the_remembered_prefix_gives_entry_keys_key(tenant: str, model: str) -> None:
    stage = ExactCacheStage(parse_exact({"cache": {"exact": {}}}), lambda: 0.0)
    digest = request_hash("openai", "chat", BODY)
    want = entry_key(choose_namespace(stage.cfg, NO_CONTROL, tenant), model, digest)
    assert stage._prefix(NO_CONTROL, tenant, model) + digest == want
    assert stage._prefix(NO_CONTROL, tenant, model) + digest == want  # remembered: the same


def test_a_named_namespace_is_checked_every_time_and_the_memo_is_bounded() -> None:
    cfg = parse_exact({"cache": {"exact": {"shared_namespaces": {"faq": ["acme"]}}}})
    stage = ExactCacheStage(cfg, lambda: 0.0)
    shared = CacheControl(namespace="faq")
    assert stage._prefix(shared, "acme", "m") == entry_key("shared:faq", "m", "")
    with pytest.raises(Forbidden):
        stage._prefix(shared, "globex", "m")
    for i in range(3000):
        stage._prefix(NO_CONTROL, "acme", f"model-{i}")
    assert 0 < len(stage._prefixes) <= 1024


def test_the_lru_counts_the_same_bytes_as_entry_size() -> None:
    tier = MemoryTier(3 * (100 + 200 + 3), lambda: 0.0)
    entries = [Entry("openai", bytes(100), Usage(), 0.0, 10.0) for _ in range(4)]
    for i, entry in enumerate(entries):
        tier.put(f"k{i}:", entry)
        assert tier.bytes == sum(e.size + 3 for e in entries[max(0, i - 2): i + 1])
    assert len(tier) == 3 and tier.get("k0:") is None and tier.evictions == 1
    tier.put("big", Entry("openai", bytes(1000), Usage(), 0.0, 10.0))  # larger than the tier: not kept
    assert tier.get("big") is None and len(tier) == 3
