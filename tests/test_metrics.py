"""GET /metrics scraped over HTTP after real SDK calls, parsed with prometheus-client's own parser,
and every figure checked against the ledger the same calls wrote."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

import anthropic
import openai
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from costops.money import from_nanos

ADMIN, SCRAPER = "adm-secret", "scrape-token"
CONFIG = f"""
server: {{admin_key: {ADMIN}, metrics_key: {SCRAPER}}}
keys:
  - {{id: k-acme, key: sk-acme, tenant: acme}}
  - {{id: k-globex, key: sk-globex, tenant: globex}}
budgets:
  list:
    - {{name: acme-monthly, limit_usd: 100, scope: {{tenant: acme}}, window: monthly}}
limits:
  rules:
    - {{scope: key, id: k-globex, rpm: 1}}
cache:
  exact: {{default_ttl_s: 3600}}
"""


def get(url: str, key: str | None = None, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {}
    if key:
        headers["authorization"] = f"Bearer {key}"
    if accept:
        headers["accept"] = accept
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name].append((s.labels, s.value))
    return out


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    return sum(v for labels, v in found[name] if all(labels.get(k) == want for k, want in match.items()))


def drive(gw: Any) -> None:
    """Answered, streamed, cached, Anthropic-format, rate-limited and upstream-failed calls."""
    acme = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0, timeout=30)
    globex = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-globex", max_retries=0, timeout=30)
    same = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "cache me [[sim:tokens=40]]"}], "temperature": 0}
    acme.chat.completions.create(**same)
    acme.chat.completions.create(**same)  # an exact cache hit
    stream = acme.chat.completions.create(model="gpt-4o", stream=True, stream_options={"include_usage": True},
                                          messages=[{"role": "user", "content": "stream [[sim:tokens=30]]"}])
    assert sum(1 for _ in stream) > 1
    anthropic.Anthropic(base_url=gw.url, api_key="sk-acme", max_retries=0, timeout=30).messages.create(
        model="claude-3-5-haiku-20241022", max_tokens=50, messages=[{"role": "user", "content": "hello [[sim:tokens=20]]"}])
    with pytest.raises(openai.APIStatusError):  # the provider fails: two retries, then the client's error
        acme.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "boom [[sim:error=500]]"}])
    globex.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one [[sim:tokens=10]]"}])
    with pytest.raises(openai.RateLimitError):
        globex.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-nobody", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_metrics_agree_with_the_ledger(pinned_gateway) -> None:
    gw = pinned_gateway(CONFIG)
    drive(gw)
    rows = gw.records()
    status, headers, body = get(f"{gw.url}/metrics", SCRAPER)
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(body.decode())

    logical = [r for r in rows if r.parent_id is None]
    for tenant in ("acme", "globex", "default"):
        assert total(found, "costops_requests_total", tenant=tenant) == sum(r.tenant == tenant for r in logical)
        spent = sum(r.cost.total_nanos() for r in rows if r.tenant == tenant)
        listed = sum(r.list_cost.total_nanos() for r in rows if r.tenant == tenant)
        assert total(found, "costops_cost_usd_total", tenant=tenant, price="effective") == pytest.approx(
            float(from_nanos(spent)), abs=1e-12)
        assert total(found, "costops_cost_usd_total", tenant=tenant, price="list") == pytest.approx(
            float(from_nanos(listed)), abs=1e-12)
    assert total(found, "costops_cost_usd_total", price="effective") > 0
    for model in {r.model for r in rows if r.deployment}:
        mine = [r for r in rows if r.model == model and r.deployment]
        for kind, field in (("input", "input_tokens"), ("output", "output_tokens"), ("cache_read", "cache_read_tokens")):
            assert total(found, "costops_tokens_total", model=model, kind=kind) == sum(getattr(r.usage, field) for r in mine)
    assert total(found, "costops_tokens_total", kind="output") == sum(r.usage.output_tokens for r in rows) > 0

    hits = sum(r.cache == "exact" for r in logical)
    assert hits == 1 and total(found, "costops_cache_requests_total", result="exact") == hits
    assert total(found, "costops_cache_requests_total", result="miss") == sum(r.cache == "miss" for r in logical)
    avoided = sum(r.avoided_cost for r in rows)
    assert avoided > 0 and total(found, "costops_cache_avoided_cost_usd_total") == pytest.approx(float(avoided), abs=1e-12)

    limited = sum(r.error_type == "rate_limit_exceeded" for r in rows)
    assert limited == 1 and total(found, "costops_refused_requests_total", reason="rate_limit_exceeded") == limited
    assert total(found, "costops_refused_requests_total", reason="invalid_api_key") == sum(
        r.error_type == "invalid_api_key" for r in rows) == 1
    failed = [r for r in rows if r.status >= 400 and r.deployment]
    assert len(failed) == 3  # the first try and its two retries
    assert total(found, "costops_upstream_errors_total", deployment="openai") == len(failed)
    assert total(found, "costops_retried_attempts_total") == sum(r.parent_id is not None for r in rows) == 2

    timed = [r for r in logical if r.latency_ms is not None]
    assert total(found, "costops_request_duration_seconds_count") == len(timed)
    assert total(found, "costops_request_duration_seconds_bucket", le="+Inf") == len(timed)
    assert total(found, "costops_request_duration_seconds_sum") == pytest.approx(sum(r.latency_ms for r in timed) / 1000)
    first = [r for r in logical if r.ttft_ms is not None]
    assert total(found, "costops_time_to_first_token_seconds_count") == len(first) > 0
    streamed = next(r for r in logical if r.stream)
    assert 0 < streamed.ttft_ms <= streamed.latency_ms

    acme_cost = sum(r.cost.total_nanos() for r in rows if r.tenant == "acme")
    assert total(found, "costops_budget_spent_usd", budget="acme-monthly") == pytest.approx(
        float(from_nanos(acme_cost)), abs=1e-12)
    assert total(found, "costops_budget_limit_usd", budget="acme-monthly") == 100
    assert total(found, "costops_ledger_pending_records") == 0
    assert total(found, "costops_ledger_written_records_total") == len(rows)
    assert "costops_ledger_write_lag_seconds" in found and "process_cpu_seconds_total" in found


def test_who_may_scrape(pinned_gateway) -> None:
    gw = pinned_gateway(CONFIG)
    url = f"{gw.url}/metrics"
    status, _, body = get(url)
    assert status == 401 and b"metrics_key" in body
    assert get(url, "wrong")[0] == 401
    assert get(url, ADMIN)[0] == 200 and get(url, SCRAPER)[0] == 200
    assert get(f"{gw.url}/admin/budgets/status", SCRAPER)[0] == 401  # the scraper's token reads metrics only
    status, headers, body = get(url, SCRAPER, accept="application/openmetrics-text; version=1.0.0")
    assert status == 200 and headers["content-type"].startswith("application/openmetrics-text")
    names = {f.name for f in parse_openmetrics(body.decode())}
    assert {"costops_requests", "costops_cost_usd", "costops_request_duration_seconds"} <= names
    request = urllib.request.Request(url, data=b"", method="POST", headers={"authorization": f"Bearer {SCRAPER}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405 and refused.value.headers["allow"] == "GET, HEAD"


def test_an_open_loopback_gateway_serves_metrics_to_the_machine(make_gateway) -> None:
    gw = make_gateway()
    openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi [[sim:tokens=5]]"}])
    status, _, body = get(f"{gw.url}/metrics")
    assert status == 200
    assert total(samples(body.decode()), "costops_requests_total", code="200", deployment="openai") == 1


def test_scrape_rules_and_method() -> None:
    from costops.config import ServerConfig
    from costops.gateway.edge import metrics_refusal

    public = ServerConfig(host="0.0.0.0")
    assert metrics_refusal(public, None).status == 403  # reachable from other machines, no key set: refused
    assert metrics_refusal(ServerConfig(host="0.0.0.0", metrics_key="m"), "m") is None
    assert metrics_refusal(ServerConfig(host="0.0.0.0", metrics_key="m", admin_key="a"), "a") is None
    assert metrics_refusal(ServerConfig(host="0.0.0.0", metrics_key="m"), "x").status == 401
    assert metrics_refusal(ServerConfig(), None) is None  # loopback, no keys: the machine may read it


def test_labels_stay_bounded_whatever_clients_send() -> None:
    from costops.ledger.record import UsageRecord
    from costops.metrics import tally as t

    tally = t.Tally()
    for i in range(t.MAX_SERIES + 50):  # every request a new model name no deployment serves
        tally.add(UsageRecord(request_id=f"r{i}", ts=0.0, endpoint="chat.completions", model_requested=f"m{i}",
                              model=f"m{i}", tenant=f"t{i}", status=404, error_type="model_not_found"))
    tally.fold()
    assert len(tally.series) <= t.MAX_SERIES + 1 and all(key[2] == "" for key in tally.series if key[0] != t.OTHER)
    assert sum(c[t.REQUESTS] for c in tally.series.values()) == t.MAX_SERIES + 50
    assert tally.refused["model_not_found"] == t.MAX_SERIES + 50
