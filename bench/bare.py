"""The floor: a bare Python forwarding proxy with no features, what costops is measured against.

Raw ASGI on uvicorn (uvloop, httptools), one aiohttp ClientSession with the same connector
settings as costops's upstream client, orjson reading only what routing needs (the model), and
the body's bytes forwarded as they are; streamed answers are relayed chunk by chunk. No auth,
no ledger, no pricing. Run: ``python bench/bare.py --port P --upstream http://127.0.0.1:U/v1``.
"""

import argparse
import os

import aiohttp
import orjson
import uvicorn


def make_app(upstream: str):
    session: list[aiohttp.ClientSession] = []  # made on the server's loop, at the first request
    auth = {"authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'sk-bare')}", "content-type": "application/json"}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        model = orjson.loads(raw).get("model")
        if not isinstance(model, str):
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b'{"error": "no model"}'})
            return
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30)))
        async with session[0].post(upstream + "/chat/completions", data=raw, headers=auth) as resp:
            ctype = resp.headers.get("content-type", "application/json").encode()
            if ctype.startswith(b"text/event-stream"):
                await send({"type": "http.response.start", "status": resp.status, "headers": [(b"content-type", ctype)]})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            else:
                body = await resp.read()
                headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": resp.status, "headers": headers})
                await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:18000/v1")
    a = ap.parse_args()
    uvicorn.run(make_app(a.upstream.rstrip("/")), host="127.0.0.1", port=a.port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", lifespan="off")
