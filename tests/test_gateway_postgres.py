"""Two gateway replicas share one PostgreSQL ledger: every call from either lands once, exactly costed."""

from __future__ import annotations

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
