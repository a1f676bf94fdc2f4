"""The exact response cache over real HTTP with the official SDKs: every rule's hit and miss,
tenant isolation, TTLs on a fake clock, per-request controls, invalidation and the ledger."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from tests import rawhttp

CONFIG = """
server: {admin_key: adm}
keys:
  - {id: a, key: sk-a, tenant: acme}
  - {id: b, key: sk-b, tenant: globex}
  - {id: c, key: sk-c, tenant: initech}
cache:
  exact:
    default_ttl_s: 600
    ttl_by_tag: {feature: {faq: 86400, creative: 0}}
    shared_namespaces: {faq-public: [acme, globex]}
"""
Q = [{"role": "user", "content": "How do I reset my password?"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gw(make_gateway, clock):
    return make_gateway(CONFIG, clock=clock)


def client(gw, key: str = "sk-a") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def ask(gw, key: str = "sk-a", headers: dict[str, str] | None = None, **body):
    body = {"model": "gpt-4o-mini", "messages": Q, "temperature": 0, **body}
    raw = client(gw, key).chat.completions.with_raw_response.create(**body, extra_headers=headers or {})
    return raw.headers.get("x-costops-cache"), raw.parse()


def test_a_repeat_is_served_from_the_cache_and_booked_as_avoided_cost(gw) -> None:
    kind1, first = ask(gw)
    kind2, second = ask(gw)
    assert (kind1, kind2) == ("miss", "exact")
    assert second.model_dump() == first.model_dump()
    miss, hit = gw.records(2)
    assert (miss.cache, hit.cache) == ("miss", "exact")
    assert miss.cost.total > 0 and hit.cost.total == 0
    assert hit.avoided_cost == miss.cost.total and hit.model == miss.model == "gpt-4o-mini"
    assert hit.deployment == "openai" and hit.status == 200


def test_only_deterministic_requests_are_cached_unless_forced(gw) -> None:
    assert ask(gw, temperature=0.7)[0] == "bypass"
    assert ask(gw, temperature=0.7)[0] == "bypass"
    assert [ask(gw, seed=42, temperature=0.7)[0] for _ in range(2)] == ["miss", "exact"]
    forced = {"x-costops-cache": "force"}
    assert [ask(gw, headers=forced, temperature=1)[0] for _ in range(2)] == ["miss", "exact"]
    assert [ask(gw, n=2)[0] for _ in range(2)] == ["bypass", "bypass"]
    assert {r.cache for r in gw.records(8)} == {"bypass", "miss", "exact"}


def test_equivalent_requests_share_a_key_and_different_ones_do_not(gw) -> None:
    ask(gw, temperature=0.0, user="someone", metadata={"a": "b"}, stream=False)
    assert ask(gw, messages=[{"role": "user", "content": [{"type": "text", "text": Q[0]["content"]}]}])[0] == "exact"
    assert ask(gw, max_tokens=50)[0] == "miss"
    assert ask(gw, model="gpt-4o")[0] == "miss"


def test_no_cache_no_store_and_the_body_field(gw) -> None:
    assert ask(gw, headers={"x-costops-cache": "no-store"})[0] == "miss"
    assert ask(gw)[0] == "miss", "no-store stored nothing"
    assert ask(gw, headers={"x-costops-cache": "no-cache"})[0] == "bypass"
    assert ask(gw, headers={"x-costops-cache": "No-Store , ttl=60"})[0] == "exact", "no-store still reads"
    assert ask(gw, headers={"x-costops-cache": "off"})[0] == "bypass"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Body field?"}], "temperature": 0}
    kinds = []
    for control in ("no-store", None, "no-cache"):
        sent = {**body, "costops_cache": control} if control else body
        resp = rawhttp.post(f"{gw.url}/v1/chat/completions", json=sent, headers={"authorization": "Bearer sk-a"})
        assert resp.status == 200, resp.body
        kinds.append(resp.headers["x-costops-cache"])
    assert kinds == ["miss", "miss", "bypass"]


BAD_CONTROLS = [
    ("ttl=abc", 400, "ttl='abc'"),
    ("ttl=0", 400, "no-store"),
    ("no-stor", 400, "not a cache directive"),
    ("no-store, no-store", 400, "twice"),
    ("namespace=bad name!", 400, "namespace="),
    ("namespace=secret", 403, "not shared"),
]


def test_bad_controls_are_refused_with_a_clear_message(gw) -> None:
    for value, status, says in BAD_CONTROLS:
        with pytest.raises(openai.APIStatusError) as err:
            ask(gw, headers={"x-costops-cache": value})
        assert err.value.status_code == status and says in err.value.message, value


def stored(gw, calls: int) -> None:
    """Wait until the first ``calls`` calls are booked. A miss is stored after its answer is sent
    (the client may already be asking again) and before its ledger row is written, so from then
    on its entry exists, stamped with the clock of that moment: only then may a test move the clock."""
    gw.records(calls)


def test_ttl_expiry_follows_the_clock(gw, clock) -> None:
    ask(gw)
    stored(gw, 1)
    clock.now += 599
    assert ask(gw)[0] == "exact"
    clock.now += 2
    assert ask(gw)[0] == "miss", "the default TTL (600 s) has passed"
    assert ask(gw, headers={"x-costops-cache": "ttl=30"}, max_tokens=9)[0] == "miss"
    stored(gw, 4)
    clock.now += 31
    assert ask(gw, max_tokens=9)[0] == "miss", "the request's own ttl=30 has passed"


def test_ttl_by_tag(gw, clock) -> None:
    faq = {"x-costops-tags": "feature=faq"}
    ask(gw, headers=faq)
    stored(gw, 1)
    clock.now += 3600
    assert ask(gw, headers=faq)[0] == "exact", "faq answers keep a day"
    assert [ask(gw, headers={"x-costops-tags": "feature=creative"})[0] for _ in range(2)] == ["bypass", "bypass"]


def test_tenants_are_isolated_unless_they_share_a_namespace(gw) -> None:
    assert ask(gw, "sk-a")[0] == "miss"
    assert ask(gw, "sk-b")[0] == "miss", "globex never reads acme's answer"
    shared = {"x-costops-cache": "namespace=faq-public"}
    assert ask(gw, "sk-a", shared, max_tokens=7)[0] == "miss"
    assert ask(gw, "sk-b", shared, max_tokens=7)[0] == "exact"
    assert ask(gw, "sk-b", max_tokens=7)[0] == "miss", "the shared entry is not in globex's own namespace"
    with pytest.raises(openai.PermissionDeniedError):
        ask(gw, "sk-c", shared)


def test_errors_are_never_stored(gw) -> None:
    messages = [{"role": "user", "content": "fail please [[sim:error=400]]"}]
    for _ in range(2):
        with pytest.raises(openai.BadRequestError):
            ask(gw, messages=messages)
    assert [r.cache for r in gw.records(2)] == ["miss", "miss"]


def test_embeddings_are_always_cacheable(gw) -> None:
    c = client(gw)
    first = c.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["a cat", "a dog"])
    second = c.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["a cat", "a dog"])
    assert (first.headers["x-costops-cache"], second.headers["x-costops-cache"]) == ("miss", "exact")
    assert second.parse().data[1].embedding == first.parse().data[1].embedding
    miss, hit = gw.records(2)
    assert hit.avoided_cost == miss.cost.total > 0


def test_admin_invalidation_and_stats(gw) -> None:
    ask(gw, "sk-a")
    ask(gw, "sk-b")
    ask(gw, "sk-a", model="gpt-4o")
    url = f"{gw.url}/admin/cache"
    admin = {"authorization": "Bearer adm"}
    assert rawhttp.post(f"{url}/invalidate", json={"tenant": "acme"}).status == 401
    bad = rawhttp.post(f"{url}/invalidate", json={}, headers=admin)
    assert bad.status == 400 and "pattern" in bad.json()["error"]["message"]
    resp = rawhttp.post(f"{url}/invalidate", json={"tenant": "acme", "model": "gpt-4o-*"}, headers=admin)
    assert resp.status == 200 and resp.json()["removed"] == {"l1": 1}
    assert ask(gw, "sk-a")[0] == "miss"
    assert ask(gw, "sk-a", model="gpt-4o")[0] == "exact", "another model is kept"
    resp = rawhttp.post(f"{url}/invalidate", json={"pattern": "*|gpt-4o|*"}, headers=admin)
    assert resp.json()["removed"] == {"l1": 1}
    assert ask(gw, "sk-b")[0] == "exact"
    stats = rawhttp.get(f"{url}/stats", headers=admin).json()["exact"]
    assert stats["hits"] == 2 and stats["misses"] == 4 and stats["entries"] == 2
    assert stats["hit_rate"] == pytest.approx(2 / 6, abs=1e-3) and stats["bytes"] > 0


def test_the_lru_is_bounded_by_bytes(make_gateway) -> None:
    gw = make_gateway("cache: {exact: {max_memory_mb: 0.004}}")  # ~4 KB: room for a few answers
    for i in range(8):
        ask(gw, max_tokens=20 + i)
    stats = gw.gateway.stages[0].stats()
    assert stats["bytes"] <= 4 * 1024 * 1.0 and stats["evictions"] > 0
    assert ask(gw, max_tokens=27)[0] == "exact" and ask(gw, max_tokens=20)[0] == "miss"


def test_strict_config_names_the_key(make_gateway) -> None:
    from costops.config import ConfigError

    with pytest.raises(ConfigError, match=r"cache.exact.ttl_by_tags: unknown setting"):
        make_gateway("cache: {exact: {ttl_by_tags: {}}}")
    with pytest.raises(ConfigError, match=r"cache.exact.ttl_by_tag.feature.faq: 'a day'"):
        make_gateway("cache: {exact: {ttl_by_tag: {feature: {faq: a day}}}}")
    with pytest.raises(ConfigError, match=r"cache.prompt.ttl"):
        make_gateway("cache: {prompt: {ttl: 2h}}")


def test_money_is_exact(gw) -> None:
    ask(gw, max_tokens=33)
    ask(gw, max_tokens=33)
    miss, hit = gw.records(2)
    assert isinstance(hit.avoided_cost, Decimal) and hit.avoided_cost == miss.cost.total


def test_a_redis_outage_never_fails_a_call(make_gateway) -> None:
    gw = make_gateway('redis: {url: "redis://127.0.0.1:1/0"}\ncache: {exact: {}}')  # nothing listens on port 1
    assert [ask(gw)[0] for _ in range(2)] == ["miss", "exact"], "L1 still serves"
    assert gw.gateway.stages[0].stats()["redis"]["errors"] >= 2
