"""Values shared by the three API shapers and the app: the request error, prompt usage, reply
metadata, and how an answer's text is cut into stream chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class SimError(Exception):
    """A request the simulated API refuses; each API renders it in its own error shape."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class PromptUsage:
    total: int
    """Every prompt token, however billed."""
    cached: int = 0
    write_5m: int = 0
    write_1h: int = 0

    @property
    def uncached(self) -> int:
        return self.total - self.cached - self.write_5m - self.write_1h


@dataclass(frozen=True, slots=True)
class Meta:
    id: str
    created: int
    model: str


_PIECE = re.compile(r"\s*\S+(?:\s*\S+){0,2}|\s+")


def pieces(text: str) -> list[str]:
    """Stream chunks of about three words (a few tokens each), whitespace kept, never empty."""
    return _PIECE.findall(text) or [""]


def require(body: dict[str, Any], name: str, kind: type | tuple[type, ...], message: str) -> Any:
    value = body.get(name)
    if value is None or not isinstance(value, kind) or (isinstance(value, (list, str)) and not value):
        raise SimError(400, message, name)
    return value


def snippet(text: str) -> str:
    """Where the task is read from: the start and the end of a message (instructions sit there)."""
    return text if len(text) <= 3000 else text[:2000] + "\n" + text[-1000:]


def list_or_empty(value: Any, name: str) -> list[Any]:
    """An optional array field: absent is empty; anything but an array is the API's 400."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SimError(400, f"Invalid type for '{name}': expected an array, but got {type(value).__name__} instead.", name)
    return value


def int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SimError(400, f"Invalid '{name}': expected an integer >= 1, got {value!r}.", name)
    return value
