"""The simulator as a raw ASGI app: routing, keys, failure injection, latency, JSON and SSE.

A request's way through :meth:`Simulator.__call__`:

1. route by method and path (unknown: 404 in the shape of the API the path belongs to);
2. the key, when ``require_key`` (401);
3. the JSON body (400);
4. the request counter's own RNG: a random 429 / 5xx at the configured rates, and the ids;
5. the API module parses the body into a :class:`Turn` (400 on bad input);
6. ``[[sim:...]]`` markers in the last user message: error, delay, disconnect;
7. prompt usage through the provider prompt cache; a semantic cache check is answered yes or no
   (``checks``); otherwise, with grading on, a verdict per choice
   (``grading``); then the answer, drawn from an RNG seeded by (seed, body) so the same request
   gets the same answer, showing its verdict's flaw if it fails (``flaws``);
8. sleep per the model's latency profile times ``latency_scale``; send JSON or stream SSE.

``GET /sim/grade?id=`` reports a graded response's grade (the score a user would give);
``POST /sim/grade`` grades a request without answering it. Neither counts as a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

import orjson

from costops.providers.simulator import anthropic, billing, checks, embeddings, gemini, grading, openai
from costops.providers.simulator.behaviour import classify_task, latency_for, make_id
from costops.providers.simulator.billing import BillingLog
from costops.providers.simulator.config import SimConfig
from costops.providers.simulator.generate import Answer, Turn, answer
from costops.providers.simulator.prompt_cache import MemoCounter, PrefixStore
from costops.providers.simulator.wire import Meta, SimError
from costops.tokens import counter
from costops.usage import Usage

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Api:
    name: str
    module: ModuleType
    id_prefix: str
    id_size: int
    overloaded: int
    """The status of a random server error other than 500."""


JUDGE_PROMPT = "You grade answers."
"""How costops's cascade judge prompt begins (:data:`costops.routing.acceptance.JUDGE_SYSTEM`)."""
_OPENAI = Api("openai", openai, "chatcmpl-", 29, 503)
_ANTHROPIC = Api("anthropic", anthropic, "msg_01", 22, 529)
_GEMINI = Api("gemini", gemini, "", 22, 503)
_MESSAGES = {
    400: "Invalid request (simulated).",
    401: "Incorrect API key provided (simulated).",
    429: "Rate limit reached for requests (simulated). Please try again in 1s.",
    500: "The server had an error while processing your request (simulated).",
    503: "The service is temporarily unavailable (simulated).",
    529: "Overloaded (simulated).",
}
_VOLATILE = ("stream", "stream_options")
_GRADING_OFF = "Grading is off: create the simulator with SimConfig(grading=Grading()) (costops simulate --grading)."
_JSON = b"application/json"


class _Disconnect(Exception):
    """The client went away while the request body was being read."""


def route(method: str, path: str) -> tuple[Api, str, str] | None:
    """(API, operation, model-from-path) for a request line, or None."""
    if path.startswith(("/v1beta/models/", "/v1/models/")) and ":" in path:
        model, _, op = path.split("/models/", 1)[1].rpartition(":")
        ops = {"generateContent", "streamGenerateContent", "embedContent", "batchEmbedContents", "countTokens"}
        return (_GEMINI, op, model) if method == "POST" and op in ops else None
    if method == "POST" and path == "/sim/grade":
        return _OPENAI, "grade_request", ""
    if method == "POST":
        openai_op = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}.get(path)
        if openai_op:
            return _OPENAI, openai_op, ""
        anthropic_op = {"/v1/messages": "chat", "/v1/messages/count_tokens": "count"}.get(path)
        return (_ANTHROPIC, anthropic_op, "") if anthropic_op else None
    if method == "GET":
        if path == "/v1/models":
            return _OPENAI, "models", ""
        if path.startswith("/v1/models/"):
            return _OPENAI, "model", path[len("/v1/models/") :]
        if path in ("/health", "/healthz"):
            return _OPENAI, "health", ""
        if path == "/sim/grade":
            return _OPENAI, "grade", ""
        if path in ("/v1/organization/usage/completions", "/v1/organization/costs"):
            return _OPENAI, "usage" if path.endswith("completions") else "costs", ""
        if path in ("/v1/organizations/usage_report/messages", "/v1/organizations/cost_report"):
            return _ANTHROPIC, "usage" if path.endswith("messages") else "costs", ""
    return None


def api_of(path: str) -> Api:
    if path.startswith("/v1beta") or ":" in path:
        return _GEMINI
    return _ANTHROPIC if path.startswith("/v1/messages") else _OPENAI


def api_key(api: Api, headers: dict[bytes, bytes], query: dict[str, list[str]]) -> str:
    if api is _GEMINI:
        return (headers.get(b"x-goog-api-key", b"").decode() or (query.get("key") or [""])[0]).strip()
    if api is _ANTHROPIC and headers.get(b"x-api-key"):
        return headers[b"x-api-key"].decode().strip()
    auth = headers.get(b"authorization", b"").decode()
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


class Simulator:
    def __init__(self, config: SimConfig, clock: Callable[[], float], catalog: Any = None) -> None:
        self.config = config
        self.clock = clock
        self.store = PrefixStore()
        self._memos: dict[str, MemoCounter] = {}
        self._requests = 0
        self._catalog = catalog
        self._skills: dict[str, float] = {}
        self.grades = grading.GradeBook(config.grading.kept if config.grading else 1)
        self.by_text: dict[str, tuple[bool, float]] = {}
        """(passed, difficulty) of the last graded answers by their text: what a judge request reads."""
        self.billing = BillingLog()
        """Every answered chat call, for the usage and cost report APIs (:mod:`.billing`)."""
        self.hosts = {
            h.name: Simulator(replace(config, hosts=(), latency_scale=h.latency_scale, error_rate_429=h.error_rate_429,
                                      error_rate_5xx=h.error_rate_5xx), clock, catalog)
            for h in config.hosts
        }
        """The ``/h/<name>/`` deployments, each a simulator of its own settings."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path.startswith("/h/") and self.hosts:
            name, _, rest = path[3:].partition("/")
            host = self.hosts.get(name)
            if host is not None:
                await host({**scope, "path": "/" + rest}, receive, send)
                return
        matched = route(method, path)
        api = matched[0] if matched else api_of(path)
        try:
            body_bytes = await _read(receive)
            if matched is None:
                raise SimError(404, f"Invalid URL ({method} {path})")
            await self._handle(scope, send, *matched, body_bytes)
        except SimError as err:
            headers = [(b"retry-after", b"1")] if err.status == 429 else []
            await _send(send, err.status, api.module.error_body(err), headers)
        except _Disconnect:
            return

    @property
    def requests(self) -> int:
        """Provider calls received (chat, embeddings, token counts; not models, health or
        /sim routes): what a test counts to prove the gateway did not call upstream."""
        return self._requests

    def memo(self, model: str) -> MemoCounter:
        memo = self._memos.get(model)
        if memo is None:
            if len(self._memos) >= 256:
                self._memos.pop(next(iter(self._memos)))
            memo = self._memos[model] = MemoCounter(counter(model))
        return memo

    async def _handle(self, scope: Scope, send: Send, api: Api, op: str, model: str, raw: bytes) -> None:
        headers = dict(scope["headers"])
        query = parse_qs(scope.get("query_string", b"").decode())
        now = self.clock()
        if op == "models":
            await _send(send, 200, openai.models_list(int(now)))
            return
        if op in ("model", "health"):
            await _send(send, 200, openai.model_object(model, int(now)) if op == "model" else b'{"status":"ok"}')
            return
        if op == "grade":
            await _send(send, 200, self._stored_grade(query))
            return
        if op in ("usage", "costs"):
            if self._catalog is None:
                from costops.pricing import PriceCatalog

                self._catalog = PriceCatalog()
            report = billing.openai_report if api is _OPENAI else billing.anthropic_report
            await _send(send, 200, report(self.billing, op, query, self._catalog, self.config.bill_skew))
            return
        key = api_key(api, headers, query)
        if self.config.require_key and not key:
            raise SimError(401, _MESSAGES[401])
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise SimError(400, f"We could not parse the JSON body of your request: {exc}.") from None
        if not isinstance(body, dict):
            raise SimError(400, "The request body must be a JSON object.")
        if op == "grade_request":
            await _send(send, 200, self._grade_request(body, now))
            return
        ids = self._draw_failure(api)
        if op == "embeddings":
            await _send(send, 200, embeddings.openai_embeddings(body, self.memo(str(body.get("model"))).counter))
        elif op == "embedContent":
            await _send(send, 200, embeddings.gemini_embed(body, model))
        elif op == "batchEmbedContents":
            await _send(send, 200, embeddings.gemini_batch_embed(body, model))
        elif op in ("count", "countTokens"):
            if api is _GEMINI and "generateContentRequest" in body:
                body = body["generateContentRequest"]
            turn = api.module.parse(body, model, count_only=True) if api is _ANTHROPIC else api.module.parse(body, model)
            prompt = api.module.prompt_usage(body, self.memo(turn.model), None, None, now)
            await _send(send, 200, api.module.count_tokens_body(prompt))
        else:
            streaming = op == "streamGenerateContent" or (api is not _GEMINI and body.get("stream") is True)
            sse = api is not _GEMINI or (query.get("alt") or [""])[0] == "sse"
            await self._chat(send, api, body, model, key, ids, now, streaming, sse)

    def _draw_failure(self, api: Api) -> random.Random:
        """Random 429 / 5xx from the request counter's RNG; that RNG then makes the ids."""
        rng = random.Random(f"{self.config.seed}:{self._requests}")
        self._requests += 1
        roll = rng.random()
        if roll < self.config.error_rate_429:
            raise SimError(429, _MESSAGES[429])
        if roll < self.config.error_rate_429 + self.config.error_rate_5xx:
            status = rng.choice((500, api.overloaded))
            raise SimError(status, _MESSAGES[status])
        return rng

    async def _chat(
        self, send: Send, api: Api, body: dict[str, Any], model: str, key: str,
        ids: random.Random, now: float, streaming: bool, sse: bool,
    ) -> None:
        turn = api.module.parse(body, model)
        markers = turn.markers
        if markers.error:
            raise SimError(markers.error, _MESSAGES.get(markers.error, f"Simulated error {markers.error}."))
        if markers.delay:
            await asyncio.sleep(markers.delay)
        memo = self.memo(turn.model)
        prompt = api.module.prompt_usage(body, memo, self.store, (api.name, key, turn.model), now)
        turn.prompt_tokens = prompt.total
        answers, grades = self._answers(api, turn, body, model, memo, ids, now)
        if grades is not None:
            self._as_judge(turn, answers, grades, now)
        meta = Meta(api.id_prefix + make_id(ids, api.id_size), int(now), turn.model)
        self.billing.add(api.name, now, turn.model, Usage(
            input_tokens=prompt.uncached, cache_read_tokens=prompt.cached, cache_write_5m_tokens=prompt.write_5m,
            cache_write_1h_tokens=prompt.write_1h, output_tokens=sum(a.output_tokens + a.reasoning_tokens for a in answers),
            reasoning_tokens=sum(a.reasoning_tokens for a in answers)))
        if grades is not None:
            self.grades.put(meta.id, turn.model, grades)
        headers = [(b"x-request-id", b"req_" + meta.id.encode())]
        if api is _ANTHROPIC:
            headers.append((b"request-id", anthropic.request_id(meta).encode()))
        scale = self.config.latency_scale
        lat = latency_for(turn.model)
        first = scale * lat.first_token(prompt.total - prompt.cached, sum(a.reasoning_tokens for a in answers))
        if not streaming:
            payload = api.module.render(body, answers, prompt, meta)
            if scale > 0:
                await asyncio.sleep(first + scale * lat.generate(sum(a.output_tokens for a in answers)))
            if markers.disconnect:
                await _send_partial(send, payload, headers)
            else:
                await _send(send, 200, payload, headers)
            return
        events = api.module.stream(body, answers, prompt, meta)
        if not sse:  # Gemini without alt=sse streams one JSON array
            payload = b"[" + b",\r\n".join(e[len(b"data: ") :].rstrip() for e, _ in events) + b"]"
            if scale > 0:
                await asyncio.sleep(first + scale * lat.generate(sum(a.output_tokens for a in answers)))
            await _send(send, 200, payload, headers)
            return
        await _stream(send, events, headers, first, scale * lat.generate(1), markers.disconnect)

    def _answers(
        self, api: Api, turn: Turn, body: dict[str, Any], model: str, memo: MemoCounter, ids: random.Random, now: float,
    ) -> tuple[list[Answer], tuple[grading.Grade, ...] | None]:
        """The answers and, with grading on, each one's grade. Graded, the words come from the
        body's seed and the lengths from the prompt's alone, so that models differ in price,
        skill and speed, not in how long they happen to answer (nor in which a ``max_tokens``
        cuts, which would fail it). Ungraded, both come from the body's seed, as always."""
        check = checks.verdict(turn.last_user, self.config.seed, self.config.check_error_rate)
        if check is not None:  # a semantic cache's check: one word, like a cheap model told to answer so
            return [Answer(text=check, output_tokens=memo.counter.count(check)) for _ in range(turn.n)], None
        rng = random.Random(self._body_seed(body, model))
        prefix = api.module.TOOL_ID_PREFIX
        if self.config.grading is None:
            return [answer(turn, memo.counter, rng, ids, prefix) for _ in range(turn.n)], None
        lengths = random.Random(self._prompt_seed(turn))
        verdicts = self._verdicts(self.config.grading, turn, now)
        answers = [answer(turn, memo.counter, rng, ids, prefix, verdict, lengths) for verdict in verdicts]
        return answers, tuple(grading.grade(v, a.flaw) for v, a in zip(verdicts, answers, strict=True))

    def _as_judge(self, turn: Turn, answers: list[Answer], grades: tuple[grading.Grade, ...], now: float) -> None:
        """Graded, the simulator also answers costops's cascade judge (its system prompt,
        :data:`JUDGE_PROMPT`): the judged answer, found by its text among the answers it gave,
        gets "9" if the judge sees it pass and "3" if not; the judge sees the truth with the 2PL
        probability of its skill against the item's difficulty made one logit easier (judging an
        answer is easier than giving it), so a stronger judge is right more often. An answer it
        never gave gets "5". Every other graded answer's text is remembered for that (bounded)."""
        config = self.config.grading
        assert config is not None
        if not turn.context.startswith(JUDGE_PROMPT):
            for a, g in zip(answers, grades, strict=True):
                if a.text:
                    if len(self.by_text) >= config.kept:
                        self.by_text.pop(next(iter(self.by_text)))
                    self.by_text[grading.normalize(a.text)] = (g.passed, g.difficulty)
            return
        judged = grading.normalize(turn.user_text.rsplit("\n\nAnswer:\n", 1)[-1])
        seen = self.by_text.get(judged)
        for a in answers:
            if seen is None:
                verdict = "5"
            else:
                passed, difficulty = seen
                p_right = grading.p_pass(self.skill(turn.model, now), difficulty - 1.0, config.discrimination)
                u = grading.uniform(self.config.seed, "judge", judged, turn.model)
                verdict = "9" if (passed if u < p_right else not passed) else "3"
            a.text, a.output_tokens, a.finish, a.tool_calls = verdict, 1, "stop", []

    def _verdicts(self, config: grading.Grading, turn: Turn, now: float) -> list[grading.Verdict]:
        difficulty = turn.markers.difficulty
        if difficulty is None:
            difficulty = config.difficulties.get(grading.item_key(turn.user_text))
        if difficulty is None:
            mean, spread = config.spread_of(classify_task(turn.context))
            difficulty = grading.draw_difficulty(
                turn.user_text, mean, spread, seed=self.config.seed, word_share=config.word_share
            )
        skill = self.skill(turn.model, now)
        return [
            grading.judge(config, self.config.seed, turn.user_text, turn.model, skill, difficulty, choice)
            for choice in range(turn.n)
        ]

    def skill(self, model: str, now: float | None = None) -> float:
        """The model's skill under this simulator's grading (price-derived, or overridden)."""
        config = self.config.grading or grading.Grading()
        skill = self._skills.get(model)
        if skill is None:
            if self._catalog is None:
                from costops.pricing import PriceCatalog

                self._catalog = PriceCatalog()
            at = datetime.fromtimestamp(self.clock() if now is None else now, UTC)
            skill = grading.skill_of(model, config, self._catalog, at)
            if len(self._skills) >= 256:
                self._skills.pop(next(iter(self._skills)))
            self._skills[model] = skill
        return skill

    def _stored_grade(self, query: dict[str, list[str]]) -> bytes:
        if self.config.grading is None:
            raise SimError(404, _GRADING_OFF)
        response_id = (query.get("id") or [""])[0].strip()
        if not response_id:
            raise SimError(400, "Missing query parameter 'id': GET /sim/grade?id=<the response's id>.", "id")
        found = self.grades.get(response_id)
        if found is None:
            raise SimError(
                404,
                f"No grade for response id {response_id!r}: the simulator keeps the grades of its last "
                f"{self.grades.capacity:,} graded answers (Grading.kept), and only of chat answers it gave.",
                "id",
            )
        return orjson.dumps(found)

    def _grade_request(self, body: dict[str, Any], now: float) -> bytes:
        """The grade a chat request would get, without answering it (nor counting it)."""
        if self.config.grading is None:
            raise SimError(404, _GRADING_OFF)
        name = body.get("api")
        api = {"openai": _OPENAI, "anthropic": _ANTHROPIC, "gemini": _GEMINI}.get(name) if isinstance(name, str) else None
        if api is None:
            raise SimError(400, f"Invalid 'api': expected 'openai', 'anthropic' or 'gemini', got {body.get('api')!r}.", "api")
        request, model = body.get("request"), body.get("model")
        if not isinstance(request, dict):
            raise SimError(400, "Invalid 'request': expected the chat request's body, a JSON object.", "request")
        if model is not None and (not isinstance(model, str) or not model):
            raise SimError(400, f"Invalid 'model': expected a model name, got {model!r}.", "model")
        path_model = ""
        if api is _GEMINI:
            if model is None:
                raise SimError(400, "Missing 'model': a Gemini request names its model in the URL, so say it here.", "model")
            path_model = model
        elif model is not None:
            request = {**request, "model": model}
        turn = api.module.parse(request, path_model)
        memo = self.memo(turn.model)
        turn.prompt_tokens = api.module.prompt_usage(request, memo, PrefixStore(), None, now).total
        _, grades = self._answers(api, turn, request, path_model, memo, random.Random(0), now)
        assert grades is not None
        return orjson.dumps(grading.response_grade(None, turn.model, grades))

    def _prompt_seed(self, turn: Turn) -> int:
        text = f"{self.config.seed}|{turn.context}\x1f{turn.user_text}"
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")

    def _body_seed(self, body: dict[str, Any], model: str) -> int:
        canonical = orjson.dumps({k: v for k, v in body.items() if k not in _VOLATILE}, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.blake2b(f"{self.config.seed}|{model}|".encode() + canonical, digest_size=8).digest()
        return int.from_bytes(digest, "big")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    head = [(b"content-type", _JSON), (b"content-length", str(len(payload)).encode()), *(headers or ())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload})


async def _send_partial(send: Send, payload: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Promise the whole body, send half, and return: the server drops the connection."""
    head = [(b"content-type", _JSON), (b"content-length", str(len(payload)).encode()), *headers]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True})


async def _stream(
    send: Send, events: list[tuple[bytes, int]], headers: list[tuple[bytes, bytes]],
    first: float, per_token: float, disconnect: bool,
) -> None:
    head = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"), *headers]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    if disconnect:
        events = events[: max(1, len(events) // 2)]
    if first <= 0 and per_token <= 0:
        await send({"type": "http.response.body", "body": b"".join(e for e, _ in events), "more_body": disconnect})
    else:
        await asyncio.sleep(first)
        for data, tokens in events:
            if tokens and per_token > 0:
                await asyncio.sleep(tokens * per_token)
            await send({"type": "http.response.body", "body": data, "more_body": True})
        if not disconnect:
            await send({"type": "http.response.body", "body": b""})


def create_simulator(
    config: SimConfig | None = None, *, clock: Callable[[], float] = time.time, catalog: Any = None,
) -> Simulator:
    """The simulator ASGI app; ``clock`` drives prompt-cache TTLs and ``created`` stamps;
    ``catalog`` (a :class:`~costops.pricing.PriceCatalog`) prices models into skills for grading
    (default: genai-prices, loaded at the first graded answer)."""
    return Simulator(config or SimConfig(), clock, catalog)
