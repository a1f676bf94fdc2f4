"""costops report shows savings by cache kind and the provider prompt cache's net saving."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import openai

from costops.analysis.report import build_report, render_table
from costops.pricing import PriceCatalog
from tests.test_cache_prompt import long_prompt


def test_report_has_cache_kinds_and_prompt_cache_net_saving(make_gateway) -> None:
    gw = make_gateway("cache: {exact: {}, prompt: {}}")
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    q = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "Report me"}]}
    oa.chat.completions.create(**q)
    oa.chat.completions.create(**q)
    an = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    system = long_prompt("Report Corp")
    for n in range(3):  # not deterministic: the exact cache lets them through, the prompt cache works
        an.messages.create(model="claude-sonnet-4-6", max_tokens=30, system=system,
                           messages=[{"role": "user", "content": f"Order {n}?"}])
    records = gw.records(5)
    report = build_report(gw.gateway.store)

    kinds = {k["cache"]: k for k in report["cache_kinds"]}
    miss_cost = next(r for r in records if r.cache == "miss").cost.total
    assert kinds["exact"]["requests"] == 1 and Decimal(kinds["exact"]["saved_usd"]) == miss_cost
    assert kinds["bypass"]["requests"] == 3 and kinds["exact"]["share"] == 0.2

    claude = [r for r in records if r.model == "claude-sonnet-4-6"]
    read = sum(r.usage.cache_read_tokens for r in claude)
    write = sum(r.usage.cache_write_5m_tokens for r in claude)
    prompt = sum(r.usage.prompt_tokens for r in claude)
    assert read == 2 * write > 0
    t = PriceCatalog().lookup("claude-sonnet-4-6", "anthropic")
    expected = ((t.input.base - t.cache_read.base) * read - (t.cache_write_5m.base - t.input.base) * write) / 1_000_000
    (route,) = [r for r in report["prompt_cache"]["by_route"] if r["model"] == "claude-sonnet-4-6"]
    assert Decimal(route["net_saving_usd"]) == expected > 0
    assert route["hit_rate"] == round(read / prompt, 4) and route["deployment"] == "anthropic"
    # the saving equals what the same calls would have cost without the cache, minus what they cost
    uncached = sum(t.cost(r.usage.__class__(input_tokens=r.usage.prompt_tokens, output_tokens=r.usage.output_tokens)).total
                   for r in claude)
    assert uncached - sum(r.cost.total for r in claude) == expected

    text = render_table(report)
    assert "By cache kind" in text and "Provider prompt cache  hit rate" in text
    assert "anthropic/claude-sonnet-4-6" in text
