"""Pure decisions of the semantic cache: may this request use it, what text is embedded, and
which scope its neighbours must share.

Only the final user turn is embedded. Everything else that changes the answer is hashed into
the *scope*, and a lookup only searches its own scope: the namespace (the tenant by default),
the client API and endpoint, the model family, the system prompt, tools and every parameter
(and, when multi-turn caching is on, the earlier turns verbatim).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from costops.cache.control import CacheControl
from costops.cache.keys import deterministic, normalize
from costops.cache.semantic.config import SemanticCacheConfig

ENDPOINTS = ("chat.completions", "messages")
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest|@\d{8})$")
TOOL_PARTS = {"tool_use", "tool_result", "server_tool_use", "web_search_tool_result", "function_call"}


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a cacheable request looks up: its scope and the text to embed."""

    scope: str
    text: str


def model_family(model: str) -> str:
    """``gpt-4o-2024-08-06`` and ``gpt-4o`` answer alike; ``gpt-4o-mini`` is another family."""
    return _DATE_SUFFIX.sub("", model)


def prepare(
    api: str, endpoint: str, body: Mapping[str, Any], model: str, namespace: str,
    control: CacheControl, cfg: SemanticCacheConfig,
) -> Lookup | str:
    """The :class:`Lookup` of a request the semantic cache may serve, or why it may not."""
    if endpoint not in ENDPOINTS:
        return f"endpoint {endpoint} is not cached semantically"
    if control.no_cache and control.no_store:
        return "off"
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return "n>1 asks for several different answers"
    if cfg.deterministic_only and not control.force and not deterministic(endpoint, body):
        return "not deterministic (set temperature 0 or a seed, or send 'force')"
    if not cfg.allow_tools and (body.get("tools") or body.get("functions") or body.get("tool_choice")):
        return "tool-calling request (cache.semantic.allow_tools is off)"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no messages"
    system, turns = _split_system(api, body, messages)
    if not cfg.allow_tools and any(_agentic(m) for m in turns):
        return "tool calls or results in the conversation (cache.semantic.allow_tools is off)"
    users = [m for m in turns if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) > 1 and not cfg.allow_multi_turn:
        return "multi-turn conversation (cache.semantic.allow_multi_turn is off)"
    last = turns[-1] if turns else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return "the last message is not the user's"
    text = _text(last.get("content"))
    if not text or not text.strip():
        return "the last user turn has no text (or has images or files)"
    if len(text) > cfg.max_query_chars:
        return f"the last user turn is longer than cache.semantic.max_query_chars ({cfg.max_query_chars})"
    params = {k: v for k, v in normalize(body).items() if k not in ("messages", "system")}
    # a sampled answer given with 'force' is one of many: keep its scope apart from greedy ones
    scope_doc = [
        namespace, api, endpoint, model_family(model), system, turns[:-1] if cfg.allow_multi_turn else [],
        params,
    ]
    digest = hashlib.sha256(orjson.dumps(scope_doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return Lookup(scope=digest, text=text)


def _split_system(api: str, body: Mapping[str, Any], messages: list[Any]) -> tuple[Any, list[Any]]:
    if api == "anthropic":
        return body.get("system"), messages
    system = [m for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    turns = [m for m in messages if not (isinstance(m, dict) and m.get("role") in ("system", "developer"))]
    return system, turns


def _agentic(message: Any) -> bool:
    if not isinstance(message, dict):
        return False
    if message.get("role") in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
        return True
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and p.get("type") in TOOL_PARTS for p in content)


def _text(content: Any) -> str | None:
    """The text of a message: a string, or text parts only (an image makes it uncacheable)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("text", "input_text"):
                return None
            texts.append(str(part.get("text") or ""))
        return "\n".join(texts)
    return None
