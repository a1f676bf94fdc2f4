"""Token counting shortcuts: known roles without the tokenizer, long repeated texts from a
bounded LRU, short repeated texts from a bounded memo; all must give exactly the tokenizer's own counts."""

from __future__ import annotations

import pytest

from costops.tokens import LONG_TEXT, ROLE_TOKENS, CountCache, TokenCounter, count_framed, encoding


class Spy:
    """Wraps an encoding and records what it was asked to tokenize."""

    def __init__(self, enc) -> None:
        self.enc, self.seen = enc, []

    def encode_ordinary(self, text: str) -> list[int]:
        self.seen.append(text)
        return self.enc.encode_ordinary(text)


def spied(model: str) -> tuple[TokenCounter, Spy]:
    tc = TokenCounter(model)
    spy = Spy(tc._enc)
    tc._enc = spy  # type: ignore[assignment]
    tc._core = spy.encode_ordinary  # count_messages' direct call for short texts
    return tc, spy


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_known_roles_are_the_tokenizers_own_count(name):
    enc = encoding(name)
    for role, n in ROLE_TOKENS.items():
        assert len(enc.encode_ordinary(role)) == n, role


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "claude-sonnet-4", "gemini-2.5-pro"])
def test_roles_are_not_tokenized_and_counts_are_unchanged(model):
    tc, spy = spied(model)
    messages = [{"role": r, "content": f"hello from {r}"} for r in ROLE_TOKENS]
    messages.append({"role": "narrator", "content": "an unknown role is tokenized", "name": "bob"})
    n = tc.count_messages(messages)
    assert not set(ROLE_TOKENS) & set(spy.seen)
    assert "narrator" in spy.seen
    # OpenAI's framing, computed with the tokenizer on every string
    ref = TokenCounter(model)
    expected = 3 + sum(3 + sum(ref.count(v) for v in m.values()) + ("name" in m) for m in messages)
    assert n == expected


def test_a_long_repeated_text_is_tokenized_once():
    tc, spy = spied("gpt-4o-mini")
    system = "You are a careful assistant. " * (LONG_TEXT // 10)
    first = tc.count_messages([{"role": "system", "content": system}, {"role": "user", "content": "a"}])
    second = tc.count_messages([{"role": "system", "content": system}, {"role": "user", "content": "b"}])
    assert spy.seen.count(system) == 1
    assert first == second == 3 + 3 + 1 + len(encoding("o200k_base").encode_ordinary(system)) + 3 + 1 + 1


def test_a_short_text_is_remembered_once_seen_twice():
    tc, spy = spied("gpt-4o-mini")
    assert [tc.count("short") for _ in range(4)] == [1, 1, 1, 1]
    assert spy.seen == ["short", "short"]  # seen twice, then read from the memo
    assert len(tc._long) == 0 and tc._short.counts == {"short": 1}
    system = {"role": "system", "content": "You are a concise assistant for a cost-ops team."}
    counts = [tc.count_messages([system, {"role": "user", "content": f"question {i}"}]) for i in range(5)]
    assert spy.seen.count(system["content"]) == 2  # the system prompt: twice, then remembered
    assert [m for m in spy.seen if m.startswith("question")] == [f"question {i}" for i in range(5)]
    ref = TokenCounter("gpt-4o-mini")._count  # the tokenizer itself, no memo
    assert counts == [count_framed(ref, [system, {"role": "user", "content": f"question {i}"}]) for i in range(5)]


def test_unique_short_texts_leave_the_memo_bounded_and_empty():
    tc, _ = spied("gpt-4o-mini")
    memo = tc._short
    for i in range(10 * memo.max_entries):
        tc.count_messages([{"role": "user", "content": f"unique turn {i}"}])
    assert memo.counts == {}  # seen once each: only their hashes were noted
    assert len(memo.once) <= 4 * memo.max_entries
    for i in range(3 * memo.max_entries):  # each seen twice: kept, and the memo stays bounded
        tc.count(f"twice {i}")
        tc.count(f"twice {i}")
    assert 0 < len(memo.counts) <= memo.max_entries
    assert all(n == len(encoding("o200k_base").encode_ordinary(t)) for t, n in memo.counts.items())


def test_the_count_cache_is_bounded_by_characters_and_entries():
    cache = CountCache(max_chars=10_000, max_entries=3)
    texts = [chr(ord("a") + i) * 2_000 for i in range(4)]
    for i, text in enumerate(texts):
        cache.put(text, i)
    assert len(cache) == 3 and cache.get(texts[0]) is None  # the oldest went
    assert cache.get(texts[1]) == 1
    cache.put("z" * 2_400, 9)  # 4 x 2,000 + 2,400 > 10,000 chars: the least recently used goes
    assert cache.get(texts[2]) is None and cache.get(texts[1]) == 1
    cache.put("y" * 5_000, 5)  # more than a quarter of the budget: never kept
    assert cache.get("y" * 5_000) is None


def test_a_malformed_tool_call_is_counted_not_a_crash() -> None:
    from costops.tokens import content_text

    assert content_text({"function": 1.5}) == "1.5"
    assert content_text([{"function": {"name": "f", "arguments": "{}"}}]) == "f {}"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "claude-sonnet-4", "gemini-2.5-pro"])
def test_count_messages_fast_loop_equals_the_framing_rule(model):
    """The one-loop count (core tokenizer called directly for short strings) gives what the
    general framing rule gives with ``count`` on every field, for every shape of value."""
    tc = TokenCounter(model)
    long = "A long system prompt that repeats. " * (LONG_TEXT // 20)
    shapes = [
        [{"role": "system", "content": long}, {"role": "user", "content": "hi", "name": "ann"}],
        [{"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]}],
        [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}],
        [{"role": "tool", "content": "42", "tool_call_id": "call_1"}, {"role": "narrator", "content": ""}],
        [{"role": "user", "content": "a lone surrogate \ud800 is mended"}],
        [{"role": 7, "content": 3.5, "name": None}],
        [{"role": ["x"], "content": "y"}, {"role": "narrator", "content": "z"}, {"role": "user", "content": long}],
        [{"content": "no role", "name": "n"}, {"role": "user", "content": ["a", "b"]}],
        [],
    ]
    for messages in shapes:
        fast = tc.count_messages(messages, [{"type": "function", "function": {"name": "f"}}])
        assert fast == count_framed(tc.count, messages, [{"type": "function", "function": {"name": "f"}}]), messages
        assert tc.count_messages(messages) == count_framed(tc.count, messages), messages
    assert tc.count_messages(shapes[0]) > 3 + 3 + 1 + 3 + 1 + 1 + 1  # the long prompt counted, not dropped
