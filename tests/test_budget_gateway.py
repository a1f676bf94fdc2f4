"""Budgets over real HTTP with the official SDKs: scopes, windows that reset on a controllable
clock, downgrade then block, the 429 in both APIs' shapes, reservations that expire, spend
loaded from the ledger on start."""

from __future__ import annotations

import threading
import time
from typing import Any

import anthropic
import openai
import pytest

from costops.ledger.record import UsageRecord
from costops.ledger.store import open_store
from costops.pricing import CostBreakdown
from tests import rawhttp
from tests.clock import T0, Clock, next_day, next_month


def keys_yaml(*keys: tuple[str, str, str]) -> str:
    """``keys:`` lines for (secret, tenant, extra yaml fields)."""
    lines = ["keys:"]
    for secret, tenant, extra in keys:
        lines.append(f"  - {{id: {secret}, key: {secret}, tenant: {tenant}{', ' + extra if extra else ''}}}")
    return "\n".join(lines) + "\n"


def client(gw: Any, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=30)  # fail, never hang


def chat(c: openai.OpenAI, model: str = "gpt-4o-mini", tokens: int = 100, **kw: Any) -> tuple[int, Any]:
    """(status, raw response or error) for a chat whose answer uses exactly ``tokens`` tokens."""
    try:
        raw = c.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": f"hi [[sim:tokens={tokens}]]"}], max_tokens=tokens, **kw
        )
        return raw.status_code, raw
    except openai.APIStatusError as exc:
        return exc.status_code, exc


# A gpt-4o-mini chat of 100 output tokens costs about $0.0000623 at the pinned prices ($0.60/MTok
# out, a few input tokens at $0.15/MTok): this limit lets one through and refuses the second.
ONE_CALL = "0.00009"


def test_each_scope_blocks_only_its_requests(pinned_gateway):
    budgets = {
        "tenant-b": "{tenant: t-blocked}", "team-b": "{team: team-blocked}", "project-b": "{project: proj-blocked}",
        "key-b": "{key: key-blocked}", "user-b": "{user: u-blocked}", "tag-b": "{tag: {feature: blocked}}",
        "model-b": "{model: 'gpt-4.1*'}", "provider-b": "{provider: anthropic}",
    }
    config = keys_yaml(
        ("free", "acme", "team: core, project: bot"), ("kt", "t-blocked", ""), ("kteam", "acme", "team: team-blocked"),
        ("kp", "acme", "project: proj-blocked"), ("key-blocked", "acme", ""),
    ) + "budgets:\n  list:\n    - {name: acme-all, limit_usd: 10, scope: {tenant: acme}}\n" + "".join(
        f"    - {{name: {name}, limit_usd: 0, scope: {scope}}}\n" for name, scope in budgets.items()
    )
    gw = pinned_gateway(config)
    free = client(gw, "free")
    assert chat(free)[0] == 200
    cases = {
        "tenant-b": chat(client(gw, "kt")),
        "team-b": chat(client(gw, "kteam")),
        "project-b": chat(client(gw, "kp")),
        "key-b": chat(client(gw, "key-blocked")),
        "user-b": chat(free, user="u-blocked"),
        "tag-b": chat(free, extra_headers={"x-costops-tags": "feature=blocked"}),
        "model-b": chat(free, model="gpt-4.1-mini"),
        "provider-b": chat(free, model="claude-haiku-4-5"),
    }
    for name, (status, error) in cases.items():
        assert status == 429, name
        assert f"budget '{name}'" in error.message and error.code == "budget_exceeded", error.message
    assert chat(free, user="someone-else", extra_headers={"x-costops-tags": "feature=search"})[0] == 200
    records = gw.records(10)
    assert [r.status for r in records].count(200) == 2
    assert {r.error_type for r in records if r.status == 429} == {"budget_exceeded"}


def test_windows_reset_on_time(pinned_gateway):
    clock = Clock()
    tenants = {"daily": "window: daily", "weekly": "window: weekly",
               "monthly": "window: monthly, timezone: America/New_York", "rolling": "window: rolling, days: 2",
               "fixed": "window: fixed, start: '2026-11-25', end: '2026-11-28'"}
    config = keys_yaml(*((t, t, "") for t in tenants)) + "budgets:\n  list:\n" + "".join(
        f"    - {{name: {t}-budget, limit_usd: {ONE_CALL}, scope: {{tenant: {t}}}, {w}}}\n" for t, w in tenants.items()
    )
    gw = pinned_gateway(config, clock=clock)
    clients = {t: client(gw, t) for t in tenants}

    def ok(tenant: str) -> bool:
        status, resp = chat(clients[tenant])
        assert status in (200, 429), resp
        return status == 200

    for tenant in tenants:
        assert ok(tenant) and not ok(tenant), tenant
    status, error = chat(clients["daily"])
    assert error.response.headers["retry-after"] == str(12 * 3600)
    assert f"resets at {next_day(clock())}" in error.message
    clock.at("2026-11-26T00:00:01")
    assert ok("daily")
    assert not ok("weekly") and not ok("monthly") and not ok("rolling") and not ok("fixed")
    clock.at("2026-11-27T11:00:00")  # 47 hours on: the first call is still in the rolling 2 days
    assert not ok("rolling")
    clock.at("2026-11-27T12:00:00")
    assert ok("rolling")
    clock.at("2026-11-28T00:00:01")  # the fixed period is over: its budget no longer applies
    assert ok("fixed") and ok("fixed")
    clock.at("2026-11-29T23:59:59")
    assert not ok("weekly")
    clock.at("2026-11-30T00:00:01")  # Monday
    assert ok("weekly")
    clock.at("2026-12-01T03:00:00")  # still November in New York
    assert not ok("monthly")
    clock.at("2026-12-01T05:00:01")
    assert ok("monthly")


def test_downgrade_then_block_in_both_apis(pinned_gateway):
    clock = Clock(ticking=True)  # running on from T0, so the ledger keeps the calls' order
    gw = pinned_gateway(
        "budgets:\n  list:\n    - {name: team-cap, limit_usd: 0.01, window: monthly, downgrade: default, downgrade_at: 50}\n",
        clock=clock,
    )
    oa = client(gw, "x")
    for _ in range(2):  # $0.003 of gpt-4o each: 0% -> 30% -> 60%
        status, raw = chat(oa, model="gpt-4o", tokens=300)
        assert status == 200 and raw.parse().model == "gpt-4o" and "x-costops-budget" not in raw.headers
    status, raw = chat(oa, model="gpt-4o", tokens=300)
    assert status == 200 and raw.parse().model == "gpt-4o-mini"
    assert raw.headers["x-costops-budget"].startswith("team-cap=6") and raw.headers["x-costops-budget"].endswith("%")
    records = gw.records(3)
    assert [r.model for r in records] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    assert records[2].model_requested == "gpt-4o"

    # a request that would not fit even downgraded: refused in each API's own shape
    with pytest.raises(openai.RateLimitError) as info:
        oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=8000)
    err = info.value
    assert err.code == "budget_exceeded" and err.body["type"] == "budget_exceeded"
    assert "budget 'team-cap' (global, monthly) is exhausted: spent $0.006" in err.message
    assert "of $0.01" in err.message and f"resets at {next_month(clock())}" in err.message
    assert int(err.response.headers["retry-after"]) > 0
    an = anthropic.Anthropic(base_url=gw.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as a_info:
        an.messages.create(model="claude-sonnet-4-6", max_tokens=2000, messages=[{"role": "user", "content": "hi"}])
    body = a_info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "budget 'team-cap'" in body["error"]["message"]
    assert a_info.value.response.headers["x-costops-budget"].startswith("team-cap=")  # it was downgraded, then refused


def test_in_flight_reservations_count_and_expire(pinned_gateway):
    clock = Clock()
    gw = pinned_gateway(
        "budgets:\n  reservation_ttl_s: 30\n  list:\n"
        f"    - {{name: tight, limit_usd: {ONE_CALL}, window: daily}}\n", clock=clock,
    )
    c = client(gw, "x")
    slow: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: slow.update(result=c.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "hi [[sim:tokens=100]] [[sim:delay=3]]"}],
    )))
    thread.start()
    wait_for_reservation(gw, "tight")
    status, error = chat(c)  # the slow call's hold leaves no room
    assert status == 429 and "held by requests in flight" in error.message
    clock.t += 31  # the hold expires (as if its process had died)...
    assert chat(c)[0] == 200  # ...so this one gets in
    thread.join()
    assert slow["result"].status_code == 200
    # both calls' actual costs count: the budget is over, not under, after the expired hold
    status, error = chat(c)
    assert status == 429 and "resets at" in error.message


def wait_for_reservation(gw: Any, budget: str) -> None:
    """Until the budget holds a reservation (a call is in flight), by the admin status."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = rawhttp.get(f"{gw.url}/admin/budgets/status").json()["budgets"]
        if any(r["name"] == budget and r["reserved_usd"] != "0" for r in rows):
            return
        time.sleep(0.02)
    raise AssertionError(f"budget {budget!r} never held a reservation")


def test_window_spend_starts_from_the_ledger(pinned_gateway, tmp_path):
    db = f"sqlite:///{tmp_path}/seeded.db"
    store = open_store(db)
    store.migrate()

    def row(i: int, ts: float, tenant: str, usd: str) -> UsageRecord:
        return UsageRecord(request_id=f"old-{i}", ts=ts, endpoint="chat.completions", model_requested="gpt-4o",
                           model="gpt-4o", tenant=tenant, provider="openai", cost=CostBreakdown(output=__import__("decimal").Decimal(usd)))

    store.write([row(1, T0 - 3600, "acme", "0.40"), row(2, T0 - 86400 * 30, "acme", "5"), row(3, T0 - 60, "globex", "2")])
    store.close()
    clock = Clock()
    gw = pinned_gateway(
        keys_yaml(("ka", "acme", ""), ("kg", "globex", "")) + "budgets:\n  list:\n"
        "    - {name: acme-m, limit_usd: 1, scope: {tenant: acme}}\n"
        "    - {name: globex-d, limit_usd: 2, window: daily, scope: {tenant: globex}}\n",
        db=db, clock=clock,
    )
    import urllib.request

    import orjson

    rows = {r["name"]: r for r in orjson.loads(urllib.request.urlopen(f"{gw.url}/admin/budgets/status").read())["budgets"]}
    assert rows["acme-m"]["spent_usd"] == "0.4" and rows["globex-d"]["spent_usd"] == "2"
    assert chat(client(gw, "ka"))[0] == 200
    status, error = chat(client(gw, "kg"))
    assert status == 429 and "spent $2 of $2" in error.message


@pytest.mark.parametrize("policy, expected", [("allow", 200), ("block", 503)])
def test_unreachable_shared_state_follows_on_state_error(pinned_gateway, policy, expected):
    from costops.serving import free_port

    gw = pinned_gateway(
        f"redis: {{url: 'redis://127.0.0.1:{free_port()}/0'}}\n"
        f"budgets:\n  on_state_error: {policy}\n  list:\n    - {{name: shared, limit_usd: 1}}\n"
    )
    status, resp = chat(client(gw, "x"))
    assert status == expected
    if status == 503:
        assert resp.code == "budget_state_unavailable" and "budgets.on_state_error: block" in resp.message


def test_streamed_calls_settle_their_cost(pinned_gateway):
    gw = pinned_gateway("budgets:\n  list:\n    - {name: all, limit_usd: 1}\n")
    stream = client(gw, "x").chat.completions.create(
        model="gpt-4o-mini", max_tokens=100, stream=True, messages=[{"role": "user", "content": "hi [[sim:tokens=50]]"}]
    )
    assert sum(1 for _ in stream) > 1
    [record] = gw.records(1)
    import urllib.request

    import orjson

    [row] = orjson.loads(urllib.request.urlopen(f"{gw.url}/admin/budgets/status").read())["budgets"]
    assert row["reserved_usd"] == "0" and row["spent_usd"] == str(record.cost.total.normalize())


def test_the_gateways_own_catalog_prices_budget_estimates(make_gateway, tmp_path):
    """A catalog handed to create_app reaches the budgets stage (it used to build its own)."""
    from costops.config import load_config
    from costops.pricing import PriceCatalog

    dear = tmp_path / "dear.yaml"
    dear.write_text('prices:\n  - {model: "gpt-4o-mini", provider: openai, input: 5000, output: 5000}\n')
    catalog = PriceCatalog(load_config(dear, env={}).prices)  # $5,000 per million tokens
    gw = make_gateway("budgets:\n  list:\n    - {name: cap, limit_usd: 1, window: daily}\n", catalog=catalog)
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:  # 10 + 1,000 tokens at $0.005 each: ~$5 > $1
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=1000)
    assert info.value.code == "budget_exceeded"
    ok = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert ok.choices  # a small request fits: the same catalog, not a refusal of everything
