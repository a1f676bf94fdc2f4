"""Two gateway replicas share one PostgreSQL ledger: every call from either lands once, exactly costed."""

from __future__ import annotations

import time
from decimal import Decimal

import openai

from costops.analysis.report import build_report
from costops.ledger.store import open_store
from tests.ledger_fixtures import pg_server_fixture, pg_url_fixture  # noqa: F401


def test_two_replicas_write_one_postgres_ledger(make_gateway, pg_url) -> None:
    first, second = make_gateway(db=pg_url), make_gateway(db=pg_url)
    costs = []
    for i, gw in enumerate((first, second, first, second)):
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", default_headers={"x-costops-tags": f"replica={i % 2}"})
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"question {i}"}]
        )
        costs.append(Decimal(raw.headers["x-costops-cost-usd"]))
    first.records(2)
    second.records(4)
    store = open_store(pg_url)
    try:
        report = build_report(store, dims=("model", "tag:replica"))
    finally:
        store.close()
    assert report["requests"] == 4
    assert Decimal(report["total_cost_usd"]) == sum(costs)
    assert {g["value"]: g["requests"] for g in report["by_tag"]["replica"]} == {"0": 2, "1": 2}


def test_a_ledger_outage_loses_nothing_and_health_says_so(make_gateway, pg_url) -> None:
    from tests.rawhttp import get
    from tests.tcp_proxy import TcpProxy

    proxy = TcpProxy(5432)
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        gw = make_gateway(db=url)
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "before"}])
        gw.records(1)
        proxy.down()
        for i in range(5):  # the ledger is unreachable; calls still succeed
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"during {i}"}])
        deadline = time.monotonic() + 10
        while get(f"{gw.url}/health").json()["status"] != "degraded":
            assert time.monotonic() < deadline, "health never reported the ledger falling behind"
            time.sleep(0.1)
        health = get(f"{gw.url}/health").json()
        assert health["ledger"]["pending"] == 5 and health["ledger"]["last_error"]
        proxy.up()
        records = gw.records(6, timeout=30)
        assert len(records) == len({r.request_id for r in records}) == 6
        assert get(f"{gw.url}/health").json()["status"] == "ok"
    finally:
        proxy.close()
