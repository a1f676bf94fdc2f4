"""The exact cache's pure decisions: controls grammar, key, cacheability, TTL, namespace, replay."""

from __future__ import annotations

import pytest

from costops.cache.config import ExactCacheConfig, parse_exact
from costops.cache.control import CacheControl, parse_control, set_cache_header
from costops.cache.keys import choose_namespace, choose_ttl, decide, entry_key, request_hash
from costops.cache.replay import json_from_sse, sse_from_json
from costops.cache.tiers import Entry, MemoryTier, Selector
from costops.config import ConfigError
from costops.errors import BadRequest, Forbidden
from costops.usage import Usage


def test_control_grammar() -> None:
    assert parse_control("no-store, ttl=60") == CacheControl(no_store=True, ttl_s=60)
    assert parse_control("OFF") == CacheControl(no_cache=True, no_store=True)
    assert parse_control(" namespace=faq.v2 ,force") == CacheControl(force=True, namespace="faq.v2")
    assert parse_control(None) == parse_control("  ") == CacheControl()
    for bad in ("ttl=", "ttl=-1", "nocache", "no-cache=1", "namespace=", "ttl=1,ttl=2"):
        with pytest.raises(BadRequest):
            parse_control(bad)


def test_the_header_is_replaced_not_repeated() -> None:
    headers = [(b"x-other", b"1")]
    set_cache_header(headers, "miss")
    set_cache_header(headers, "semantic")
    assert headers == [(b"x-other", b"1"), (b"x-costops-cache", b"semantic")]


def test_key_ignores_what_does_not_change_the_answer() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    same = {**base, "stream": True, "stream_options": {"include_usage": True}, "user": "u", "metadata": {"x": 1},
            "temperature": 0.0, "costops_cache": "no-store"}
    assert request_hash("openai", "chat.completions", base) == request_hash("openai", "chat.completions", same)
    for different in ({**base, "temperature": 0.5}, {**base, "tools": []}, {**base, "model": "n"}, {**base, "seed": 1}):
        assert request_hash("openai", "chat.completions", different) != request_hash("openai", "chat.completions", base)
    assert request_hash("anthropic", "messages", base) != request_hash("openai", "chat.completions", base)
    assert entry_key("tenant:a|b*", "gpt-4o", "abc") == "tenant:a%7Cb%2A|gpt-4o|abc"


CFG = ExactCacheConfig(
    default_ttl_s=100, max_ttl_s=1000, ttl_by_tag={"task": {"qa": 5000, "creative": 0}, "team": {"x": 50}},
    ttl_by_model=(("gpt-4o*", 300),), ttl_by_endpoint={"embeddings": 700}, shared_namespaces={"pub": ("ac*",)},
)


def test_ttl_precedence() -> None:
    none = CacheControl()
    assert choose_ttl(CFG, CacheControl(ttl_s=5000), {}, "m", "messages") == 1000, "capped"
    assert choose_ttl(CFG, none, {"task": "qa"}, "gpt-4o", "chat.completions") == 1000
    assert choose_ttl(CFG, none, {"task": "qa", "team": "x"}, "m", "chat.completions") == 50, "smallest tag wins"
    assert choose_ttl(CFG, none, {"task": "creative"}, "m", "chat.completions") == 0
    assert choose_ttl(CFG, none, {}, "gpt-4o-mini", "chat.completions") == 300
    assert choose_ttl(CFG, none, {}, "text-embedding-3-small", "embeddings") == 700
    assert choose_ttl(CFG, none, {"task": "other"}, "m", "messages") == 100


def test_cacheability() -> None:
    none = CacheControl()
    assert decide("chat.completions", {"temperature": 0}, none, CFG, 10).reason == "ok"
    assert decide("chat.completions", {"temperature": 1, "seed": 3}, none, CFG, 10).read
    assert decide("messages", {"top_k": 1}, none, CFG, 10).read
    assert decide("chat.completions", {}, none, CFG, 10).bypass
    assert decide("chat.completions", {}, CacheControl(force=True), CFG, 10).store
    assert decide("embeddings", {}, none, CFG, 10).read
    assert decide("chat.completions", {"temperature": 0, "n": 3}, CacheControl(force=True), CFG, 10).bypass
    assert decide("chat.completions", {"temperature": 0}, none, CFG, 0).bypass
    d = decide("chat.completions", {"temperature": 0}, CacheControl(no_cache=True), CFG, 10)
    assert (d.read, d.store) == (False, True)


def test_namespaces() -> None:
    assert choose_namespace(CFG, CacheControl(), "acme") == "tenant:acme"
    assert choose_namespace(CFG, CacheControl(namespace="pub"), "acme") == "shared:pub"
    with pytest.raises(Forbidden):
        choose_namespace(CFG, CacheControl(namespace="pub"), "globex")
    with pytest.raises(Forbidden):
        choose_namespace(CFG, CacheControl(namespace="other"), "acme")


def test_config_is_strict() -> None:
    with pytest.raises(ConfigError, match="cache.exact.shared_namespaces.pub"):
        parse_exact({"cache": {"exact": {"shared_namespaces": {"pub": []}}}})
    with pytest.raises(ConfigError, match="ttl_by_endpoint.chat: unknown endpoint"):
        parse_exact({"cache": {"exact": {"ttl_by_endpoint": {"chat": 1}}}})
    assert parse_exact({"cache": {"exact": {"redis": False}}}, "redis://x").redis_url is None
    assert parse_exact({"cache": {"exact": {}}}, "redis://x").redis_url == "redis://x"


def test_lru_expires_by_clock_and_invalidates_by_selector() -> None:
    now = [0.0]
    tier = MemoryTier(10_000, lambda: now[0])
    tier.put("tenant:a|m1|1", Entry("openai", b"{}", Usage(), 0, 10))
    tier.put("tenant:a|m2|2", Entry("openai", b"{}", Usage(), 0, 10))
    tier.put("tenant:b|m1|3", Entry("openai", b"{}", Usage(), 0, 10))
    assert tier.invalidate(Selector(namespace="tenant:a", model="m1")) == 1
    assert tier.invalidate(Selector(pattern="*|m1|*")) == 1
    now[0] = 10
    assert tier.get("tenant:a|m2|2") is None and len(tier) == 0 and tier.bytes == 0


def test_entries_round_trip_through_their_bytes() -> None:
    entry = Entry("anthropic", b'{"a":1}', Usage(input_tokens=3, output_tokens=2), 12.5, 99)
    back = Entry.decode(entry.encode(), 99)
    assert (back.api, back.body, back.usage, back.stored_at) == ("anthropic", b'{"a":1}', entry.usage, 12.5)


def test_replays_fold_back_to_the_same_json() -> None:
    import orjson

    oa = {"id": "c1", "object": "chat.completion", "created": 5, "model": "m", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": "hello", "refusal": None}, "finish_reason": "stop", "logprobs": None}],
        "usage": Usage(input_tokens=3, output_tokens=1).to_openai()}
    for include_usage in (True, False):
        stream = sse_from_json("openai", orjson.dumps(oa), include_usage=include_usage)
        assert orjson.loads(json_from_sse("openai", stream, Usage(input_tokens=3, output_tokens=1))) == oa
    msg = {"id": "m1", "type": "message", "role": "assistant", "model": "c", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"}, {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": [1, 2]}}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": Usage(input_tokens=3, output_tokens=9).to_anthropic()}
    stream = sse_from_json("anthropic", orjson.dumps(msg))
    assert orjson.loads(json_from_sse("anthropic", stream, Usage())) == msg
    assert json_from_sse("openai", b'data: {"error": {"message": "x"}}\n\n', Usage()) is None


def test_a_huge_integral_number_still_makes_a_key() -> None:
    from costops.cache.keys import request_hash

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 1.2e29}
    assert request_hash("openai", "chat.completions", body) != request_hash("openai", "chat.completions", {**body, "temperature": 1.3e29})
    assert request_hash("openai", "chat.completions", {**body, "temperature": 0.0}) == request_hash(
        "openai", "chat.completions", {**body, "temperature": 0}
    )


def test_the_plain_shortcut_gives_the_walked_key() -> None:
    """request_hash skips normalize's walk for a plain body; every body, plain or not, still
    hashes as normalize(body) does, and two keys are pinned (a key change would orphan every
    stored entry): a plain request, and one the walk rewrites (a float, a one-part list
    content, ignored fields)."""
    import hashlib

    import orjson

    from costops.cache.keys import _as_is, normalize

    def walked(body: dict) -> str:
        canonical = orjson.dumps(["openai", "chat.completions", normalize(body)], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()[:40]

    plain = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."},
                                                  {"role": "user", "content": "hi"}], "max_tokens": 128, "temperature": 0}
    rewritten = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                 "temperature": 0.0, "stream": True, "user": "u1"}
    assert request_hash("openai", "chat.completions", plain) == "06b680f8b669aebbba1b66cf27404a848a5456db"
    assert request_hash("openai", "chat.completions", rewritten) == "8980923ca58967c0a9fc6d1c454b034715e9b5d0"
    assert _as_is(plain) is plain and _as_is(rewritten) is None

    class Text(str): ...

    text_part = {"type": "text", "text": "hi"}
    variants = [
        {**plain, "stream": True, "stream_options": {"include_usage": True}, "metadata": {"a": 1}, "costops_cache": "ttl=5"},
        {**plain, "temperature": 0.0}, {**plain, "temperature": 0.7}, {**plain, "top_p": 1.0},
        {**plain, "messages": [{"role": "user", "content": [text_part]}]},
        {**plain, "messages": [{"role": "user", "content": [text_part, text_part]}]},
        {**plain, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        {**plain, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {}}]}]},
        {**plain, "messages": ["not a message", {"role": "user", "content": "hi"}]},
        {**plain, "messages": [{"role": "user"}]}, {**plain, "messages": []}, {**plain, "messages": "hi"},
        {**plain, "messages": [{"role": "user", "content": None}]},
        {**plain, "model": Text("gpt-4o-mini")}, {**plain, "n": True}, {**plain, "tools": [{"x": 1.0}]},
        {**plain, "max_tokens": 2.0**60}, {"model": "m", "user": "u"}, {},
    ]
    for body in variants:
        assert request_hash("openai", "chat.completions", body) == walked(body), body
        assert _as_is(body) is None or _as_is(body) == normalize(body), body


def test_the_stage_remembers_only_ttls_nothing_else_decides() -> None:
    """The stage keeps choose_ttl's answer per (model, endpoint) for requests without controls;
    a control, a per-tag TTL rule or a replaced config is still decided by choose_ttl."""
    import dataclasses

    from costops.cache.control import NO_CONTROL
    from costops.cache.stage import ExactCacheStage

    cfg = ExactCacheConfig(default_ttl_s=100, ttl_by_model=(("gpt-4o*", 50),), ttl_by_endpoint={"embeddings": 70})
    stage = ExactCacheStage(cfg, clock=lambda: 0.0)
    for _ in range(2):
        assert stage._ttl(NO_CONTROL, {}, "gpt-4o-mini", "chat.completions") == 50
        assert stage._ttl(NO_CONTROL, {}, "m", "chat.completions") == 100
        assert stage._ttl(NO_CONTROL, {}, "m", "embeddings") == 70
    assert stage._ttl(CacheControl(ttl_s=7), {}, "m", "chat.completions") == 7
    stage.cfg = dataclasses.replace(cfg, default_ttl_s=10)
    assert stage._ttl(NO_CONTROL, {}, "m", "chat.completions") == 10
    stage.cfg = dataclasses.replace(cfg, ttl_by_tag={"feature": {"chat": 5}})
    assert stage._ttl(NO_CONTROL, {"feature": "chat"}, "m", "chat.completions") == 5
    assert stage._ttl(NO_CONTROL, {"feature": "other"}, "m", "chat.completions") == 100
    assert decide("chat.completions", {"temperature": 0, "n": 2}, NO_CONTROL, cfg, 60).reason.startswith("n>1")
    assert decide("chat.completions", {"temperature": 0}, NO_CONTROL, cfg, 0).reason.startswith("the TTL rules")
    assert [decide("chat.completions", {"temperature": 0}, CacheControl(no_cache=c, no_store=s), cfg, 60).reason
            for c, s in ((False, False), (True, False), (False, True), (True, True))] == ["ok", "no-cache", "no-store", "off"]
