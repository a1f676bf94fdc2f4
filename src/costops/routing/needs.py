"""What a request needs of a model, read once from its body, and whether a model has it (pure).

A routed request never goes to a model that lacks what it asks for: tools, images in the
prompt, a JSON-schema response, or room for its prompt plus its output cap. Only what the
model's data *says* it lacks excludes it; an unknown fact does not (see
:mod:`costops.routing.capabilities`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from costops.routing.capabilities import Capabilities
from costops.tokens import content_text


class Needs(NamedTuple):
    """Read once per request (a tuple: built in one step, not field by field)."""

    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    input_tokens: int = 0
    output_tokens: int | None = None
    """The request's own output cap (``max_tokens``...), None when it names none."""

    def describe(self) -> str:
        parts = [name for name in ("tools", "vision", "json_schema") if getattr(self, name)]
        parts.append(f"{self.input_tokens:,} prompt tokens" + (f" + {self.output_tokens:,} max_tokens" if self.output_tokens else ""))
        return ", ".join(p.replace("vision", "images").replace("json_schema", "a JSON schema response") for p in parts)


def needs_of(api: str, body: Mapping[str, Any], input_tokens: int) -> Needs:
    """The needs of an OpenAI chat or Anthropic messages request body (a JSON object: dicts and
    lists), the common case first: a message whose content is a string has no image."""
    tools = bool(body.get("tools") or body.get("functions"))
    openai = api == "openai"
    cap = body.get("max_completion_tokens") if openai else None
    if cap is None:
        cap = body.get("max_tokens")
    output = cap if type(cap) is int and cap > 0 else None  # an int, not a bool
    fmt = body.get("response_format" if openai else "output_format")
    schema = isinstance(fmt, dict) and fmt.get("type") == "json_schema"
    vision = False
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict) and isinstance(content := m.get("content"), list) and _has_image(content):
                vision = True
                break
    return Needs(tools, vision, schema, input_tokens, output)


def _has_image(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    for part in content:
        if isinstance(part, dict):
            kind = part.get("type")
            if kind in ("image_url", "image", "input_image"):
                return True
            if kind == "tool_result" and _has_image(part.get("content")):
                return True
    return False


def lacks(caps: Capabilities, needs: Needs) -> str | None:
    """Why a model with ``caps`` cannot serve ``needs``, or None when nothing rules it out."""
    if needs.tools and caps.tools is False:
        return "no tool calling"
    if needs.vision and caps.vision is False:
        return "no image input"
    if needs.json_schema and caps.json_schema is False:
        return "no JSON schema output"
    if needs.output_tokens and caps.max_output and needs.output_tokens > caps.max_output:
        return f"max output {caps.max_output:,} < max_tokens {needs.output_tokens:,}"
    if caps.context_window:
        want = needs.input_tokens + (needs.output_tokens or 0)
        if want > caps.context_window:
            return f"context window {caps.context_window:,} < {want:,} tokens (prompt + max_tokens)"
    return None


def prompt_text(api: str, body: Mapping[str, Any]) -> str:
    """What a router reads: the system prompt and the messages' text, in order."""
    parts = [content_text(body.get("system"))] if api == "anthropic" and body.get("system") else []
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict):
            parts.append(content_text(message.get("content")))
    return "\n".join(p for p in parts if p)
