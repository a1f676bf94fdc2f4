"""A deployment's base_url with a user and password: HTTP Basic auth, as every HTTP client reads it.

Before, the credentials stayed in the URL: aiohttp refused to combine them with the Bearer key
(a crash at request time, every request), and where it did not refuse, the password was quoted in
every error message that names the deployment's URL, to the client and into the ledger.
"""

from __future__ import annotations

import base64
import socket
from typing import Any

import openai
import orjson
import pytest

from costops.config import ConfigError, load_config
from costops.serving import BackgroundServer

BASIC = "Basic " + base64.b64encode(b"gw-user:p@ss w0rd").decode()


def _load(tmp_path: Any, deployment: str, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "c.yaml"
    path.write_text(f"deployments:\n  - {deployment}\n")
    return load_config(path, env=env or {})


def test_userinfo_becomes_basic_auth_and_leaves_the_url(tmp_path) -> None:
    config = _load(tmp_path, "{name: local, kind: openai, base_url: 'https://gw-user:p%40ss%20w0rd@llm.internal:8443/v1/', models: ['llama-*']}")
    local = config.deployment("local")
    assert local.base_url == "https://llm.internal:8443/v1"
    assert local.headers == {"authorization": BASIC}
    # x-api-key and Basic auth travel in different headers: both are kept
    claude = _load(tmp_path, "{name: c, kind: anthropic, base_url: 'https://gw-user:p%40ss%20w0rd@proxy.internal', api_key: sk-1}").deployment("c")
    assert claude.base_url == "https://proxy.internal" and claude.headers == {"authorization": BASIC} and claude.api_key == "sk-1"


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        ("{name: x, base_url: 'https://u:p@h/v1', api_key: sk-1}", r"deployments\[0\]\.base_url: .*user and password.*api_key"),
        ("{name: x, base_url: 'https://u:p@h/v1', headers: {Authorization: 'Bearer t'}}", r"deployments\[0\]\.base_url: .*headers"),
        ("{name: x, base_url: 'localhost:8000/v1'}", r"deployments\[0\]\.base_url: 'localhost:8000/v1' is not an http\(s\) URL"),
        ("{name: x, base_url: 'ftp://files.example/v1'}", r"deployments\[0\]\.base_url: .* is not an http\(s\) URL"),
        ("{name: x, base_url: 'https:///v1'}", r"deployments\[0\]\.base_url: .* has no host"),
        ("{name: x, base_url: 8000}", r"deployments\[0\]\.base_url: must be a URL"),
    ],
)
def test_a_base_url_that_cannot_work_is_refused_at_load_naming_the_key(tmp_path, deployment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, deployment)


def test_the_standard_variable_is_read_the_same_way() -> None:
    config = load_config(env={"OPENAI_BASE_URL": "http://gw-user:p%40ss%20w0rd@127.0.0.1:9/v1"})
    assert config.deployment("openai").base_url == "http://127.0.0.1:9/v1"
    assert config.deployment("openai").headers == {"authorization": BASIC}
    with pytest.raises(ConfigError, match=r"OPENAI_BASE_URL: .*OPENAI_API_KEY"):
        load_config(env={"OPENAI_BASE_URL": "http://u:p@127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-1"})


async def _basic_auth_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An OpenAI-compatible server behind HTTP Basic auth (a reverse proxy in front of vLLM, say)."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    auth = dict(scope["headers"]).get(b"authorization", b"").decode()
    if auth != BASIC:
        status, body = 401, {"error": {"message": f"basic auth required, got {auth!r}", "type": "auth"}}
    else:
        status, body = 200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "llama-3",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_over_http_the_upstream_gets_basic_auth_and_no_error_quotes_the_password(make_gateway) -> None:
    with BackgroundServer(_basic_auth_upstream) as upstream:
        host = upstream.url.split("//", 1)[1]
        gw = make_gateway(
            "deployments:\n"
            f"  - {{name: local, kind: openai, base_url: 'http://gw-user:p%40ss%20w0rd@{host}/v1', models: ['llama-*']}}\n"
            f"  - {{name: gone, kind: openai, base_url: 'http://gw-user:p%40ss%20w0rd@127.0.0.1:{_closed_port()}/v1', models: ['mistral-*'], max_retries: 0}}\n"
        )
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="llama-3", messages=[{"role": "user", "content": "hi"}])
        assert raw.parse().choices[0].message.content == "hi"
        assert gw.record(raw.headers["x-costops-request-id"]).status == 200
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="mistral-small", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503 and "gone" in info.value.message
    assert "p@ss" not in info.value.message and "p%40ss" not in info.value.message
    rows = gw.records(2)
    assert all("p%40ss" not in (r.error_message or "") and "p@ss" not in (r.error_message or "") for r in rows)
