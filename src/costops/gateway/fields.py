"""The few request fields the gateway itself reads, checked before anything acts on them.

The body's bytes go upstream untouched, so the provider judges everything else; but a field the
gateway reads decides what it does (stream or not, how much to reserve, whether to cache), and a
wrong type there would make it do the wrong thing silently (``"stream": "false"`` is a truthy
string). A wrong type is a 400 that names the field, in the client's API shape.

Integer fields follow JSON Schema, which both APIs publish their request bodies in: a number
with a zero fractional part (``1629.0``) is an integer, ``1629.5`` or ``"1629"`` is not. An
integral float is rewritten as an integer, so every stage and the provider see ``1629``; past 2**53, where a float no longer
names one integer, it is refused like any other non-integer.
"""

from __future__ import annotations

from typing import Any

from costops.errors import BadRequest, MissingModel

_INTEGER_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "n")
_INTEGER_NAMES = frozenset(_INTEGER_FIELDS)
_INTEGER_ORDER = _INTEGER_FIELDS.index
_EXACT_FLOATS = 2**53
"""Every integer up to this is exactly one float: beyond, ``1e300`` is no particular integer."""
MAX_CHOICES = 128
"""OpenAI's own limit on ``n``; the gateway reserves budget and counts tokens per choice."""


def check_fields(body: dict[str, Any], endpoint: str) -> tuple[str, bool]:
    """The request's model, and whether ``body`` was rewritten (an integral float made an
    integer: the caller encodes the body again); raises :class:`BadRequest` for a field of the
    wrong type or range."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        if model is None or model == "":
            raise MissingModel("the request has no 'model'; name one, e.g. \"model\": \"gpt-4o-mini\"")
        raise BadRequest(f"'model' must be a non-empty string, not {_kind(model)}", code="invalid_type")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest(f"'stream' must be true or false, not {_kind(stream)}", code="invalid_type")
    if stream and endpoint == "embeddings":
        raise BadRequest("embeddings do not stream: remove 'stream' from the request", code="invalid_value")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise BadRequest(f"'stream_options' must be an object, not {_kind(options)}", code="invalid_type")
        include = options.get("include_usage")
        if include is not None and not isinstance(include, bool):
            raise BadRequest(
                f"'stream_options.include_usage' must be true or false, not {_kind(include)}", code="invalid_type"
            )
    rewritten = False
    present = _INTEGER_NAMES.intersection(body)
    for name in sorted(present, key=_INTEGER_ORDER) if present else ():  # in _INTEGER_FIELDS' order
        value = body[name]
        if value is None:
            continue
        if type(value) is int and value >= 1 and (value <= MAX_CHOICES or name != "n"):
            continue  # the common case: a plain integer in range
        if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_FLOATS:
            body[name] = value = int(value)
            rewritten = True
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"'{name}' must be an integer, not {_kind(value)}", code="invalid_type")
        if value < 1:
            raise BadRequest(f"'{name}' must be at least 1, not {value}", code="invalid_value")
        if name == "n" and value > MAX_CHOICES:
            raise BadRequest(f"'n' must be at most {MAX_CHOICES}, not {value}", code="invalid_value")
    return model, rewritten


def _kind(value: Any) -> str:
    """How a JSON value reads in an error message: its JSON type and a short excerpt."""
    name = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array", dict: "an object"}
    text = repr(value) if not isinstance(value, (list, dict)) else ""
    kind = name.get(type(value), "null" if value is None else type(value).__name__)
    return f"{kind} {text[:40]}".strip()
