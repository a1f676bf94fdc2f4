"""The semantic cache over real HTTP with the SDKs: a paraphrase is served from the cache and
booked at zero cost with the cost it avoided; near-misses, multi-turn and tool calls are not;
tenants don't share; the index survives a restart; two replicas share entries through Redis."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

from tests.replicas import redis_or_skip

KEYS = """
keys:
  - {id: acme, key: sk-acme, tenant: acme}
  - {id: globex, key: sk-globex, tenant: globex}
deployments:
  - {name: openai, kind: openai, base_url: '${OPENAI_BASE_URL}', api_key: '${OPENAI_API_KEY}', models: ['gpt-*']}
  - {name: anthropic, kind: anthropic, base_url: '${ANTHROPIC_BASE_URL}', api_key: '${ANTHROPIC_API_KEY}', models: ['claude-*']}
"""
SYSTEM = {"role": "system", "content": "You are the billing assistant of Acme Cloud."}


MIN_SCORE = 0.75
"""The judge's acceptance score these tests run at: the shipped default (target precision 0.98,
calibrated on the hard dev split) accepts only scores of about 0.88 and up, which few rewordings
reach; these tests are about what a hit does, so they set the score themselves."""


def config(semantic: str = "{}", extra: str = "") -> str:
    inner = semantic.strip()[1:-1].strip()
    semantic = "{" + f"min_score: {MIN_SCORE}" + (f", {inner}" if inner else "") + "}"
    return KEYS + f"cache:\n  semantic: {semantic}\n" + extra


def client(gw, key: str = "sk-acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def ask(c: openai.OpenAI, text: str, **kw):
    messages = kw.pop("messages", [SYSTEM, {"role": "user", "content": text}])
    raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages, temperature=0, **kw)
    return raw.headers.get("x-costops-cache"), raw.parse()


def test_a_paraphrase_hits_and_is_booked_free_with_the_avoided_cost(make_gateway) -> None:
    gw = make_gateway(config())
    c = client(gw)
    first_header, first = ask(c, "How do I upgrade my subscription to the annual plan?")
    header, second = ask(c, "Hi! How can I upgrade my subscription to the annual plan? Thanks")
    assert (first_header, header) == ("miss", "semantic")
    assert second.choices[0].message.content == first.choices[0].message.content
    miss, hit = gw.records(2)
    assert miss.cache == "miss" and miss.cost.total > 0
    assert hit.cache == "semantic" and hit.cost.total == Decimal(0)
    assert hit.avoided_cost == miss.cost.total > 0


@pytest.mark.parametrize("near_miss", [
    "How do I downgrade my subscription to the annual plan?",        # direction
    "How do I upgrade my subscription to the monthly plan?",         # unit / period
    "How do I upgrade my subscription to the Enterprise plan?",      # entity
    "Why can't I upgrade my subscription to the annual plan?",       # negation
])
def test_near_misses_go_to_the_provider(make_gateway, near_miss: str) -> None:
    gw = make_gateway(config())
    c = client(gw)
    ask(c, "How do I upgrade my subscription to the annual plan?")
    header, _ = ask(c, near_miss)
    assert header == "miss"
    assert [r.cache for r in gw.records(2)] == ["miss", "miss"]


def test_numbers_must_match(make_gateway) -> None:
    gw = make_gateway(config())
    c = client(gw)
    ask(c, "What is the price for 50 seats on the Business plan?")
    assert ask(c, "What is the price for 500 seats on the Business plan?")[0] == "miss"
    assert ask(c, "How much do 50 seats on the Business plan cost?")[0] == "semantic"


def test_multi_turn_tools_and_sampling_bypass_by_default(make_gateway) -> None:
    gw = make_gateway(config())
    c = client(gw)
    question = "How do I update the credit card on file?"
    ask(c, question)
    turns = [SYSTEM, {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
             {"role": "user", "content": question}]
    assert ask(c, question, messages=turns)[0] == "bypass"
    tools = [{"type": "function", "function": {"name": "lookup_card", "parameters": {"type": "object", "properties": {}}}}]
    assert ask(c, question, tools=tools)[0] == "bypass"
    raw = c.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[SYSTEM, {"role": "user", "content": question}], temperature=0.8)
    assert raw.headers["x-costops-cache"] == "bypass"
    # the same question, asked alone and greedily, still hits
    assert ask(c, "How can I change the credit card on file?")[0] == "semantic"


def test_multi_turn_when_enabled_needs_the_same_history(make_gateway) -> None:
    gw = make_gateway(config("{allow_multi_turn: true}"))
    c = client(gw)
    history = [SYSTEM, {"role": "user", "content": "I am on the Team plan."}, {"role": "assistant", "content": "Noted."}]
    ask(c, "", messages=[*history, {"role": "user", "content": "Why was I charged twice this month?"}])
    assert ask(c, "", messages=[*history, {"role": "user", "content": "Why did I get charged twice this month?"}])[0] == "semantic"
    other = [SYSTEM, {"role": "user", "content": "I am on the Free plan."}, {"role": "assistant", "content": "Noted."}]
    assert ask(c, "", messages=[*other, {"role": "user", "content": "Why did I get charged twice this month?"}])[0] == "miss"


def test_system_prompt_model_and_tenant_scope_the_lookup(make_gateway) -> None:
    gw = make_gateway(config())
    acme, globex = client(gw), client(gw, "sk-globex")
    ask(acme, "Can I pay by bank transfer?")
    assert ask(globex, "Is paying by bank transfer possible?")[0] == "miss"  # another tenant
    other_system = [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Can I pay by bank transfer?"}]
    assert ask(acme, "", messages=other_system)[0] == "miss"
    raw = acme.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[SYSTEM, {"role": "user", "content": "Can I pay by bank transfer?"}], temperature=0)
    assert raw.headers["x-costops-cache"] == "miss"  # another model family
    assert ask(acme, "Is paying by bank transfer possible?")[0] == "semantic"
    assert ask(globex, "Can I pay by bank transfer, please?")[0] == "semantic"  # globex's own entry


def test_streaming_hit_is_a_well_formed_stream_and_anthropic_too(make_gateway) -> None:
    gw = make_gateway(config())
    c = client(gw)
    _, first = ask(c, "How do I export my contacts to CSV?")
    stream = c.chat.completions.create(
        model="gpt-4o-mini", temperature=0, stream=True,
        messages=[SYSTEM, {"role": "user", "content": "How can I export my contacts as CSV?"}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == first.choices[0].message.content
    a = anthropic.Anthropic(base_url=gw.url, api_key="sk-acme", max_retries=0)
    events = a.messages.create(model="claude-haiku-4-5", max_tokens=200, extra_body={"temperature": 0}, stream=True,
                               messages=[{"role": "user", "content": "How do I turn on dark mode?"}])
    streamed = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    raw = a.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=200, extra_body={"temperature": 0},
                                              messages=[{"role": "user", "content": "How can I enable dark mode?"}])
    assert raw.headers["x-costops-cache"] == "semantic"
    assert raw.parse().content[0].text == streamed
    assert [r.cache for r in gw.records(4)] == ["miss", "semantic", "miss", "semantic"]


def test_per_route_threshold_and_request_controls(make_gateway) -> None:
    gw = make_gateway(config("{routes: {strict: 0.99}}"))
    c = client(gw)
    ask(c, "How do I reset my password?")
    strict = client(gw)
    strict._custom_headers["x-costops-tags"] = "route=strict"
    assert ask(strict, "What's the way to reset my password?")[0] == "miss"
    assert ask(c, "What's the way to reset my password?", extra_headers={"x-costops-cache": "no-cache"})[0] == "bypass"
    assert ask(c, "What's the way to reset my password?")[0] == "semantic"


def test_the_index_survives_a_restart(make_gateway, tmp_path: Path) -> None:
    cfg = config(f"{{index_path: '{tmp_path / 'semantic'}'}}")
    gw = make_gateway(cfg)
    ask(client(gw), "Is VAT included in the prices shown?")
    gw.server.stop()  # shutdown saves the index and its entries
    assert any((tmp_path / "semantic").glob("*.usearch"))
    again = make_gateway(cfg)
    assert ask(client(again), "Are the prices shown including VAT?")[0] == "semantic"


def test_two_gateways_share_entries_through_redis(make_gateway) -> None:
    url = redis_or_skip()
    key = f"costops:test:semantic:{uuid.uuid4().hex}"
    cfg = config(f"{{redis_key: '{key}'}}", f"redis: {{url: '{url}'}}\n")
    one, two = make_gateway(cfg), make_gateway(cfg)
    try:
        ask(client(one), "Do you offer a discount for nonprofits?")
        import time

        deadline = time.monotonic() + 5
        while True:
            header, _ = ask(client(two), "Do nonprofits get a discount?")
            if header == "semantic" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert header == "semantic"
        assert ask(client(two), "Do you offer a discount for students?")[0] == "miss"
        # and back: what two stored, one serves
        ask(client(two), "Can I pause my subscription for 3 months?")
        deadline = time.monotonic() + 5
        while (h := ask(client(one), "Is pausing my subscription for 3 months possible?")[0]) != "semantic":
            assert time.monotonic() < deadline, h
            time.sleep(0.05)
    finally:
        import redis

        redis.Redis.from_url(url).delete(key)
