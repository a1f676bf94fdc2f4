"""Rate limits over real HTTP with the official SDKs: each scope, RPM, TPM, concurrency, the 429
in both APIs' shapes, and the status endpoint. A fake clock makes refill exact."""

from __future__ import annotations

import threading
import time

import anthropic
import openai
import pytest

from tests import rawhttp

HI = [{"role": "user", "content": "hi"}]
KEYS = """
keys:
  - {id: bot, key: sk-bot, tenant: acme}
  - {id: app, key: sk-app, tenant: acme}
  - {id: web, key: sk-web, tenant: globex}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


def oa(gw, key: str = "sk-bot") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def ask(client: openai.OpenAI, model: str = "gpt-4o-mini", **kw) -> bool:
    try:
        client.chat.completions.create(model=model, messages=HI, **kw)
        return True
    except openai.RateLimitError:
        return False


def test_key_rpm_429_shape_in_openai_and_anthropic_then_refill(make_gateway) -> None:
    clock = Clock()
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, rpm: 2}\n", clock=clock)
    bot = oa(gw)
    assert ask(bot) and ask(bot)
    with pytest.raises(openai.RateLimitError) as exc:
        bot.chat.completions.create(model="gpt-4o-mini", messages=HI)
    err = exc.value
    assert err.status_code == 429
    assert err.body == {
        "message": "rate limit reached for key bot: 2 requests per minute; retry after 30.0s",
        "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded",
    }
    assert err.response.headers["retry-after"] == "30" and err.response.headers["retry-after-ms"] == "30000"

    claude = anthropic.Anthropic(base_url=gw.url, api_key="sk-bot", max_retries=0)
    clock.now += 10
    with pytest.raises(anthropic.RateLimitError) as aexc:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=HI)
    assert aexc.value.body == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "rate limit reached for key bot: 2 requests per minute; retry after 20.0s",
    }}
    assert aexc.value.response.headers["retry-after"] == "20"
    assert ask(oa(gw, "sk-app"))  # another key of the same tenant is not limited
    clock.now += 20  # one request refilled
    assert ask(bot) and not ask(bot)
    records = gw.records(7)
    assert [r.status for r in records] == [200, 200, 429, 429, 200, 200, 429]
    assert records[2].error_type == "rate_limit_exceeded" and records[2].key_id == "bot"


def test_each_tenant_its_own_bucket_model_and_global_scopes(make_gateway) -> None:
    gw = make_gateway(
        KEYS
        + """limits:
  - {scope: tenant, id: "*", rpm: 3}
  - {scope: model, id: gpt-4o, rpm: 1}
  - {scope: global, rpm: 4}
""",
        clock=Clock(),
    )
    bot, app, web = oa(gw, "sk-bot"), oa(gw, "sk-app"), oa(gw, "sk-web")
    assert ask(bot) and ask(app)
    assert ask(web, "gpt-4o")  # globex has its own bucket
    with pytest.raises(openai.RateLimitError, match="model gpt-4o: 1 requests per minute"):
        web.chat.completions.create(model="gpt-4o", messages=HI)
    assert ask(bot)  # acme's third, the gateway's fourth
    with pytest.raises(openai.RateLimitError, match="tenant acme: 3 requests per minute; retry after 20.0s"):
        app.chat.completions.create(model="gpt-4o-mini", messages=HI)
    with pytest.raises(openai.RateLimitError, match="all requests: 4 requests per minute; retry after 15.0s"):
        web.chat.completions.create(model="gpt-4o-mini", messages=HI)


def test_tpm_estimates_input_plus_max_tokens_and_settles_on_actual_usage(make_gateway) -> None:
    clock = Clock()
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, tpm: 1000}\n", clock=clock)
    bot = oa(gw)
    first = bot.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=900)
    used = first.usage.prompt_tokens + first.usage.completion_tokens
    status = rawhttp.get(f"{gw.url}/admin/limits/status").json()
    (row,) = status["limits"]
    assert row["limit"] == "key:bot:tpm" and row["level"] == 1000 - used  # the estimate was refunded
    with pytest.raises(openai.RateLimitError, match="key bot: 1000 tokens per minute") as exc:
        bot.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=1000 - used)
    assert exc.value.response.headers["retry-after"] == "1"  # 8 tokens short at 16.7 tokens/s
    assert ask(bot, max_tokens=900 - used)


def test_deployment_limit_spreads_to_a_sibling_before_refusing(make_gateway, simulator) -> None:
    clock = Clock()
    gw = make_gateway(
        f"""deployments:
  - {{name: openai, kind: openai, base_url: "{simulator.url}/v1", api_key: x, models: [gpt-4o-mini]}}
  - {{name: west, kind: openai, base_url: "{simulator.url}/v1", api_key: x, models: [gpt-4o-mini]}}
limits:
  - {{scope: deployment, id: "*", rpm: 1}}
""",
        clock=clock,
    )
    client = oa(gw)
    assert ask(client) and ask(client)
    with pytest.raises(openai.RateLimitError, match="deployment openai: 1 requests per minute"):
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    # claude is served by the anthropic deployment alone: nowhere to spread
    assert ask(client, "claude-haiku-4-5") and not ask(client, "claude-haiku-4-5")
    assert [r.deployment for r in gw.records(5) if r.status == 200] == ["openai", "west", "anthropic"]


SLOTS = {"limit": "key:bot:concurrent", "label": "key bot: 2 concurrent requests", "capacity": 2}


def test_concurrent_requests_are_limited_and_released(make_gateway) -> None:
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, concurrent: 2}\n")
    bot = oa(gw)
    slow = [{"role": "user", "content": "hi [[sim:delay=2]]"}]
    done: list[bool] = []
    threads = [threading.Thread(target=lambda: done.append(bool(bot.chat.completions.create(model="gpt-4o-mini", messages=slow)))) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10  # until the gateway says both hold their slots (a loaded machine is slow)
    while rawhttp.get(f"{gw.url}/admin/limits/status").json()["limits"][:1] != [{**SLOTS, "in_use": 2}]:
        assert time.monotonic() < deadline, "the two slow calls never took both slots"
        time.sleep(0.01)
    with pytest.raises(openai.RateLimitError, match="key bot: 2 concurrent requests") as exc:
        bot.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert exc.value.response.headers["retry-after"] == "1"
    status = rawhttp.get(f"{gw.url}/admin/limits/status").json()
    assert status["limits"] == [{**SLOTS, "in_use": 2}]
    for t in threads:
        t.join()
    assert done == [True, True] and ask(bot)
    assert rawhttp.get(f"{gw.url}/admin/limits/status").json()["limits"][0]["in_use"] == 0
