"""What a budget reserves, as pure arithmetic: the cap costops grants a request that names none,
and the cache-write tokens a breakpoint causes."""

from __future__ import annotations

from costops.cache.prompt import client_breakpoints, write_tokens
from costops.control.budget_spec import parse_budgets
from costops.control.estimate import Hold


def test_the_cap_granted_is_what_the_held_amount_pays_for():
    # 100 nanos of input, 10 nanos a token of output: 1,024 tokens -> 10,340; 16,384 -> 163,940
    hold = Hold(most=163_940, least=10_340, priced=True, cap=(1024, 16384, 1))
    assert hold.cap_for(163_940) == 16384  # the room pays for the model's maximum
    assert hold.cap_for(10_340) == 1024  # the least: the expected output
    assert hold.cap_for(50_100) == 5000  # in between: (50,100 - 100) / 10
    two = Hold(most=2 * 163_840 + 100, least=2 * 10_240 + 100, priced=True, cap=(1024, 16384, 2))
    assert two.cap_for(2 * 10_240 + 100) == 1024  # n=2 choices share the held amount


def test_cache_writes_run_up_to_each_breakpoint_at_its_ttl():
    assert write_tokens([(3000, "1h"), (5000, "5m")], 6000) == (2000, 3000)
    assert write_tokens([(3000, "5m")], 2000) == (2000, 0)  # never more than the prompt's own count
    assert write_tokens([], 6000) == (0, 0)
    body = {"system": [{"type": "text", "text": "a b c d", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "e f", "cache_control": {"type": "ephemeral"}},
                                                      {"type": "text", "text": "g"}]}]}
    words = lambda text: len(text.split())  # noqa: E731
    assert client_breakpoints("anthropic", body, words) == ((4, "1h"), (6, "5m"))


def test_max_output_tokens_per_model_else_none_for_the_catalog():
    settings = parse_budgets({"max_output_tokens": {"default": 2048, "my-model*": 32000}, "list": []})
    assert settings.max_output("my-model-7b") == 32000
    assert settings.max_output("gpt-4o-mini") is None and settings.max_output_tokens == 2048


def test_breakpoints_of_a_body_of_the_wrong_shape_are_none_not_a_crash():
    words = lambda text: len(str(text).split())  # noqa: E731
    marked = [{"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}]}]
    assert client_breakpoints("openai", {"tools": 5, "messages": marked}, words) == ((1, "5m"),)
    assert client_breakpoints("anthropic", {"tools": {"a": 1}, "messages": "hi", "system": 3}, words) == ()


def test_the_prompt_count_skips_messages_that_are_not_objects() -> None:
    from costops.control.estimate import input_tokens

    good = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    plain = input_tokens("openai", "chat.completions", {"messages": good}, "gpt-4o-mini")
    assert plain > 0
    for mixed in ([good[0], "stray", good[1]], [good[0], good[1], 7], [None, *good]):
        assert input_tokens("openai", "chat.completions", {"messages": mixed}, "gpt-4o-mini") == plain
    assert input_tokens("openai", "chat.completions", {"messages": "hello"}, "gpt-4o-mini") == \
        input_tokens("openai", "chat.completions", {"messages": []}, "gpt-4o-mini")
