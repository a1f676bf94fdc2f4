"""GET /openapi.json: a valid OpenAPI 3.1 document of exactly the routes the gateway answers,
errors documented in the shape clients really get, and schemathesis finding no server error in
requests generated from it (200 here; ``bench/schemathesis_run.py`` sends 2,000)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
from bench.schemathesis_run import ADMIN_KEY, CONFIG, KEY, fuzz, live_gateway
from openapi_spec_validator import OpenAPIV31SpecValidator

from costops.gateway.openapi import document_bytes

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def request(url: str, method: str = "GET", body: Any = None, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if data is not None else {}
    if key:
        headers["authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def test_the_document_is_openapi_3_1_served_from_one_encoding(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    status, headers, body = request(f"{gw.url}/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()
    assert request(f"{gw.url}/openapi.json")[2] == body
    assert document_bytes(gw.gateway) is document_bytes(gw.gateway)  # encoded once per gateway
    undocumented = [(m, p) for p, item in doc["paths"].items() for m, op in item.items() if op.get("x-costops-undocumented")]
    assert undocumented == []
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}

    chat = doc["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["model"] and schema["additionalProperties"] is True
    props = schema["properties"]
    assert props["stream"] == {"type": "boolean", "description": "true: Server-Sent Events."}
    assert all(props[f] == {"type": "integer", "minimum": 1} for f in ("max_tokens", "max_completion_tokens"))
    assert props["n"] == {"type": "integer", "minimum": 1, "maximum": 128}
    assert props["stream_options"]["type"] == "object" and props["messages"]["type"] == "array"
    assert chat["security"] == [{"bearer": []}, {"apiKey": []}]  # the config has virtual keys: one is required
    create = doc["paths"]["/admin/budgets"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "413", "500"}
    assert [p["name"] for p in doc["paths"]["/admin/budgets"]["delete"]["parameters"]] == ["name"]


def test_security_follows_the_config(make_gateway) -> None:
    """Keyless loopback gateway: a key is optional on the proxied routes (it may be the caller's
    own provider key) and on admin reads; admin changes need the admin key or per-start token."""
    gw = make_gateway("cache: {exact: {}}")
    doc = json.loads(request(f"{gw.url}/openapi.json")[2])
    optional, required = [{"bearer": []}, {"apiKey": []}, {}], [{"bearer": []}, {"apiKey": []}]
    assert doc["paths"]["/v1/messages"]["post"]["security"] == optional
    assert doc["paths"]["/admin/cache/stats"]["get"]["security"] == optional
    assert doc["paths"]["/admin/cache/invalidate"]["post"]["security"] == required
    status, _, _ = request(f"{gw.url}/admin/cache/invalidate", "POST", {"pattern": "*"})
    assert status == 401  # as documented: no anonymous changes
    assert request(f"{gw.url}/admin/cache/stats")[0] == 200


def test_errors_are_documented_in_the_shape_each_api_answers(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    doc = json.loads(request(f"{gw.url}/openapi.json")[2])
    resolver = {"components": doc["components"]}

    def error_schema(path: str, status: int) -> dict[str, Any]:
        ref = doc["paths"][path]["post"]["responses"][str(status)]["content"]["application/json"]["schema"]
        return {**ref, **resolver}

    for path, shape in (("/v1/messages", "AnthropicError"), ("/v1/chat/completions", "OpenAIError")):
        assert error_schema(path, 400)["$ref"] == f"#/components/schemas/{shape}"
        status, _, body = request(f"{gw.url}{path}", "POST", {"model": "gpt-4o-mini", "stream": "no"}, KEY)
        assert status == 400
        jsonschema.validate(json.loads(body), error_schema(path, 400))
        status, _, body = request(f"{gw.url}{path}", "POST", {"model": "gpt-4o-mini"}, "sk-wrong")
        assert status == 401
        jsonschema.validate(json.loads(body), error_schema(path, 401))
    anthropic_body = json.loads(request(f"{gw.url}/v1/messages", "POST", {"model": 3}, KEY)[2])
    try:
        jsonschema.validate(anthropic_body, error_schema("/v1/chat/completions", 400))
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the two error shapes must differ, or the schemas prove nothing")


def test_it_lists_exactly_the_routes_the_gateway_answers(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    doc = json.loads(request(f"{gw.url}/openapi.json")[2])
    documented = operations(doc)
    assert documented == set(gw.gateway.route_table())
    assert {("POST", "/v1/chat/completions"), ("POST", "/v1/messages"), ("GET", "/health"),
            ("POST", "/admin/budgets"), ("POST", "/admin/cache/invalidate"), ("GET", "/admin/limits/status")} <= documented
    for path in doc["paths"]:
        allowed = {m for m, p in documented if p == path}
        for method in METHODS:
            key = ADMIN_KEY if path.startswith("/admin/") else KEY
            status, headers, body = request(f"{gw.url}{path}", method, {} if method not in ("GET", "HEAD") else None, key)
            if method in allowed:  # answered by its handler, not by the dispatcher's 404 / 405
                assert status not in (404, 405) or b"no route" not in body, (method, path, status, body)
                assert status < 500, (method, path, status, body)
            else:
                assert status == 405, (method, path, status, body)
                assert set(headers["allow"].replace(" ", "").split(",")) == allowed, (method, path)


def test_schemathesis_finds_no_server_error_in_200_requests(tmp_path: Path) -> None:
    with live_gateway(tmp_path) as url:
        tally = fuzz(url, 200, seed=8)
    assert tally.requests == 200
    assert tally.server_errors == [] and not tally.tracebacks, tally.report()
    assert not tally.mismatches, tally.report()  # every answer is as the document says
    assert tally.by_status[200] > 0 and tally.by_status[400] > 0, tally.report()  # it got past validation too
