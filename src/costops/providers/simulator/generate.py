"""One simulated answer, API-neutral: each API module parses its request into a :class:`Turn`
and shapes the :class:`Answer` back into its own JSON or events.

Token counts are of the text actually returned: the text is made, trimmed to the drawn length,
cut at a stop sequence or at the output limit, and then counted. With grading on, a failing
verdict makes the answer show its flaw (``flaws``) before it is cut and counted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from costops.providers.simulator import flaws
from costops.providers.simulator.behaviour import (
    Markers,
    classify_task,
    draw_length,
    draw_reasoning,
    make_id,
    make_text,
    phrase,
)
from costops.providers.simulator.fill import fill
from costops.providers.simulator.grading import Verdict
from costops.tokens import TokenCounter


@dataclass(slots=True)
class Tool:
    name: str
    schema: dict[str, Any]


@dataclass(slots=True)
class Turn:
    """What the answer depends on, whichever API asked."""

    model: str
    last_user: str = ""
    user_text: str = ""
    """Every user turn's text: the item that grading keys its difficulty and draws on."""
    context: str = ""
    """System text and the last user message: what the task is classified from."""
    prompt_tokens: int = 0
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str = "auto"
    """"auto", "none", "required", or "tool:<name>" for a forced tool."""
    after_tool_result: bool = False
    json_mode: bool = False
    json_schema: dict[str, Any] | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    reasoning: str | None = None
    """Reasoning effort for a reasoning model; None means it does not reason."""
    reasoning_budget: int | None = None
    visible_reasoning: bool = False
    """Anthropic's thinking blocks are returned (and counted); OpenAI's and Gemini's are hidden."""
    n: int = 1
    markers: Markers = field(default_factory=Markers)


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str


@dataclass(slots=True)
class Answer:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"
    """"stop", "length", "tool" or "stop_sequence"."""
    stop_sequence: str | None = None
    output_tokens: int = 0
    """Visible output (text, tool calls, visible thinking)."""
    reasoning_tokens: int = 0
    reasoning_text: str = ""
    flaw: str | None = None
    """With grading on: None for a passing answer, else the flaw it shows (``flaws``), or
    "truncated" when cut at the output limit."""


def answer(
    turn: Turn, counter: TokenCounter, rng: random.Random, ids: random.Random, id_prefix: str = "call_",
    verdict: Verdict | None = None, lengths: random.Random | None = None,
) -> Answer:
    """Tool call(s) when the request calls for one, otherwise text (JSON in JSON mode); a
    reasoning model thinks first, and its thinking counts against the output limit. A failing
    ``verdict`` shows its flaw; whatever the verdict, an answer cut at the limit is truncated.
    ``lengths`` draws the answer's length (default ``rng``): the app seeds it by the prompt
    alone, so every model answers one question at about one length."""
    result = _answer(turn, counter, rng, ids, id_prefix, verdict, lengths or rng)
    if verdict is not None and result.finish == "length":
        result.flaw = "truncated"
    return result


def _answer(
    turn: Turn, counter: TokenCounter, rng: random.Random, ids: random.Random, id_prefix: str,
    verdict: Verdict | None, lengths: random.Random,
) -> Answer:
    result = Answer()
    failing = verdict if verdict is not None and not verdict.passed else None
    tools = _tools_to_call(turn)
    task = classify_task(turn.context)
    target = turn.markers.tokens
    if target is None:
        target = 40 if tools else draw_length(task, turn.context, turn.prompt_tokens, lengths)
    limit = turn.max_tokens
    if turn.reasoning is not None:
        limit = _reason(turn, target, counter, rng, result)
        if result.finish == "length":
            return _settle(turn, result, 0)
    if tools:
        if failing:
            required = any(flaws.required_fields(t.schema) for t in tools)
            result.flaw = flaws.choose("tools", failing.detectable, failing.pick, required=required)
        return _settle(turn, result, _tool_calls(turn, tools, counter, rng, ids, id_prefix, limit, result))
    if turn.json_mode or turn.json_schema is not None:
        if failing:
            required = bool(flaws.required_fields(turn.json_schema))
            result.flaw = flaws.choose("json", failing.detectable, failing.pick, required=required)
        value = fill(turn.json_schema, rng, hint=turn.last_user) if turn.json_schema else {"answer": _sentence(rng)}
        if result.flaw == "missing_field":
            value = flaws.drop_required(value, turn.json_schema)
        text = orjson.dumps(value).decode()
        if result.flaw == "invalid_json":
            text = flaws.break_json(text, rng)
        count = counter.count(text)
    else:
        if failing:
            result.flaw = flaws.choose("text", failing.detectable, failing.pick, usual_tokens=target)
        if result.flaw == "hedge":
            text = flaws.hedge(rng)
        elif result.flaw == "short":
            text = make_text(task, max(1, min(target // 10, flaws.SHORT_MAX)), rng)
        else:
            text = make_text(task, target, rng)  # whole sentences, about ``target`` tokens
        if turn.markers.tokens is not None and result.flaw not in ("hedge", "short"):
            text, count = trim(counter, text, target)
        else:
            count = counter.count(text)
    for stop in turn.stop:
        cut = text.find(stop) if stop else -1
        if cut >= 0:
            text, result.finish, result.stop_sequence = text[:cut], "stop_sequence", stop
            count = counter.count(text)
    if limit is not None and count > limit:
        text, count = trim(counter, text, limit)
        result.finish, result.stop_sequence = "length", None
    result.text = text
    return _settle(turn, result, count)


def _reason(turn: Turn, target: int, counter: TokenCounter, rng: random.Random, result: Answer) -> int | None:
    """Draw the thinking; returns the output limit left for the answer (finish "length" when
    thinking used it all)."""
    budget = draw_reasoning(turn.reasoning, target, rng)
    if turn.reasoning_budget is not None:
        budget = min(budget, turn.reasoning_budget)
    limit = turn.max_tokens
    if limit is not None and budget >= limit:
        budget, result.finish = limit, "length"
    if turn.visible_reasoning and budget:
        result.reasoning_text, budget = trim(counter, make_text("chat", budget, rng), budget)
    result.reasoning_tokens = budget
    return None if limit is None else max(0, limit - budget)


def _settle(turn: Turn, result: Answer, visible: int) -> Answer:
    """Anthropic bills its (visible) thinking as plain output; the others report it apart."""
    result.output_tokens = visible
    if turn.visible_reasoning:
        result.output_tokens += result.reasoning_tokens
        result.reasoning_tokens = 0
    return result


def trim(counter: TokenCounter, text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to at most ``limit`` tokens, with its count."""
    if limit <= 0:
        return "", 0
    ids = counter.encode(text)
    count = len(ids) if counter.exact else counter.count(text)
    if count <= limit:
        return text, count
    k = min(len(ids), max(0, limit * len(ids) // count))
    while k > 0:
        cut = counter.decode(ids[:k])
        n = counter.count(cut)
        if n <= limit:
            return cut, n
        k -= 1
    return "", 0


def _sentence(rng: random.Random) -> str:
    text = phrase(rng, 8, 20)
    return text[:1].upper() + text[1:] + "."


def _tools_to_call(turn: Turn) -> list[Tool]:
    if not turn.tools or turn.tool_choice == "none":
        return []
    if turn.tool_choice.startswith("tool:"):
        name = turn.tool_choice[5:]
        return [next((t for t in turn.tools if t.name == name), turn.tools[0])]
    if turn.tool_choice == "auto" and turn.after_tool_result:
        return []
    text = turn.last_user.lower()
    mentioned = sorted(
        (pos, t.name, t) for t in turn.tools
        if (pos := _mention(text, t.name)) >= 0
    )
    if mentioned:
        return [t for _, _, t in mentioned]
    return [turn.tools[0]] if turn.tool_choice == "required" else []


def _mention(text: str, name: str) -> int:
    low = name.lower()
    pos = text.find(low)
    return pos if pos >= 0 or "_" not in low else text.find(low.replace("_", " "))


def _tool_calls(
    turn: Turn, tools: list[Tool], counter: TokenCounter, rng: random.Random, ids: random.Random,
    id_prefix: str, limit: int | None, result: Answer,
) -> int:
    """Fills ``result`` with calls whose arguments satisfy each tool's schema (but for a
    ``missing_field`` flaw); returns their tokens."""
    result.finish = "tool"
    used = 0
    dropped = False
    for tool in tools:
        args = fill(tool.schema or {"type": "object"}, rng, hint=turn.last_user)
        if not isinstance(args, dict):
            args = {}
        if result.flaw == "missing_field" and flaws.required_fields(tool.schema) and not dropped:
            args, dropped = flaws.drop_required(args, tool.schema), True
        call = ToolCall(id_prefix + make_id(ids, 24), tool.name, args, orjson.dumps(args).decode())
        result.tool_calls.append(call)
        used += counter.count(call.name) + counter.count(call.arguments_json)
    if limit is not None and used > limit:
        # Cut off mid-arguments like a real model: the JSON is left unfinished.
        call = result.tool_calls[0]
        del result.tool_calls[1:]
        name = counter.count(call.name)
        call.arguments_json, args_used = trim(counter, call.arguments_json, max(0, limit - name))
        used = min(limit, name + args_used)
        result.finish = "length"
    return used
