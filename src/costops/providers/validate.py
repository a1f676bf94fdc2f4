"""Shape checks for the request fields a translator reads; a wrong type is the client's 400.

A translator rebuilds the client's body in another API's shape, so it reads deep into it. A
field of the wrong type there (a number where a list of content parts belongs) would surface
as a TypeError in the middle of the translation: a 500 for what is the client's mistake. Each
check here returns the value typed or raises :class:`~costops.errors.BadRequest` naming the
field by its path in the client's body and saying what was expected and what came::

    messages[2].content must be a string or a list of content parts, not a number 5

so a translator reads ``for path, part in objects(content, f"{where}.content")`` instead of
trusting a shape. Fields a translator only forwards (``temperature``, a tool's description...)
are the provider's to judge; its own 400 comes back to the client as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from costops.errors import BadRequest

__all__ = [
    "json_type",
    "shown",
    "invalid",
    "obj",
    "opt_obj",
    "opt_list",
    "objects",
    "string",
    "opt_str",
    "opt_int",
    "str_list",
    "one_of",
    "content_parts",
    "function_call",
    "function_tool",
    "tool_choice_name",
]

_EMPTY: Mapping[str, Any] = {}


def json_type(value: Any) -> str:
    """How a JSON value reads in a message: its type, and a short scalar's value."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def shown(value: Any) -> str:
    """A value quoted in a message: a short string as it is, anything else by its type."""
    return repr(value) if isinstance(value, str) and len(value) <= 40 else json_type(value)


def invalid(path: str, expected: str, value: Any) -> BadRequest:
    """The error for ``path`` holding ``value`` where ``expected`` belongs (raise it)."""
    if value is None:
        return BadRequest(f"{path} is missing; it must be {expected}", code="missing_field")
    return BadRequest(f"{path} must be {expected}, not {json_type(value)}", code="invalid_type")


def obj(value: Any, path: str, expected: str = "an object") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(path, expected, value)
    return value


def opt_obj(value: Any, path: str, expected: str = "an object") -> Mapping[str, Any]:
    """An object, or an empty one when the field is absent (null)."""
    return _EMPTY if value is None else obj(value, path, expected)


def opt_list(value: Any, path: str, expected: str = "a list") -> list[Any]:
    """A list, or an empty one when the field is absent (null)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(path, expected, value)
    return value


def objects(value: Any, path: str, expected: str = "a list of objects") -> list[tuple[str, Mapping[str, Any]]]:
    """Each item of a list of objects with its own path (``tools[3]``); absent is empty."""
    items = opt_list(value, path, expected)
    return [(f"{path}[{i}]", obj(item, f"{path}[{i}]")) for i, item in enumerate(items)]


def string(value: Any, path: str, expected: str = "a non-empty string") -> str:
    """A required, non-empty string: an id, a name, a type."""
    if not isinstance(value, str) or not value:
        raise invalid(path, expected, value)
    return value


def opt_str(value: Any, path: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid(path, "a string", value)
    return value


def opt_int(value: Any, path: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise invalid(path, "an integer", value)
    return value


def str_list(value: Any, path: str, *, single: bool = False) -> list[str]:
    """A list of strings (``single``: or one string, as OpenAI's ``stop`` allows); absent is empty."""
    if single and isinstance(value, str):
        return [value]
    expected = "a string or a list of strings" if single else "a list of strings"
    items = opt_list(value, path, expected)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise invalid(f"{path}[{i}]", "a string", item)
    return items


def one_of(value: Any, path: str, choices: tuple[str, ...]) -> str:
    """One of a few words (a role); the message lists them."""
    if isinstance(value, str) and value in choices:
        return value
    listed = " or ".join(choices) if len(choices) <= 2 else f"one of {', '.join(choices)}"
    if value is None:
        raise BadRequest(f"{path} is missing; it must be {listed}", code="missing_field")
    raise BadRequest(f"{path} {shown(value)} is not {listed}", code="invalid_value")


# -- the OpenAI Chat Completions shapes both the Claude and the Gemini translations read --------


def content_parts(content: Any, where: str) -> list[tuple[str, Mapping[str, Any], str]]:
    """(path, part, type) of each part of ``where``'s content given as a list."""
    parts = objects(content, f"{where}.content", "a string or a list of content parts")
    return [(path, part, string(part.get("type"), f"{path}.type")) for path, part in parts]


def function_call(call: Mapping[str, Any], path: str) -> tuple[str, str, dict[str, Any]]:
    """(id, name, arguments) of an assistant message's tool call; the arguments a JSON object."""
    fn = obj(call.get("function"), f"{path}.function", "an object with a name and arguments")
    call_id, name = string(call.get("id"), f"{path}.id"), string(fn.get("name"), f"{path}.function.name")
    raw = fn.get("arguments")
    try:
        args = orjson.loads(raw) if isinstance(raw, str) and raw else ({} if raw is None or raw == "" else raw)
    except orjson.JSONDecodeError:
        raise BadRequest(f"{path}.function.arguments of tool call {call_id!r} are not valid JSON") from None
    if not isinstance(args, dict):
        raise BadRequest(f"{path}.function.arguments of tool call {call_id!r} must be a JSON object")
    return call_id, name, args


def function_tool(tool: Mapping[str, Any], path: str, target: str) -> tuple[str, str | None, Mapping[str, Any]]:
    """(name, description, parameters) of a function tool; ``target`` takes no other kind."""
    fn = tool.get("function")
    if tool.get("type", "function") != "function" or not isinstance(fn, Mapping):
        raise BadRequest(f"{path} must be a function tool with a name; {target} gets only function tools")
    name = string(fn.get("name"), f"{path}.function.name")
    description = opt_str(fn.get("description"), f"{path}.function.description")
    return name, description, opt_obj(fn.get("parameters"), f"{path}.function.parameters", "a JSON Schema object")


def tool_choice_name(choice: Any) -> str | None:
    """The function a ``tool_choice`` object names; None for auto, none, required or no choice."""
    if choice is None or choice in ("auto", "none", "required"):
        return None
    if not isinstance(choice, Mapping):
        raise BadRequest(f"tool_choice {shown(choice)} is not auto, none, required or a named function", code="invalid_value")
    fn = obj(choice.get("function"), "tool_choice.function", "an object with the function's name")
    return string(fn.get("name"), "tool_choice.function.name")
