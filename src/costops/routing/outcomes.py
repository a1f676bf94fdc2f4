"""Outcome files: what each model scored on each prompt, one JSON object per line.

A row is ``{"id": ..., "prompt": "...", "outcomes": {model: score in [0, 1] or null},
"cost_usd": {model: USD of that call}}``; only ``id`` and ``prompt`` are required, so the same
reader takes the prompt-only files ``costops router choose`` routes. Extra keys (``source``,
``task``...) are ignored. ``null`` means "not measured": the model is unavailable for that row,
never scored as 0. Booleans count as 1 / 0. Errors name the file and line, so a person can fix
the row; blank lines are skipped, and a UTF-8 byte order mark (what some Windows editors write)
is read past. An id that repeats within one file is an error: ``choose`` answers by id, and a
repeated row would also count twice in training. Ids may repeat across files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from costops.routing.errors import OutcomeDataError


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    id: str | int | float
    """As the file spells it (a string or a number), so ``choose`` prints back the id it was given."""
    prompt: str
    outcomes: Mapping[str, float] = field(default_factory=dict)
    """Measured scores only: models whose score was null are left out."""
    cost_usd: Mapping[str, float] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return bool(self.outcomes)


def read_outcomes(paths: str | Path | Iterable[str | Path]) -> list[OutcomeRow]:
    """Every row of one or several files, in order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return [row for path in paths for row in iter_outcomes(path)]


def iter_outcomes(path: str | Path) -> Iterator[OutcomeRow]:
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise OutcomeDataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    seen: dict[str | int | float, int] = {}
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            row = parse_row(raw, where=f"{path}:{lineno}")
            first = seen.setdefault(row.id, lineno)
            if first != lineno:
                raise OutcomeDataError(f"{path}:{lineno}: id {row.id!r} repeats line {first}; give each row its own id")
            yield row


def parse_row(raw: bytes | str, *, where: str) -> OutcomeRow:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if isinstance(raw, bytes):
            try:
                raw.decode()
            except UnicodeDecodeError as bad:
                raise OutcomeDataError(f"{where}: not UTF-8 text (byte 0x{raw[bad.start]:02x} at column {bad.start + 1}); "
                                       f"save the file as UTF-8") from None
        raise OutcomeDataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise OutcomeDataError(f"{where}: a row must be a JSON object, got {type(obj).__name__}")
    if "id" not in obj or obj["id"] is None or isinstance(obj["id"], (dict, list, bool)):
        raise OutcomeDataError(f"{where}: missing 'id' (a string or number naming the row)")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str):
        raise OutcomeDataError(f"{where}: 'prompt' must be a string (the full prompt text), got {_kind(prompt)}")
    return OutcomeRow(
        id=obj["id"],
        prompt=prompt,
        outcomes=_scores(obj.get("outcomes"), where=f"{where}: outcomes", low=0.0, high=1.0),
        cost_usd=_scores(obj.get("cost_usd"), where=f"{where}: cost_usd", low=0.0, high=math.inf),
    )


def _scores(value: Any, *, where: str, low: float, high: float) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OutcomeDataError(f"{where} must be an object {{model: number or null}}, got {_kind(value)}")
    out: dict[str, float] = {}
    for model, score in value.items():
        if score is None:
            continue
        if isinstance(score, bool):
            score = float(score)
        if not isinstance(score, (int, float)) or not math.isfinite(score) or not low <= score <= high:
            bounds = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
            raise OutcomeDataError(f"{where}[{model!r}] = {score!r}: must be a number {bounds} or null")
        out[model] = float(score)
    return out


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
