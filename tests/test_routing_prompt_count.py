"""A routed request's prompt is tokenized once when the model routing picks counts like the name
the client asked for, over real HTTP with the SDK.

The Route step counts the prompt as the name asked for (a policy's virtual name, ``auto``); the
rate limits and budgets that follow count as the model called. Where both count every text alike
(one encoding, one estimate factor: ``TokenCounter.alike``) the first count stands; where they
differ (a Claude model's estimate is scaled), the stages count again, as the model called."""

from __future__ import annotations

from typing import Any

import openai

from costops.tokens import TokenCounter

CONFIG = """
keys:
  - {id: app, key: app-secret, tenant: acme}
limits:
  rules:
    - {scope: key, id: app, tpm: 100000000}
budgets:
  list:
    - {name: acme, limit_usd: 1000, scope: {tenant: acme}, window: monthly}
routing:
  policies:
    auto: {kind: cheapest-capable, models: [gpt-4o-mini, gpt-4o]}
    sonnet: {kind: fixed, model: claude-sonnet-4-5}
"""
HI = [{"role": "user", "content": "What is the capital of France? [[sim:tokens=5]]"}]


def counted(gw: Any, monkeypatch: Any, model: str) -> tuple[list[str], Any]:
    """(the models the prompt was tokenized as, the row) for one request naming ``model``."""
    seen: list[str] = []
    count_messages = TokenCounter.count_messages

    def spy(self: Any, *a: Any, **kw: Any) -> int:
        if isinstance(self, TokenCounter):  # not the simulator's own counter (it wraps one)
            seen.append(self.model)
        return count_messages(self, *a, **kw)

    monkeypatch.setattr(TokenCounter, "count_messages", spy)
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="app-secret", max_retries=0, timeout=30)
    raw = oa.chat.completions.with_raw_response.create(model=model, messages=HI, max_tokens=5)
    monkeypatch.setattr(TokenCounter, "count_messages", count_messages)
    return seen, gw.record(raw.headers["x-costops-request-id"])


def test_the_prompt_is_tokenized_once_when_the_routed_model_counts_like_the_name_asked_for(pinned_gateway, monkeypatch) -> None:
    gw = pinned_gateway(CONFIG)
    seen, row = counted(gw, monkeypatch, "auto")
    assert row.model == "gpt-4o-mini" and row.status == 200
    assert seen == ["auto"]  # 'auto' (o200k, no estimate factor) counts like gpt-4o-mini: limits and budgets reuse it
    seen, row = counted(gw, monkeypatch, "sonnet")
    assert row.model == "claude-sonnet-4-5" and row.status == 200
    assert seen == ["sonnet", "claude-sonnet-4-5"]  # Claude's estimate is scaled: counted again, as the model called
