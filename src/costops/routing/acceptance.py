"""Is a cheaper model's answer good enough to keep? Pure checks over the client-format answer.

A cascade asks these of every attempt but its last; the first failing check is the reason it
escalates (recorded on the rejected attempt's row). The checks only see what the client would:
they cannot know an answer is wrong, only that it is visibly not an answer (a refusal or hedge,
cut off at the token limit, too short, not the JSON that was asked for, missing a required
field, not matching a pattern). They catch some failures and miss plausible wrong answers; two
optional checks see further, at a price:

- ``min_confidence``: the answer's confidence, the geometric mean of its tokens' probabilities
  (``exp`` of the mean logprob), from OpenAI's ``logprobs`` (Gemini's, translated to that shape),
  which the cascade asks for on its cheaper attempts only when this is set (an OpenAI or Gemini
  deployment serving an OpenAI-format client;
  elsewhere the provider gives none and the check does not apply);
- ``judge``: a (cheap) model grades the answer from 0 to 10 (:func:`judge_request` builds its
  request, :func:`judge_score` reads the grade); its call is an attempt row of its own.

    accept:
      refusal: true          # reject refusals and hedges ("I'm sorry, but I can't...") (default on)
      truncated: true        # reject answers cut at the token limit (default on)
      min_chars: 1           # shorter answers are rejected
      max_chars: null
      json: false            # the answer must be a JSON value (on by itself when response_format asks for JSON)
      required_fields: []    # top-level keys the JSON object must carry (or the schema's 'required')
      regex: null            # the answer text must match (re.search)
      min_confidence: null   # e.g. 0.6: reject answers whose tokens' mean probability is lower (OpenAI logprobs)
      judge: null            # e.g. {model: gpt-4o-mini, min_score: 7}: a model grades the answer 0-10
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from costops.config import ConfigError, reject_unknown

_REFUSAL = re.compile(
    r"^\W*(i'?m sorry\b|i am sorry\b|sorry, (but )?i\b|i apologi[sz]e\b)"
    r"|\bi (can(no|')?t|am unable to|'m unable to|am not able to|'m not able to|won'?t be able to) "
    r"(help|assist|answer|provide|comply|do that|determine|say|be certain|give)"
    r"|\bi('m| am) (not (sure|certain)|unable to determine)"
    r"|\bi (don'?t|do not) (know|have (enough|sufficient|the) (information|context|data))"
    r"|\bas an ai( language model)?\b"
    r"|\b(cannot|can'?t) be (certain|sure)\b",
    re.IGNORECASE,
)
_HEAD = 240
"""Refusals and hedges show in an answer's opening: only its first characters are read, so a
long answer that quotes "I can't" deep inside is not rejected for it."""


@dataclass(frozen=True, slots=True)
class Judge:
    model: str
    """The model that grades (any name a client could send)."""
    min_score: float = 7.0
    """The least grade, of 10, an answer must get to be kept."""
    max_tokens: int = 8
    """The judge writes a number: its call is capped at this."""


@dataclass(frozen=True, slots=True)
class Acceptance:
    refusal: bool = True
    truncated: bool = True
    min_chars: int = 1
    max_chars: int | None = None
    json: bool = False
    required_fields: tuple[str, ...] = ()
    regex: str | None = None
    min_confidence: float | None = None
    judge: Judge | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None


def answer_parts(api: str, body: bytes) -> tuple[str, str | None, bool]:
    """(the answer's text or tool arguments, its finish reason, whether it called a tool)."""
    return _parts(api, _load(body))


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _parts(api: str, data: dict[str, Any]) -> tuple[str, str | None, bool]:
    if not data:
        return "", None, False
    if api == "anthropic":
        blocks = [b for b in data.get("content") or () if isinstance(b, dict)]
        text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        tools = [b for b in blocks if b.get("type") == "tool_use"]
        if tools and not text:
            text = orjson.dumps(tools[0].get("input")).decode()
        return text, data.get("stop_reason"), bool(tools)
    choices = data.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    text = message.get("content") or ""
    calls = message.get("tool_calls") or []
    if calls and not text and isinstance(calls[0], dict):
        text = str((calls[0].get("function") or {}).get("arguments") or "")
    return str(text), choice.get("finish_reason"), bool(calls)


def wants_json(request: Mapping[str, Any]) -> tuple[bool, tuple[str, ...]]:
    """Did the request ask for JSON (OpenAI's response_format), and which fields its schema requires."""
    fmt = request.get("response_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return False, ()
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    required = schema.get("required") if isinstance(schema, Mapping) else None
    return True, tuple(r for r in required or () if isinstance(r, str))


def judge(checks: Acceptance, api: str, request: Mapping[str, Any], body: bytes) -> Verdict:
    """The first check the answer fails, or ok."""
    data = _load(body)
    text, finish, tool_call = _parts(api, data)
    if checks.truncated and finish in ("length", "max_tokens"):
        return Verdict(False, "truncated: the answer hit the token limit")
    asked_json, schema_required = wants_json(request)
    stripped = text.strip()
    if len(stripped) < checks.min_chars:
        return Verdict(False, f"too short: {len(stripped)} characters, at least {checks.min_chars} wanted")
    if checks.max_chars is not None and len(stripped) > checks.max_chars:
        return Verdict(False, f"too long: {len(stripped)} characters, at most {checks.max_chars} wanted")
    if checks.refusal and not tool_call and _REFUSAL.search(stripped[:_HEAD]):
        return Verdict(False, "a refusal or hedge")
    required = checks.required_fields or schema_required
    if checks.json or asked_json or required or tool_call:
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return Verdict(False, "not valid JSON")
        missing = [f for f in required if not isinstance(value, dict) or f not in value]
        if missing:
            return Verdict(False, f"JSON without required field {missing[0]!r}")
    if checks.regex is not None and not re.search(checks.regex, text):
        return Verdict(False, f"does not match {checks.regex!r}")
    if checks.min_confidence is not None:
        sure = _confidence(data)
        if sure is not None and sure < checks.min_confidence:
            return Verdict(False, f"low confidence: {sure:.3f}, at least {checks.min_confidence:g} wanted")
    return Verdict(True)


def confidence(body: bytes) -> float | None:
    """The first choice's confidence: exp of its tokens' mean logprob (their geometric mean
    probability), from an OpenAI-format answer's ``logprobs``; None when it carries none."""
    return _confidence(_load(body))


def _confidence(data: dict[str, Any]) -> float | None:
    try:
        content = data["choices"][0]["logprobs"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    values = [t["logprob"] for t in content or () if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))]
    if not values:
        return None
    return math.exp(max(sum(values) / len(values), -700.0))


def without_logprobs(body: bytes) -> bytes:
    """The answer as a client that did not ask for logprobs gets it (the cascade asked)."""
    data = orjson.loads(body)
    for choice in data.get("choices") or ():
        if isinstance(choice, dict) and "logprobs" in choice:
            choice["logprobs"] = None
    return orjson.dumps(data)


JUDGE_SYSTEM = (
    "You grade answers. Read the request and the answer, then reply with one whole number from 0 to 10: "
    "10 means fully correct, complete and on point; 0 means wrong, evasive or off topic. Reply with the number only."
)
_JUDGE_CHARS = 12_000
"""How much of the request and of the answer the judge reads (each): the head, where the task is."""
_SCORE = re.compile(r"\b(10|[0-9])(?:\.[0-9]+)?\b")


def judge_request(api: str, request: Mapping[str, Any], answer: str, spec: Judge) -> dict[str, Any]:
    """The judge's request, in the client's API format (so it is translated like any call)."""
    from costops.routing.needs import prompt_text

    user = f"Request:\n{prompt_text(api, request)[:_JUDGE_CHARS]}\n\nAnswer:\n{answer[:_JUDGE_CHARS]}"
    if api == "anthropic":
        return {"model": spec.model, "system": JUDGE_SYSTEM, "max_tokens": spec.max_tokens, "temperature": 0,
                "messages": [{"role": "user", "content": user}]}
    return {"model": spec.model, "max_tokens": spec.max_tokens, "temperature": 0,
            "messages": [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]}


def judge_score(api: str, body: bytes, spec: Judge) -> Verdict:
    """Keep the answer when the judge's grade (the first number in its reply) reaches ``min_score``."""
    text = answer_parts(api, body)[0]
    found = _SCORE.search(text)
    if found is None:
        return Verdict(False, f"the judge {spec.model} gave no grade ({text[:40]!r})")
    grade = float(found.group(0))
    if grade < spec.min_score:
        return Verdict(False, f"the judge {spec.model} graded it {grade:g} of 10, at least {spec.min_score:g} wanted")
    return Verdict(True)


def parse_acceptance(raw: Any, where: str) -> Acceptance:
    if raw is None:
        return Acceptance()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a mapping of checks (refusal, truncated, min_chars, max_chars, json, required_fields, regex)")
    known = {"refusal", "truncated", "min_chars", "max_chars", "json", "required_fields", "regex", "min_confidence", "judge"}
    reject_unknown(raw, known, where, "check")
    for name in ("refusal", "truncated", "json"):
        if name in raw and not isinstance(raw[name], bool):
            raise ConfigError(f"{where}.{name}: true or false")
    for name in ("min_chars", "max_chars"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"{where}.{name}: a whole number of characters")
    fields = raw.get("required_fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ConfigError(f"{where}.required_fields: a list of field names")
    pattern = raw.get("regex")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"{where}.regex: {exc}") from None
    sure = raw.get("min_confidence")
    if sure is not None and (isinstance(sure, bool) or not isinstance(sure, (int, float)) or not 0 < sure < 1):
        raise ConfigError(f"{where}.min_confidence: a probability between 0 and 1, e.g. 0.6")
    return Acceptance(
        refusal=raw.get("refusal", True), truncated=raw.get("truncated", True), min_chars=raw.get("min_chars", 1),
        max_chars=raw.get("max_chars"), json=raw.get("json", False), required_fields=tuple(fields), regex=pattern,
        min_confidence=None if sure is None else float(sure), judge=_parse_judge(raw.get("judge"), f"{where}.judge"),
    )


def _parse_judge(raw: Any, where: str) -> Judge | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"model": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("model"), str) or set(raw) - {"model", "min_score", "max_tokens"}:
        raise ConfigError(f"{where}: {{model: gpt-4o-mini, min_score: 7, max_tokens: 8}} (model required)")
    floor, cap = raw.get("min_score", 7), raw.get("max_tokens", 8)
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 10:
        raise ConfigError(f"{where}.min_score: a grade from 0 to 10, not {floor!r}")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigError(f"{where}.max_tokens: a whole number of at least 1, not {cap!r}")
    return Judge(raw["model"], float(floor), cap)
