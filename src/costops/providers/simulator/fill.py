"""Plausible values for a JSON schema: tool-call arguments and structured (JSON-mode) answers.

Handles what tool and response schemas use in practice: types (also Gemini's upper-case ones and
nullable type lists), enum/const, anyOf/oneOf, local ``$ref`` into ``$defs``/``definitions``,
numeric bounds and minItems. Property names steer string values ("city" gets a city).
"""

from __future__ import annotations

import random
from typing import Any

from costops.providers.simulator.behaviour import phrase

_BY_NAME: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("city", "location", "place", "destination"), ("Paris", "Tokyo", "San Francisco", "Berlin", "Lisbon")),
    (("country",), ("France", "Japan", "United States", "Germany")),
    (("email",), ("alex.morgan@example.com", "sam.lee@example.org")),
    (("url", "link", "website"), ("https://example.com/docs", "https://example.org/report")),
    (("date", "day"), ("2025-03-14", "2025-06-01")),
    (("time",), ("14:30", "09:00")),
    (("currency",), ("USD", "EUR")),
    (("unit",), ("celsius", "fahrenheit")),
    (("lang", "language", "locale"), ("en", "fr", "de")),
    (("phone",), ("+1-555-0142",)),
    (("first_name", "firstname"), ("Alex", "Sam")),
    (("last_name", "lastname", "surname"), ("Morgan", "Lee")),
    (("name", "author", "user", "owner"), ("Alex Morgan", "Sam Lee", "Jordan Diaz")),
    (("id", "key", "sku", "code"), ("A-1042", "B-2210", "C-0007")),
    (("status", "state"), ("active", "pending", "done")),
    (("category", "label", "type", "kind", "sentiment"), ("general", "billing", "technical")),
)
_FORMATS = {
    "date": "2025-03-14",
    "date-time": "2025-03-14T14:30:00Z",
    "time": "14:30:00",
    "email": "alex.morgan@example.com",
    "uri": "https://example.com/docs",
    "uuid": "6f1c2a4e-8b3d-4c7e-9a21-3f5b7d9e0c12",
}
_LONG_TEXT = ("summary", "description", "text", "content", "body", "answer", "explanation", "reason", "message")
_QUERY = ("query", "q", "search", "question", "prompt", "topic", "keywords")


def fill(schema: Any, rng: random.Random, *, name: str = "", hint: str = "", root: Any = None, depth: int = 0) -> Any:
    """A value matching ``schema``; objects get their required properties (all when none are
    listed as required, as strict schemas list them all anyway)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return phrase(rng)
    if "$ref" in schema:
        return fill(_resolve(schema["$ref"], root), rng, name=name, hint=hint, root=root, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    for combo in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(combo) or () if not (isinstance(o, dict) and _type(o) == "null")]
        if options:
            return fill(options[0], rng, name=name, hint=hint, root=root, depth=depth + 1)
    kind = _type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        keys = schema.get("required") or list(props)
        return {k: fill(props.get(k, {}), rng, name=k, hint=hint, root=root, depth=depth + 1) for k in keys}
    if kind == "array":
        count = max(int(schema.get("minItems") or 1), 1 if rng.random() < 0.5 else 2)
        count = min(count, int(schema.get("maxItems") or count))
        singular = name[:-1] if name.endswith("s") else name
        return [fill(schema.get("items", {}), rng, name=singular, hint=hint, root=root, depth=depth + 1) for _ in range(count)]
    if kind == "integer":
        low, high = int(schema.get("minimum", 1)), int(schema.get("maximum", 10))
        return rng.randint(low, max(low, high))
    if kind == "number":
        floor, ceiling = float(schema.get("minimum", 0.0)), float(schema.get("maximum", 100.0))
        return round(rng.uniform(floor, max(floor, ceiling)), 2)
    if kind == "boolean":
        return rng.random() < 0.7
    if kind == "null":
        return None
    return _string(schema, name, hint, rng)


def _type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), None)
    return str(kind).lower() if kind else None


def _resolve(ref: Any, root: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return {}
    node = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _string(schema: dict[str, Any], name: str, hint: str, rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    low = name.lower()
    if low in _QUERY and hint:
        return " ".join(hint.split()[:12])
    for needles, values in _BY_NAME:
        if any(low == n or low.endswith("_" + n) or low.startswith(n + "_") for n in needles):
            return rng.choice(values)
    if any(n in low for n in _LONG_TEXT):
        sentence = phrase(rng, 8, 20)
        return sentence[:1].upper() + sentence[1:] + "."
    return phrase(rng, 1, 4)
