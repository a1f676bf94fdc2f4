"""A zero-delay OpenAI-compatible upstream for gateway benchmarks.

Answers ``POST /v1/chat/completions`` (and ``POST /chat/completions``) with a fixed, realistic
``chat.completion`` body that carries a ``usage`` block, or with a short SSE stream when the
request says ``"stream": true`` (plus a usage chunk when ``stream_options.include_usage``).
``GET /health`` and ``GET /v1/models`` answer too, so gateways that probe the upstream are happy.

Two implementations, chosen with ``--impl``:

* ``asgi`` (default): a raw ASGI callable on uvicorn with uvloop and httptools, no framework;
* ``aiohttp``: a tiny aiohttp.web server.

Both precompute every response byte string at import time; per request they read the body and
look for the stream flag with a byte search (no JSON decode unless the flag may be present), so
the upstream stays far from being the bottleneck. Measure it alone with
``bench/gateway.py --targets direct``.

Run: ``python bench/upstream.py --port 18000 [--impl asgi|aiohttp] [--cpu N]``.
``--cpu N`` pins the process to one core (``os.sched_setaffinity``); the harness does not pin by
default, because on a 2-core machine pinning the upstream starves whichever process shares its
core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

MODEL = "gpt-4o-mini"

COMPLETION = {
    "id": "chatcmpl-bench0000000000000000000000000",
    "object": "chat.completion",
    "created": 1733000000,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_0ba0d124f1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": (
                    "Sure. The three cheapest ways to cut this workload's LLM spend are: cache "
                    "repeated prompts, route easy requests to a smaller model, and batch the "
                    "nightly jobs through the batch API at half price."
                ),
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 42,
        "completion_tokens": 38,
        "total_tokens": 80,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
}

_STREAM_PIECES = [
    "Sure.",
    " Cache repeated prompts,",
    " route easy requests to a smaller model,",
    " and batch nightly jobs.",
]


def _chunk(delta: dict, finish: str | None, usage=None, choices=True) -> bytes:
    obj = {
        "id": "chatcmpl-bench0000000000000000000000000",
        "object": "chat.completion.chunk",
        "created": 1733000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if choices
        else [],
    }
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _stream_body(include_usage: bool) -> bytes:
    parts = [_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    parts += [_chunk({"content": p}, None) for p in _STREAM_PIECES]
    parts.append(_chunk({}, "stop"))
    if include_usage:
        parts.append(_chunk({}, None, usage=COMPLETION["usage"], choices=False))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


BODY = json.dumps(COMPLETION, separators=(",", ":")).encode()
STREAM_PLAIN = _stream_body(False)
STREAM_USAGE = _stream_body(True)


def _split_writes(payload: bytes) -> list[bytes]:
    events = [e + b"\n\n" for e in payload.split(b"\n\n")[:-1]]
    n_content = len(_STREAM_PIECES)
    return [events[0], b"".join(events[1 : 1 + n_content]), b"".join(events[1 + n_content :])]


STREAM_WRITES = {False: _split_writes(STREAM_PLAIN), True: _split_writes(STREAM_USAGE)}
MODELS = json.dumps(
    {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": 1721172741, "owned_by": "system"}],
    }
).encode()
HEALTH = b'{"status":"ok"}'
NOT_FOUND = b'{"error":{"message":"not found","type":"invalid_request_error","code":"not_found"}}'

COMPLETION_PATHS = {"/v1/chat/completions", "/chat/completions"}


def pick(body: bytes) -> tuple[bytes, bool]:
    """Return (payload, is_stream) for a chat completion request body."""
    if b'"stream"' not in body:
        return BODY, False
    try:
        req = json.loads(body)
    except ValueError:
        return BODY, False
    if not req.get("stream"):
        return BODY, False
    opts = req.get("stream_options") or {}
    return (STREAM_USAGE if opts.get("include_usage") else STREAM_PLAIN), True


# --------------------------------------------------------------------------- raw ASGI
_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    method = scope["method"]
    if method == "POST" and path in COMPLETION_PATHS:
        msg = await receive()
        body = msg.get("body", b"")
        if msg.get("more_body"):
            chunks = [body]
            while msg.get("more_body"):
                msg = await receive()
                chunks.append(msg.get("body", b""))
            body = b"".join(chunks)
        payload, stream = pick(body)
        if stream:
            await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
            # three writes (role chunk | content chunks | finish + usage + [DONE]) so a gateway sees
            # a real multi-read stream without the upstream spending a syscall per event
            for part in STREAM_WRITES[payload is STREAM_USAGE][:-1]:
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": STREAM_WRITES[payload is STREAM_USAGE][-1]})
            return
        await send({"type": "http.response.start", "status": 200, "headers": _JSON_HEADERS})
        await send({"type": "http.response.body", "body": payload})
        return
    if method == "GET" and path in ("/health", "/v1/health"):
        payload, status = HEALTH, 200
    elif method == "GET" and path in ("/v1/models", "/models"):
        payload, status = MODELS, 200
    else:
        payload, status = NOT_FOUND, 404
    await send({"type": "http.response.start", "status": status, "headers": _JSON_HEADERS})
    await send({"type": "http.response.body", "body": payload})


def run_asgi(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        backlog=4096,
    )


# --------------------------------------------------------------------------- aiohttp
def run_aiohttp(host: str, port: int) -> None:
    import asyncio

    import uvloop
    from aiohttp import web

    async def completions(request: web.Request) -> web.StreamResponse:
        payload, stream = pick(await request.read())
        if not stream:
            return web.Response(body=payload, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for part in STREAM_WRITES[payload is STREAM_USAGE]:
            await resp.write(part)
        await resp.write_eof()
        return resp

    async def health(_request):
        return web.Response(body=HEALTH, content_type="application/json")

    async def models(_request):
        return web.Response(body=MODELS, content_type="application/json")

    web_app = web.Application()
    for p in COMPLETION_PATHS:
        web_app.router.add_post(p, completions)
    web_app.router.add_get("/health", health)
    web_app.router.add_get("/v1/models", models)
    web_app.router.add_get("/models", models)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(web_app, host=host, port=port, access_log=None, print=None, backlog=4096)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18000)
    ap.add_argument("--impl", choices=("asgi", "aiohttp"), default="asgi")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU index")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("upstream: refusing to bind a non-loopback address", file=sys.stderr)
        return 2
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    (run_asgi if args.impl == "asgi" else run_aiohttp)(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
