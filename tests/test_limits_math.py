"""Bucket math, all-or-none admission and the ``limits:`` grammar: pure, no I/O, no clock."""

from __future__ import annotations

import pytest

from costops.config import ConfigError, VirtualKey
from costops.control.bucket import Bucket, LocalBuckets, Plan, Slots, judge, refill, wait_for
from costops.control.bucket_rules import Rule, parse_limits, plan_for

RPM60 = Bucket("key:bot:rpm", "key bot: 60 requests per minute", 60, 1.0, "key")
TPM600 = Bucket("key:bot:tpm", "key bot: 600 tokens per minute", 600, 10.0, "key")
TENANT2 = Bucket("tenant:acme:rpm", "tenant acme: 2 requests per minute", 2, 2 / 60, "tenant")


def test_refill_is_continuous_and_capped_and_never_runs_backwards() -> None:
    assert refill(0, 100.0, 100.5, RPM60) == 0.5
    assert refill(10, 100.0, 1000.0, RPM60) == 60
    assert refill(10, 100.0, 99.0, RPM60) == 10  # another replica's clock behind ours
    assert wait_for(0.25, 1, RPM60) == 0.75
    assert wait_for(3, 1, RPM60) == 0


def test_judge_names_the_limit_with_the_longest_wait() -> None:
    verdict = judge([0.5, 0.0], [(RPM60, 1), (TENANT2, 1)])
    assert not verdict.ok and verdict.ident == "tenant:acme:rpm" and verdict.wait == pytest.approx(30)
    assert judge([1, 1], [(RPM60, 1), (TENANT2, 1)]).ok


def test_admission_takes_from_every_bucket_or_from_none() -> None:
    store = LocalBuckets()
    plan = Plan(request_buckets=(RPM60, TENANT2))
    assert store.take(0.0, plan, 0).ok and store.take(0.0, plan, 0).ok
    refused = store.take(0.0, plan, 0)
    assert refused.label == "tenant acme: 2 requests per minute"
    assert store.level(RPM60, 0.0) == 58  # the refusal spent nothing of the key's own bucket


def test_tokens_are_estimated_taken_then_settled_against_actual_usage() -> None:
    store = LocalBuckets()
    plan = Plan(token_buckets=(TPM600,))
    assert store.take(0.0, plan, 500).ok
    assert not store.take(0.0, plan, 500).ok  # 100 left
    store.settle(0.0, plan, 120 - 500)  # used 120 of the 500 estimated: refund 380
    assert store.level(TPM600, 0.0) == 480
    store.settle(0.0, plan, -10_000)  # refunds never overfill
    assert store.level(TPM600, 0.0) == 600


def test_a_request_larger_than_the_bucket_waits_for_a_full_one_and_leaves_a_debt() -> None:
    store = LocalBuckets()
    plan = Plan(token_buckets=(TPM600,))
    assert store.take(0.0, plan, 900).ok
    assert store.level(TPM600, 0.0) == -300
    refused = store.take(0.0, plan, 1)
    assert refused.wait == pytest.approx(30.1)


def test_concurrency_slots_are_taken_and_released() -> None:
    store = LocalBuckets()
    plan = Plan(request_buckets=(RPM60,), slots=(Slots("key:bot:concurrent", "key bot: 1 concurrent requests", 1),))
    assert store.take(0.0, plan, 0).ok
    refused = store.take(0.0, plan, 0)
    assert refused.slot and refused.ident == "key:bot:concurrent"
    assert store.level(RPM60, 0.0) == 59  # the slot refusal took no request token
    store.settle(0.0, plan, 0)
    assert store.take(0.0, plan, 0).ok


def test_config_grammar_is_strict_and_names_the_key() -> None:
    config = parse_limits([{"scope": "key", "id": "bot", "rpm": 60, "tpm": 1000, "concurrent": 2}])
    assert config.rules == (Rule("key", "bot", 60, 1000, 2),) and config.adaptive is not None
    assert parse_limits({"rules": [], "adaptive": False}).adaptive is None
    bad = {
        "limits.rules[0].scope": [{"scope": "team", "id": "x", "rpm": 1}],
        "limits.rules[0].id": [{"scope": "tenant", "rpm": 1}],
        "limits.rules[0].rpm": [{"scope": "tenant", "id": "a", "rpm": -5}],
        "limits.rules[0].burst": [{"scope": "tenant", "id": "a", "burst": 5}],
        "limits.rules[0]: give at least one": [{"scope": "tenant", "id": "a"}],
        "limits.adaptive.max_backoff_s": {"rules": [], "adaptive": {"max_backoff_s": "soon"}},
        "limits.lease_ttl": {"lease_ttl": 5},
    }
    for where, raw in bad.items():
        with pytest.raises(ConfigError, match=where.replace("[", r"\[").replace("]", r"\]")):
            parse_limits(raw)


def test_which_rules_meet_a_request() -> None:
    rules = parse_limits([
        {"scope": "key", "id": "bot", "rpm": 10},
        {"scope": "tenant", "id": "*", "rpm": 100},
        {"scope": "model", "id": "fast", "tpm": 1000},
        {"scope": "deployment", "id": "azure", "concurrent": 3},
        {"scope": "global", "rpm": 1000},
    ]).rules
    bot = VirtualKey("bot", "0", tenant="acme")
    other = VirtualKey("other", "1", tenant="globex")
    plan = plan_for(rules, bot, "fast", "gpt-4o-mini", "azure")
    assert plan is not None
    assert [b.label for b in plan.request_buckets] == [
        "key bot: 10 requests per minute", "tenant acme: 100 requests per minute", "all requests: 1000 requests per minute",
    ]
    assert [b.ident for b in plan.token_buckets] == ["model:fast:tpm"]  # the alias the client asked for
    assert [s.ident for s in plan.slots] == ["deployment:azure:concurrent"]
    plan = plan_for(rules, other, "gpt-4o-mini", "gpt-4o-mini", "openai")
    assert plan is not None and [b.ident for b in plan.request_buckets] == ["tenant:globex:rpm", "global:rpm"]
    assert plan_for(rules[:1], other, "gpt-4o", "gpt-4o", "openai") is None
