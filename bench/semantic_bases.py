"""The shapes the semantic evaluation set's hand-written bases are written in
(``semantic_bases_short.py``, ``semantic_bases_long.py``); ``make_semantic_pairs.py`` fills their
slots and derives the pairs."""

from __future__ import annotations

from dataclasses import dataclass, field

SLOT_KINDS = ("entity", "number", "unit", "scope", "fixed")


@dataclass(frozen=True)
class Pool:
    """Values a slot takes. ``groups``: a value and its replacements come from one group (units
    of one dimension, scopes of one axis); ``kind`` is the miss kind a replacement makes
    (``fixed``: the slot varies between instances but is never replaced to make a miss)."""

    kind: str
    groups: tuple[tuple[str, ...], ...]


def pool(kind: str, *values: str | list[str] | tuple[str, ...]) -> Pool:
    assert kind in SLOT_KINDS, kind
    flat = [v for v in values if isinstance(v, str)]
    groups = [tuple(v) for v in values if not isinstance(v, str)]
    if flat:
        groups.append(tuple(flat))
    return Pool(kind, tuple(groups))


@dataclass
class Short:
    """One hand-written short prompt ``q`` with its paraphrases (``hits``) and near-misses
    (``misses``), each ``(kind, template)``. ``swap`` names two slots whose values exchanged make a
    ``direction`` miss, or a ``reordered`` hit when ``symmetric``."""

    domain: str
    id: str
    q: str
    hits: list[tuple[str, str]]
    misses: list[tuple[str, str]] = field(default_factory=list)
    slots: dict[str, Pool] = field(default_factory=dict)
    swap: tuple[str, str] | None = None
    symmetric: bool = False


@dataclass
class Question:
    """A question about a pasted text; ``uses``: the text's slots its answer depends on."""

    q: str
    hits: list[tuple[str, str]]
    uses: tuple[str, ...] = ()


@dataclass
class Context:
    """A long prompt: an ``intro`` line, a pasted ``text`` (email, log, order, essay, code) with
    slots, and several questions about it."""

    domain: str
    id: str
    doc: str
    intro: str
    text: str
    questions: list[Question]
    slots: dict[str, Pool] = field(default_factory=dict)
