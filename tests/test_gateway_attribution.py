"""Who spent it: virtual keys carry tenant/team/project, requests add tags and the end user;
discounts change effective cost and leave list cost alone."""

from __future__ import annotations

from decimal import Decimal

import openai

CONFIG = """
keys:
  - {id: acme-bot, key: sk-acme, tenant: acme, team: support, project: bot, tags: {env: prod}}
  - {id: globex-ci, key: sk-globex, tenant: globex, project: ci, models: ['gpt-4o-mini']}
deployments:
  - {name: openai, kind: openai, base_url: '${OPENAI_BASE_URL}', api_key: '${OPENAI_API_KEY}', models: ['gpt-*', 'text-embedding-*'], discount_pct: 25}
"""


def test_attribution_from_key_header_metadata_and_user(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    acme = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", default_headers={"x-costops-tags": "feature=search,env=staging"})
    acme.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                 metadata={"experiment": "b"}, user="user-42", store=False)
    (record,) = gw.records(1)
    assert (record.tenant, record.team, record.project, record.key_id, record.user) == ("acme", "support", "bot", "acme-bot", "user-42")
    assert dict(record.tags) == {"env": "staging", "feature": "search", "experiment": "b"}


def test_key_model_allowlist(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    globex = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-globex", max_retries=0)
    try:
        globex.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    except openai.PermissionDeniedError as exc:
        assert "may not use model 'gpt-4o'" in exc.message
    else:
        raise AssertionError("gpt-4o should be refused for this key")
    (record,) = gw.records(1)
    assert record.status == 403 and record.tenant == "globex"


def test_discount_makes_effective_cost_three_quarters_of_list(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme")
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "Explain VAT."}])
    (record,) = gw.records(1)
    assert record.list_cost.total > 0
    assert record.cost.total == record.list_cost.total * Decimal("0.75")
    assert Decimal(raw.headers["x-costops-cost-usd"]) == record.cost.total
    assert "discount=25%" in record.price_source
