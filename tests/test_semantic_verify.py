"""The semantic cache's pure parts: the verifier, the scope, the config, the tokenizer, the index."""

from __future__ import annotations

import pytest

from costops.cache.control import CacheControl
from costops.cache.semantic.config import SemanticCacheConfig, parse_semantic
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.index import Entry, SemanticIndex
from costops.cache.semantic.scope import Lookup, model_family, prepare
from costops.cache.semantic.verify import facts, verify
from costops.config import ConfigError


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder.load()


@pytest.mark.parametrize(("cached", "query"), [
    ("What is the price of plan A?", "What is the price of plan B?"),
    ("Can I return an item after 30 days?", "Can I return an item after 60 days?"),
    ("Can I return an item after 30 days?", "Can I return an item after 30 hours?"),
    ("Show me orders above $1,000 from the last 7 days", "Show me orders below $1,000 from the last 7 days"),
    ("Did churn increase after the price change?", "Did churn decrease after the price change?"),
    ("Did churn increase after the price change?", "Did churn increase before the price change?"),
    ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?"),
    ("Is my payment information stored securely?", "Is my payment information not stored at all?"),
    ("How do I convert a string to an integer in JavaScript?", "How do I convert an integer to a string in JavaScript?"),
    ("Why was I charged twice this month?", "Why was I charged twice last month?"),
    ("How do I reset my password?", "How do I reset my username?"),
    ("How do I reverse a list in Python?", "How do I reverse a list in JavaScript?"),
])
def test_verifier_rejects_near_misses(embedder, cached: str, query: str) -> None:
    assert verify(query, cached, embedder.word_vector) is not None


@pytest.mark.parametrize(("cached", "query"), [
    ("What is the price of plan A?", "Plan A: what's the price?"),
    ("Why was I charged twice this month?", "I was charged two times this month, why?"),
    ("How do I turn on dark mode?", "How can I enable dark mode?"),
    ("Show me orders above $1,000 from the last 7 days", "Show the orders over $1,000 from the last 7 days"),
    ("How do I reset my password?", "Hi! How do I reset my pasword? Thanks"),
    ("Why did my bill increase this month?", "How come my bill went up this month?"),
])
def test_verifier_accepts_paraphrases(embedder, cached: str, query: str) -> None:
    assert verify(query, cached, embedder.word_vector) is None


@pytest.mark.parametrize(("a", "b"), [
    ("Our revenue went from $12 million to $96 million.", "rev $12M -> $96M"),
    ("I have a fever of 40.1 degrees Celsius. Should I see a doctor?", "fever 40.1 Celsius, doctor or not?"),
    ("Should I see a doctor?", "Should I see a doctor? No rush."),
])
def test_facts_read_a_scale_word_as_the_number_s_and_no_rush_or_not_as_no_negation(a: str, b: str) -> None:
    fa, fb = facts(a), facts(b)
    assert (fa.numbers, fa.negated) == (fb.numbers, fb.negated)


def test_facts_still_count_what_negates_and_what_differs() -> None:
    assert facts("no sugar, please").negated and facts("Is it not allowed?").negated
    assert facts("$12 million").numbers != facts("$13 million").numbers
    assert facts("a hundred people").numbers == {"100"}


def test_paraphrases_are_nearer_than_unrelated_questions(embedder) -> None:
    a = embedder.embed("How do I reset my password?")
    assert float(a @ embedder.embed("What's the way to reset my password?")) > 0.8
    assert float(a @ embedder.embed("What were total sales in March 2024?")) < 0.5


def test_wordpiece_splits_like_bert(embedder) -> None:
    tok = embedder.tokenizer
    assert [tok.vocab[i] for i in tok.ids("Unbelievable, naïve JSON!")] == ["unbelievable", ",", "naive", "j", "##son", "!"]


def _scope(body, api="openai", cfg=None, control=None, model="gpt-4o-mini", ns="tenant:a"):
    endpoint = "chat.completions" if api == "openai" else "messages"
    return prepare(api, endpoint, body, model, ns, control or CacheControl(), cfg or SemanticCacheConfig())


def test_scope_hashes_system_params_model_family_and_tenant() -> None:
    user = {"role": "user", "content": "hi there"}
    base = {"model": "gpt-4o", "temperature": 0, "messages": [{"role": "system", "content": "S"}, user]}
    a = _scope(base)
    assert isinstance(a, Lookup) and a.text == "hi there"
    assert _scope({**base, "stream": True}).scope == a.scope
    assert _scope(base, model="gpt-4o-mini-2024-07-18").scope == a.scope
    assert _scope({**base, "messages": [{"role": "system", "content": "T"}, user]}).scope != a.scope
    assert _scope({**base, "max_tokens": 5}).scope != a.scope
    assert _scope(base, ns="tenant:b").scope != a.scope
    assert model_family("claude-3-5-haiku-20241022") == "claude-3-5-haiku"


def test_bypass_reasons() -> None:
    user = {"role": "user", "content": "hi"}
    assert "deterministic" in _scope({"messages": [user]})
    assert isinstance(_scope({"messages": [user]}, control=CacheControl(force=True)), Lookup)
    assert "multi-turn" in _scope({"seed": 1, "messages": [user, {"role": "assistant", "content": "yo"}, user]})
    assert "tool" in _scope({"seed": 1, "messages": [user], "tools": [{"type": "function"}]})
    tool_result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "4"}]}
    assert "tool" in _scope({"temperature": 0, "messages": [tool_result]}, api="anthropic")
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    assert "no text" in _scope({"seed": 1, "messages": [image]})


def test_config_is_strict() -> None:
    cfg = parse_semantic({"cache": {"semantic": {"threshold": 0.6, "routes": {"faq": 0.8}}}})
    assert cfg.threshold_for({"route": "faq"}) == 0.8 and cfg.threshold_for({"feature": "x"}) == 0.6
    with pytest.raises(ConfigError, match="cache.semantic.treshold"):
        parse_semantic({"cache": {"semantic": {"treshold": 0.6}}})
    with pytest.raises(ConfigError, match="cache.semantic.routes.faq"):
        parse_semantic({"cache": {"semantic": {"routes": {"faq": 2}}}})
    assert parse_semantic({"cache": {"semantic": {}}}, "redis://h:1").redis_url == "redis://h:1"


def test_index_evicts_expires_and_round_trips(embedder, tmp_path) -> None:
    now = [1000.0]
    index = SemanticIndex(embedder.dims, embedder.embed, 2, lambda: now[0])
    for i, text in enumerate(["How do I reset my password?", "Can I pay by bank transfer?", "Is VAT included?"]):
        index.add(Entry(f"e{i}", "s", text, b"{}", {}, now[0] + i, now[0] + 100))
    assert len(index) == 2 and "e0" not in index  # the oldest went first
    found = index.search("s", embedder.embed("Can I pay via bank transfer?"))
    assert found[0].entry.id == "e1" and found[0].similarity > 0.8
    index.save(tmp_path)
    again = SemanticIndex(embedder.dims, embedder.embed, 10, lambda: now[0])
    assert again.load(tmp_path) == 2
    assert again.search("s", embedder.embed("Is VAT included in the price?"))[0].entry.id == "e2"
    (tmp_path / next(p.name for p in tmp_path.glob("*.usearch"))).write_bytes(b"broken")
    rebuilt = SemanticIndex(embedder.dims, embedder.embed, 10, lambda: now[0])
    assert rebuilt.load(tmp_path) == 2 and rebuilt.search("s", embedder.embed("Is VAT included?"))[0].entry.id == "e2"
    now[0] += 1000
    assert SemanticIndex(embedder.dims, embedder.embed, 10, lambda: now[0]).load(tmp_path) == 0
