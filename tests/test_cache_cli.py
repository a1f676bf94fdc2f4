"""costops cache warm | stats | invalidate against a running gateway."""

from __future__ import annotations

import json

import openai
from click.testing import CliRunner

from costops.cli import main

CONFIG = """
server: {admin_key: adm}
keys: [{id: a, key: sk-a, tenant: acme}]
cache: {exact: {default_ttl_s: 600, ttl_by_tag: {feature: {creative: 0}}}}
"""


def test_warm_then_hit_then_stats_then_invalidate(make_gateway, tmp_path) -> None:
    gw = make_gateway(CONFIG)
    q = {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "Is there a free trial?"}]}
    lines = [
        q,
        {"model": "text-embedding-3-small", "input": "free trial"},
        {"api": "anthropic", "body": {"model": "claude-sonnet-4-6", "max_tokens": 50, "temperature": 0, "stream": True,
                                      "messages": [{"role": "user", "content": "Hi"}]}},
        {"body": {**q, "temperature": 0.9}},
        {"body": q, "tags": {"feature": "creative"}},
    ]
    path = tmp_path / "warm.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    runner = CliRunner()
    result = runner.invoke(main, ["cache", "warm", str(path), "--url", gw.url, "--key", "sk-a", "--concurrency", "1"])
    assert result.exit_code == 0, result.output
    assert "Warmed 5 request(s): stored 3, already cached 0, not cacheable 2" in result.output

    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-a", max_retries=0)
    assert client.chat.completions.with_raw_response.create(**q).headers["x-costops-cache"] == "exact"

    result = runner.invoke(main, ["cache", "stats", "--url", gw.url, "--admin-key", "adm", "--json"])
    stats = json.loads(result.output)["exact"]
    assert stats["hits"] == 1 and stats["misses"] == 3 and stats["entries"] == 3
    result = runner.invoke(main, ["cache", "stats", "--url", gw.url])
    assert result.exit_code == 1 and "401" in result.output and "--admin-key" in result.output

    result = runner.invoke(main, ["cache", "invalidate", "--url", gw.url, "--admin-key", "adm", "--tenant", "acme",
                                  "--model", "gpt-*"])
    assert result.exit_code == 0 and "removed 1 from l1" in result.output, result.output
    assert client.chat.completions.with_raw_response.create(**q).headers["x-costops-cache"] == "miss"
    result = runner.invoke(main, ["cache", "invalidate", "--url", gw.url, "--admin-key", "adm"])
    assert result.exit_code == 2 and "--pattern" in result.output


def test_warm_names_the_bad_line(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"model": "m", "messages": []}\n{"messages": []}\n')
    result = CliRunner().invoke(main, ["cache", "warm", str(path)])
    assert result.exit_code == 1 and "bad.jsonl:2: the request has no 'model'" in result.output
