"""Provider prompt caching: mark the stable prefix of Anthropic-bound calls as cacheable.

Anthropic caches a prompt prefix only where the request places ``cache_control`` breakpoints,
and only when the prefix up to a breakpoint reaches the model's minimum (1,024 tokens; 2,048 for
Haiku models). Reads then cost a tenth of the input rate, writes a quarter more (5 min) or twice
(1 h). This stage places up to three breakpoints on what stays the same from call to call, in
Anthropic's prefix order: the last tool, the last system block, and the static context of the
first user turn (every block but its last, or the whole turn once the conversation goes on).
It never adds a breakpoint where the prefix is too short to be cached, never goes past
Anthropic's limit of four, and leaves a request alone when the client placed its own.

OpenAI-format requests bound for an Anthropic deployment are marked on their OpenAI parts; the
translation (:mod:`costops.providers.anthropic_format`) carries ``cache_control`` over. OpenAI and
Gemini cache prefixes implicitly: for them the gateway does nothing that could reorder a prompt
(bodies are forwarded as sent) and the cached-token counts they report are read into the ledger.
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from costops.cache.config import PromptCacheConfig, parse_prompt
from costops.config import Config
from costops.pipeline.contract import Call, Reply
from costops.tokens import counter

MAX_BREAKPOINTS = 4
Path = tuple[Any, ...]


def min_cacheable(model: str, cfg: PromptCacheConfig | None = None) -> int:
    for pattern, n in cfg.min_tokens if cfg else ():
        if fnmatch.fnmatchcase(model, pattern):
            return n
    return 2048 if "haiku" in model.lower() else 1024


def _markable(body: dict[str, Any]) -> bool:
    tools, messages, system = body.get("tools"), body.get("messages"), body.get("system")
    return (
        isinstance(tools, (list, type(None)))
        and isinstance(messages, (list, type(None)))
        and isinstance(system, (str, list, type(None)))
        and all(isinstance(m, dict) for m in messages or ())
    )


def has_cache_control(body: dict[str, Any]) -> bool:
    """Did the client place breakpoints of its own (anywhere Anthropic or our translation reads them)?"""
    if body.get("cache_control"):
        return True
    tools, messages = body.get("tools"), body.get("messages")  # wrong types are the provider's to refuse
    if isinstance(tools, list) and any(isinstance(t, dict) and t.get("cache_control") for t in tools):
        return True
    system = body.get("system")
    if isinstance(system, list) and any(isinstance(b, dict) and b.get("cache_control") for b in system):
        return True
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(b, dict) and b.get("cache_control") for b in content):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Placement:
    paths: tuple[Path, ...]
    """Where breakpoints go: ``("tools", i)``, ``("system", i)``, ``("messages", i, j)``;
    ``("system", i)`` in an OpenAI body means the i-th message (a system message)."""
    prefix_tokens: tuple[int, ...]


def plan(api: str, body: dict[str, Any], *, minimum: int, count: Callable[[str], int], place: tuple[str, ...]) -> Placement:
    """Where to put breakpoints (pure): candidates in prefix order, kept when their prefix is long enough.
    A body of the wrong shape is left as it is: the provider's own 400 explains it better than we could."""
    if not _markable(body) or has_cache_control(body):
        return Placement((), ())
    candidates: list[tuple[Path, int]] = []
    total = 0
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    total += sum(count(orjson.dumps(t).decode()) for t in tools)
    if tools and "tools" in place:
        candidates.append((("tools", len(tools) - 1), total))
    messages = body.get("messages") or []
    if api == "anthropic":
        system = body.get("system")
        blocks = system if isinstance(system, list) else ([system] if system else [])
        total += sum(count(_text(b)) for b in blocks)
        if blocks and "system" in place:
            candidates.append((("system", len(blocks) - 1), total))
        turns = list(enumerate(messages))
    else:
        system_at = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") in ("system", "developer")]
        total += sum(count(_text(messages[i].get("content"))) for i in system_at)
        if system_at and "system" in place and _parts(messages[system_at[-1]].get("content")):
            candidates.append((("system", system_at[-1]), total))
        skip = set(system_at)
        turns = [(i, m) for i, m in enumerate(messages) if i not in skip]
    if turns and "context" in place:
        first, message = turns[0]
        if isinstance(message, dict) and message.get("role") == "user":
            parts = _parts(message.get("content"))
            if len(parts) >= 2:
                total += sum(count(_text(p)) for p in parts[:-1])
                candidates.append((("messages", first, len(parts) - 2), total))
            elif parts and len(turns) > 1:
                total += count(_text(parts[0]))
                candidates.append((("messages", first, 0), total))
    chosen = [(path, n) for path, n in candidates if n >= minimum][:MAX_BREAKPOINTS]
    return Placement(tuple(p for p, _ in chosen), tuple(n for _, n in chosen))


def _ttl(mark: Any) -> str | None:
    if not isinstance(mark, dict) or not mark:
        return None
    return "1h" if mark.get("ttl") == "1h" else "5m"


def client_breakpoints(api: str, body: dict[str, Any], count: Callable[[str], int]) -> tuple[tuple[int, str], ...]:
    """The client's own ``cache_control`` marks as (tokens of the prefix up to it, ttl), in
    Anthropic's prefix order (tools, system, messages): what the provider will write to its cache
    and bill at the write premium. A top-level ``cache_control`` (automatic caching) marks the end."""
    marks: list[tuple[int, str]] = []
    total = 0
    tools, listed = body.get("tools"), body.get("messages")
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict):
            total += count(orjson.dumps(tool).decode())
            if ttl := _ttl(tool.get("cache_control")):
                marks.append((total, ttl))
    messages = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
    if api == "anthropic":
        system = body.get("system")
        heads: list[Any] = system if isinstance(system, list) else ([system] if system else [])
    else:
        heads = [p for m in messages if m.get("role") in ("system", "developer") for p in _parts(m.get("content"))]
        messages = [m for m in messages if m.get("role") not in ("system", "developer")]
    parts = heads + [p for m in messages for p in _parts(m.get("content"))]
    for part in parts:
        total += count(_text(part))
        if isinstance(part, dict) and (ttl := _ttl(part.get("cache_control"))):
            marks.append((total, ttl))
    if ttl := _ttl(body.get("cache_control")):
        marks.append((total, ttl))
    return tuple(marks)


def write_tokens(marks: Sequence[tuple[int, str]], input_tokens: int) -> tuple[int, int]:
    """(5 min, 1 h) cache-write tokens when every marked prefix is written (the worst case: a read
    costs less than the plain input rate, a write more). Each stretch between two breakpoints is
    written at the later one's TTL; never more than the prompt's own count."""
    w5 = w1 = done = 0
    for upto, ttl in marks:
        upto = min(upto, input_tokens)
        if upto <= done:
            continue
        if ttl == "1h":
            w1 += upto - done
        else:
            w5 += upto - done
        done = upto
    return w5, w1


def apply(api: str, body: dict[str, Any], placement: Placement, ttl: str) -> dict[str, Any]:
    """A copy of ``body`` with ``cache_control`` at ``placement``; only the touched parts are copied."""
    mark: dict[str, Any] = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}
    out = dict(body)
    for path in placement.paths:
        if path[0] == "tools":
            tools = out["tools"] = list(out["tools"])
            tools[path[1]] = {**tools[path[1]], "cache_control": mark}
        elif path[0] == "system" and api == "anthropic":
            system = out["system"]
            blocks = list(system) if isinstance(system, list) else [{"type": "text", "text": system}]
            blocks[path[1]] = {**blocks[path[1]], "cache_control": mark}
            out["system"] = blocks
        else:
            index, part = (path[1], None) if path[0] == "system" else (path[1], path[2])
            messages = out["messages"] = list(out["messages"])
            message = messages[index]
            parts = _parts(message.get("content"))
            at = len(parts) - 1 if part is None else part
            parts = [*parts[:at], {**parts[at], "cache_control": mark}, *parts[at + 1 :]]
            messages[index] = {**message, "content": parts}
    return out


def without_cache_control(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with every ``cache_control`` taken off (top level, tools, messages' parts): what an
    OpenAI-compatible deployment is sent when the call was marked for Claude (this stage, or a
    client that knew it talked to Claude) and a fallback or a route took it elsewhere; OpenAI
    refuses the unknown field. Only the touched parts are copied."""

    def bare(item: Any) -> Any:
        return {k: v for k, v in item.items() if k != "cache_control"} if isinstance(item, dict) and "cache_control" in item else item

    out = {k: v for k, v in body.items() if k != "cache_control"}
    if isinstance(out.get("tools"), list):
        out["tools"] = [bare(t) for t in out["tools"]]
    if isinstance(out.get("messages"), list):
        out["messages"] = [
            {**m, "content": [bare(p) for p in m["content"]]} if isinstance(m, dict) and isinstance(m.get("content"), list) else m
            for m in out["messages"]
        ]
    return out


def _parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        if block.get("type") == "text":
            return str(block.get("text") or "")
        return orjson.dumps(block).decode()
    if isinstance(block, list):
        return "\n".join(_text(b) for b in block)
    return ""


class _MemoCount:
    """Token counts of long texts remembered: a long system prompt sent with every call is
    tokenized once, so the stage costs a dict lookup on the hot path."""

    def __init__(self, model: str, max_entries: int = 4096) -> None:
        self._counter = counter(model)
        self._memo: OrderedDict[str, int] = OrderedDict()
        self._max = max_entries

    def __call__(self, text: str) -> int:
        if len(text) < 512:
            return self._counter.count(text)
        n = self._memo.get(text)
        if n is None:
            n = self._memo[text] = self._counter.count(text)
            if len(self._memo) > self._max:
                self._memo.popitem(last=False)
        return n


PLAN = "prompt_cache_plan"
"""``call.state`` key of the planned breakpoints: (body, model, placement)."""
MARKED = "prompt_cache_marked"
"""``call.state`` key: {id of a body this stage marked: (that body, the body and raw bytes before)}."""
CLIENT = "prompt_cache_client"
"""``call.state`` key: the client's body as this stage first saw it (unmarked)."""
HEADER = b"x-costops-prompt-cache"


def memo_counter(counters: dict[str, _MemoCount], model: str) -> _MemoCount:
    count = counters.get(model)
    if count is None:
        if len(counters) > 256:
            counters.clear()
        count = counters[model] = _MemoCount(model)
    return count


class PromptCacheStage:
    name = "prompt-cache"

    def __init__(self, cfg: PromptCacheConfig) -> None:
        self.cfg = cfg
        self._counters: dict[str, _MemoCount] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def planned(self, call: Call) -> Placement | None:
        """The breakpoints this stage will add to the call at its target (None: it leaves the call
        alone). Planned once per body and model: the budgets stage, which runs first, prices the
        cache writes they cause, and this stage then applies the same plan."""
        deployment = call.deployment
        if deployment is None or deployment.kind != "anthropic" or call.endpoint == "embeddings":
            return None
        body = self.unmarked(call)[0]
        seen = call.state.get(PLAN)
        if seen is not None and seen[0] is body and seen[1] == call.model:
            return seen[2]  # type: ignore[no-any-return]
        count = memo_counter(self._counters, call.model)
        placement = plan(call.api, body, minimum=min_cacheable(call.model, self.cfg), count=count, place=self.cfg.place)
        call.state[PLAN] = (body, call.model, placement)
        return placement

    @staticmethod
    def unmarked(call: Call) -> tuple[dict[str, Any], bytes]:
        """The call's body and raw bytes without the breakpoints this stage placed (the client's own stay)."""
        marked = call.state.get(MARKED)
        before = marked.get(id(call.body)) if marked else None
        return (before[1], before[2]) if before is not None and before[0] is call.body else (call.body, call.raw)

    async def before(self, call: Call) -> Reply | None:
        call.state[CLIENT] = call.body
        self._shape(call, tell=True)
        return None

    async def readmit(self, call: Call) -> None:
        """A further attempt at a new target (a fallback, an escalation, a judge): the breakpoints
        are planned for it, so an OpenAI-first call that falls back to Claude is marked for Claude,
        and one marked for Claude that goes on to OpenAI or Gemini goes without the marks. The
        header follows the client's request, not a judge's."""
        call.body, call.raw = self.unmarked(call)
        tell = call.body is call.state.get(CLIENT)
        if tell and any(name == HEADER for name, _ in call.response_headers):
            call.response_headers[:] = [h for h in call.response_headers if h[0] != HEADER]
        self._shape(call, tell=tell)

    def _shape(self, call: Call, *, tell: bool) -> None:
        placement = self.planned(call)
        if placement is not None and placement.paths:
            body, raw = call.body, call.raw
            call.body = apply(call.api, body, placement, self.cfg.ttl)
            call.raw = orjson.dumps(call.body)
            call.state.setdefault(MARKED, {})[id(call.body)] = (call.body, body, raw)
            if tell:
                call.response_headers.append((HEADER, str(len(placement.paths)).encode()))

    async def after(self, call: Call) -> None:
        return None


def prompt_cache_stage(config: Config, clock: Callable[[], float]) -> PromptCacheStage:
    return PromptCacheStage(parse_prompt(config.sections))
