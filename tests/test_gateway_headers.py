"""The edge reads each request's headers once and finds keys and deployments by index: the same
answers as the scans they replace. The upstream's headers are pinned down too (a prebuilt dict
per deployment measured no faster than building five entries per call, so it was not kept)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from costops.config import Config, Deployment, VirtualKey
from costops.gateway.app import read_headers
from costops.providers.upstream import Upstream


def test_one_pass_reads_first_values_and_collects_control_and_forwarded_headers() -> None:
    headers = [
        (b"host", b"127.0.0.1"), (b"authorization", b"Bearer sk-1"), (b"authorization", b"Bearer sk-2"),
        (b"x-costops-tags", b"a=1"), (b"x-costops-tags", b"b=2"), (b"x-costops-cache", b"no-store"),
        (b"anthropic-version", b"2023-06-01"), (b"anthropic-beta", b"x"), (b"content-length", b"12"),
        (b"x-goog-api-key", b"g\xe9"),
    ]
    read, control, forwarded = read_headers(headers)
    assert read == {b"authorization": "Bearer sk-1", b"x-costops-tags": "a=1", b"content-length": "12",
                    b"x-goog-api-key": "g\u00e9"}
    assert control == {"x-costops-tags": "b=2", "x-costops-cache": "no-store"}
    assert forwarded == {"anthropic-version": "2023-06-01", "anthropic-beta": "x"}


def _key(id_: str, secret: str) -> VirtualKey:
    return VirtualKey(id_, hashlib.sha256(secret.encode()).hexdigest())


def test_keys_and_deployments_are_found_by_index_and_replace_rebuilds_it() -> None:
    a, b = _key("a", "sk-a"), _key("b", "sk-b")
    one = Deployment("one", "openai", "http://x")
    config = Config(keys=(a, b, _key("a-again", "sk-a")), deployments=(one, Deployment("one", "openai", "http://y")))
    assert config.key_for("sk-a") is a and config.key_for("sk-b") is b  # the first of two with one secret
    assert config.key_for("sk-c") is None and config.key_for("") is None
    assert config.deployment("one") is one and config.deployment("two") is None
    c = _key("c", "sk-c")
    bigger = dataclasses.replace(config, keys=(*config.keys, c))
    assert bigger.key_for("sk-c") is c and config.key_for("sk-c") is None
    assert bigger == dataclasses.replace(bigger)  # the indexes are not part of equality


@pytest.mark.parametrize(
    ("kind", "api_key", "extra", "credential", "client", "expected"),
    [
        ("openai", "sk-own", {}, "sk-client", {}, {"authorization": "Bearer sk-own"}),
        ("openai", None, {}, "sk-client", {}, {"authorization": "Bearer sk-client"}),
        ("openai", None, {}, None, {}, {}),
        ("anthropic", "sk-own", {}, None, {}, {"anthropic-version": "2023-06-01", "x-api-key": "sk-own"}),
        ("anthropic", None, {}, "sk-c", {"anthropic-version": "2024-01-01", "anthropic-beta": "tools"},
         {"anthropic-version": "2024-01-01", "anthropic-beta": "tools", "x-api-key": "sk-c"}),
        ("gemini", "g-key", {}, None, {}, {"x-goog-api-key": "g-key"}),
        ("openai", "sk-own", {"x-extra": "1", "authorization": "Basic dTpw"}, None, {},
         {"authorization": "Basic dTpw", "x-extra": "1"}),  # configured headers win
    ],
)
def test_upstream_headers(kind, api_key, extra, credential, client, expected) -> None:
    d = Deployment("d", kind, "http://127.0.0.1:9", api_key=api_key, headers=extra)
    upstream = Upstream(d)
    first = upstream.auth_headers(credential, client)
    assert first == {"content-type": "application/json", **expected}
    first["x-mutated"] = "1"  # a caller's change to its dict never reaches the next call's
    assert "x-mutated" not in upstream.auth_headers(credential, client)


def test_headers_with_nothing_to_collect_are_read_in_c_as_the_loop_reads_them() -> None:
    """Without x-costops-* or anthropic-* headers the edge reads the five it needs from a dict
    built in C; the answers are the loop's: first values, latin-1, nothing collected. With one
    of them, or a name that merely contains the prefix, the loop still runs."""

    def loop(headers: list[tuple[bytes, bytes]]) -> tuple[dict, dict, dict]:
        from costops.gateway.app import FORWARDED_CLIENT_HEADERS, READ_HEADERS

        read: dict = {}
        control: dict = {}
        forwarded: dict = {}
        for name, value in headers:
            if name in READ_HEADERS and name not in read:
                read[name] = value.decode("latin-1")
            if name.startswith(b"x-costops-"):
                control[name.decode()] = value.decode("latin-1")
            elif name in FORWARDED_CLIENT_HEADERS:
                forwarded[name.decode()] = value.decode("latin-1")
        return read, control, forwarded

    sdk = [(b"host", b"h"), (b"accept", b"application/json"), (b"content-type", b"application/json"),
           (b"user-agent", b"OpenAI/Python 1.0"), (b"x-stainless-lang", b"python"), (b"content-length", b"120"),
           (b"authorization", b"Bearer sk-1"), (b"authorization", b"Bearer sk-2"), (b"x-api-key", b"k\xe9"),
           (b"x-goog-api-key", b"g"), (b"x-goog-api-key", b"h")]
    cases = [sdk, [], [(b"host", b"h")], sdk + [(b"x-costops-tags", b"a=1")], sdk + [(b"anthropic-beta", b"b")],
             [(b"my-x-costops-thing", b"1"), *sdk], [(b"x-costops-cache", b"off"), (b"x-costops-cache", b"ttl=5")]]
    for headers in cases:
        assert read_headers(headers) == loop(headers), headers
        assert read_headers(iter(headers)) == loop(headers), headers
    assert read_headers(sdk)[0] == {b"authorization": "Bearer sk-1", b"x-api-key": "k\u00e9", b"x-goog-api-key": "g",
                                    b"content-length": "120"}


def test_a_body_in_one_message_is_read_as_the_loop_reads_it() -> None:
    """read_body takes a body that arrives in one message at once; the limit, more chunks and a
    disconnect before the end are handled as before."""
    import asyncio

    from costops.errors import BodyTooLarge, ClientDisconnected
    from costops.gateway.edge import Edge
    from costops.gateway.http import read_body

    def run(messages: list[dict], limit: int = 10) -> bytes:
        queue = iter(messages)

        async def receive() -> dict:
            return next(queue)

        return asyncio.run(read_body({"headers": []}, receive, limit, None))

    assert run([{"type": "http.request", "body": b"0123456789"}]) == b"0123456789"
    assert run([{"type": "http.request"}]) == b""
    assert run([{"type": "http.request", "body": b"01", "more_body": True}, {"type": "http.request", "body": b"23"}]) == b"0123"
    with pytest.raises(BodyTooLarge):
        run([{"type": "http.request", "body": b"0123456789x"}])
    with pytest.raises(BodyTooLarge):
        run([{"type": "http.request", "body": b"012345", "more_body": True}, {"type": "http.request", "body": b"6789x"}])
    with pytest.raises(ClientDisconnected):
        run([{"type": "http.request", "body": b"01", "more_body": True}, {"type": "http.disconnect"}])
    with pytest.raises(ClientDisconnected):
        run([{"type": "http.disconnect"}])

    from costops.config import ServerConfig

    edge = Edge(ServerConfig())  # the last Host and Origin count, as the loop over the headers found them
    refused, _ = edge.screen({"headers": [(b"host", b"127.0.0.1:4000"), (b"host", b"evil.example")]})
    assert refused is not None
    assert edge.screen({"headers": [(b"host", b"evil.example"), (b"host", b"127.0.0.1:4000")]}) == (None, None)
