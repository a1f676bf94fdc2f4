"""The semantic cache's entries and one approximate-nearest-neighbour index per scope (usearch
HNSW, cosine), bounded in entries, with TTLs, saved to and loaded from a directory.

On disk (``index_path``): ``entries.jsonl`` (one entry a line, the answer included) and one
``<scope>.usearch`` per scope. Files are written to a temporary name and renamed, so a crash
mid-save leaves the previous save. If a scope's index file is missing or does not match the
entries, it is rebuilt from their texts (embedding is cheap), so the entries file is the truth.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from costops.cache.semantic.verify import Facts, facts
from costops.cache.tiers import Selector

log = logging.getLogger("costops.cache.semantic")
ENTRIES_FILE = "entries.jsonl"


@dataclass(slots=True)
class Entry:
    id: str
    """Unique across replicas (origin + counter), so a shared entry is ingested once."""
    scope: str
    text: str
    body: bytes
    """The answer as the client API's JSON response."""
    usage: dict[str, Any]
    created: float
    expires: float
    namespace: str = ""
    model: str = ""
    """The namespace and requested model it was stored under: what an invalidation selects by."""
    key: int = -1
    """The index's integer key (local to this process)."""
    facts: Facts | None = field(default=None, repr=False)
    judged: Any = field(default=None, repr=False)
    """The cross-encoder judge's reading of ``text`` (its token ids), kept from the entry's first
    judging: tokenizing a long cached prompt again on every lookup was most of a hit's cost."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "scope": self.scope, "text": self.text, "body": self.body.decode(),
                "usage": self.usage, "created": self.created, "expires": self.expires,
                "namespace": self.namespace, "model": self.model}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(str(data["id"]), str(data["scope"]), str(data["text"]), str(data["body"]).encode(),
                   dict(data["usage"]), float(data["created"]), float(data["expires"]),
                   str(data.get("namespace", "")), str(data.get("model", "")))


@dataclass(frozen=True, slots=True)
class Neighbour:
    entry: Entry
    similarity: float


class SemanticIndex:
    def __init__(self, dims: int, embed: Callable[[str], np.ndarray], max_entries: int, clock: Callable[[], float]) -> None:
        self.dims, self.embed, self.max_entries, self.clock = dims, embed, max_entries, clock
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        """Oldest first: the order of eviction."""
        self._by_key: dict[int, Entry] = {}
        self._indexes: dict[str, Any] = {}
        self._next_key = 0
        self.dirty = False

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self.entries

    # -- lookup and store -------------------------------------------------------------------------

    def search(self, scope: str, vector: np.ndarray, k: int = 4) -> list[Neighbour]:
        """The ``k`` nearest live entries of the scope, most similar first."""
        index = self._indexes.get(scope)
        if index is None or len(index) == 0:
            return []
        matches = index.search(vector, min(k, len(index)))
        now = self.clock()
        out = []
        for key, distance in zip(matches.keys, matches.distances, strict=True):
            entry = self._by_key.get(int(key))
            if entry is None:
                continue
            if entry.expires <= now:
                self.remove(entry.id)
                continue
            out.append(Neighbour(entry, 1.0 - float(distance)))
        return out

    def add(self, entry: Entry, vector: np.ndarray | None = None) -> None:
        if entry.id in self.entries:
            return
        if vector is None:
            vector = self.embed(entry.text)
        while len(self.entries) >= self.max_entries:
            self.remove(next(iter(self.entries)))
        entry.key = self._next_key
        self._next_key += 1
        self._index(entry.scope).add(entry.key, np.asarray(vector, dtype=np.float32))
        self.entries[entry.id] = entry
        self._by_key[entry.key] = entry
        self.dirty = True

    def add_many(self, scope: str, entries: list[Entry], vectors: np.ndarray) -> None:
        """Many new entries of one scope at once (usearch adds a batch on all cores)."""
        fresh = [(e, v) for e, v in zip(entries, vectors, strict=True) if e.id not in self.entries]
        if not fresh:
            return
        while len(self.entries) + len(fresh) > self.max_entries and self.entries:
            self.remove(next(iter(self.entries)))
        fresh = fresh[-self.max_entries :]
        keys = np.arange(self._next_key, self._next_key + len(fresh), dtype=np.uint64)
        self._next_key += len(fresh)
        for (entry, _), key in zip(fresh, keys, strict=True):
            entry.scope, entry.key = scope, int(key)
            self.entries[entry.id] = entry
            self._by_key[entry.key] = entry
        self._index(scope).add(keys, np.stack([v for _, v in fresh]).astype(np.float32))
        self.dirty = True

    def facts_of(self, entry: Entry) -> Facts:
        if entry.facts is None:
            entry.facts = facts(entry.text)
        return entry.facts

    def remove(self, entry_id: str) -> None:
        entry = self.entries.pop(entry_id, None)
        if entry is None:
            return
        self._by_key.pop(entry.key, None)
        index = self._indexes.get(entry.scope)
        if index is not None:
            index.remove(entry.key)
            if len(index) == 0:
                del self._indexes[entry.scope]
        self.dirty = True

    def invalidate(self, selector: Selector) -> int:
        """Remove the entries an exact-cache selector names (namespace, model glob, key pattern
        over ``namespace|model|id``), so one invalidation clears both caches alike."""
        from costops.cache.keys import escape

        dead = [e.id for e in self.entries.values() if selector.matches(f"{escape(e.namespace)}|{e.model}|{e.id}")]
        for entry_id in dead:
            self.remove(entry_id)
        return len(dead)

    def expire(self) -> int:
        now = self.clock()
        dead = [e.id for e in self.entries.values() if e.expires <= now]
        for entry_id in dead:
            self.remove(entry_id)
        return len(dead)

    def clear(self) -> None:
        self.entries.clear()
        self._by_key.clear()
        self._indexes.clear()
        self.dirty = True

    def _index(self, scope: str) -> Any:
        index = self._indexes.get(scope)
        if index is None:
            Index = _usearch_index()
            index = self._indexes[scope] = Index(ndim=self.dims, metric="cos", dtype="f32")
        return index

    def scopes(self) -> Iterator[tuple[str, Any]]:
        return iter(self._indexes.items())

    # -- persistence ------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write every scope's index and the entries (with each entry's index key)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        live = set()
        for scope, index in list(self._indexes.items()):
            target = path / f"{scope}.usearch"
            tmp = target.with_suffix(".usearch.tmp")
            index.save(str(tmp))
            os.replace(tmp, target)
            live.add(target.name)
        tmp = path / (ENTRIES_FILE + ".tmp")
        with tmp.open("wb") as f:
            for entry in self.entries.values():
                f.write(orjson.dumps({**entry.to_json(), "key": entry.key}) + b"\n")
        os.replace(tmp, path / ENTRIES_FILE)
        for stale in path.glob("*.usearch"):
            if stale.name not in live:
                stale.unlink(missing_ok=True)
        self.dirty = False

    def load(self, directory: str | os.PathLike[str]) -> int:
        """Entries and indexes saved by :meth:`save`; expired entries are dropped. Returns the count."""
        Index = _usearch_index()

        path = Path(directory)
        entries_file = path / ENTRIES_FILE
        if not entries_file.exists():
            return 0
        now = self.clock()
        by_scope: dict[str, list[Entry]] = {}
        for line in entries_file.read_bytes().splitlines():
            if not line.strip():
                continue
            data = orjson.loads(line)
            entry = Entry.from_json(data)
            entry.key = int(data.get("key", -1))
            by_scope.setdefault(entry.scope, []).append(entry)
        self._next_key = max(self._next_key, max((e.key for es in by_scope.values() for e in es), default=-1) + 1)
        for scope, entries in by_scope.items():
            index = None
            file = path / f"{scope}.usearch"
            if file.exists():
                try:
                    index = Index.restore(str(file))
                except Exception as exc:  # a damaged file: rebuild the scope from its texts
                    log.warning("semantic cache: %s is unreadable (%s); rebuilding it", file, exc)
            keys = {e.key for e in entries}
            if index is None or index.ndim != self.dims or len(index) != len(entries) or not all(k in index for k in keys):
                index = None
            if index is not None:
                self._indexes[scope] = index
                for entry in entries:
                    self.entries[entry.id] = entry
                    self._by_key[entry.key] = entry
            else:
                self.add_many(scope, entries, np.stack([self.embed(e.text) for e in entries]))
        # keep the eviction order: oldest first
        self.entries = OrderedDict(sorted(self.entries.items(), key=lambda kv: kv[1].created))
        dropped = sum(1 for e in list(self.entries.values()) if e.expires <= now)
        self.expire()
        while len(self.entries) > self.max_entries:
            self.remove(next(iter(self.entries)))
        self.dirty = dropped > 0
        return len(self.entries)


def _usearch_index() -> Any:
    """usearch's Index class, with onnxruntime (the cross-encoder's runtime) loaded first when it is
    installed: importing onnxruntime 1.32 after usearch 2.26's extension crashes the process (a
    segfault in libstdc++), the other order is fine."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401

    from usearch.index import Index

    return Index
