"""Adaptive backoff over real HTTP: a deployment answering 429 is avoided for its sibling, then
gets its traffic back gradually; with no sibling the gateway refuses instead of hammering it."""

from __future__ import annotations

from collections import Counter

import anthropic
import openai
import pytest

from tests import rawhttp
from tests.test_limits_http import Clock

HI = [{"role": "user", "content": "hi"}]


def test_a_throttled_deployment_is_avoided_then_recovers(make_gateway, simulator) -> None:
    clock = Clock()
    sim = simulator.url
    gw = make_gateway(
        f"""deployments:
  - {{name: openai, kind: openai, base_url: "{sim}/v1", api_key: x, models: [gpt-4o-mini], max_retries: 0}}
  - {{name: west, kind: openai, base_url: "{sim}/v1", api_key: x, models: [gpt-4o-mini], max_retries: 0}}
  - {{name: anthropic, kind: anthropic, base_url: "{sim}", api_key: x, models: ["claude-*"], max_retries: 0}}
limits: {{rules: [], adaptive: {{recovery_s: 10}}}}
""",
        clock=clock,
    )
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", max_retries=0)

    sent: list[int] = [0]

    def served_by(n: int) -> Counter[str]:
        ids = {
            client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI).headers["x-costops-request-id"]
            for _ in range(n)
        }
        sent[0] += n
        return Counter(r.deployment for r in gw.records(sent[0]) if r.request_id in ids)

    with pytest.raises(openai.RateLimitError):  # the provider's own 429 (retry-after: 1)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi [[sim:error=429]]"}])
    sent[0] += 1
    assert served_by(4) == {"west": 4}
    status = rawhttp.get(f"{gw.url}/admin/limits/status").json()
    assert status["deployments"] == {"openai": {"blocked_for_s": 1.0, "share": 0.0, "strikes": 1}}
    clock.now += 1  # the block is over: half the traffic comes back, more every second
    mixed = served_by(30)
    assert mixed["openai"] > 3 and mixed["west"] > 3
    clock.now += 10
    assert served_by(4) == {"openai": 4}

    claude = anthropic.Anthropic(base_url=gw.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi [[sim:error=429]]"}])
    with pytest.raises(anthropic.RateLimitError) as exc:  # no sibling: refused here, the provider is left alone
        claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=HI)
    assert exc.value.body["error"]["message"] == "rate limit reached for deployment anthropic: the provider is throttling it (429); retry after 1.0s"
    assert exc.value.response.headers["retry-after"] == "1"
    clock.now += 1
    assert claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=HI).content
