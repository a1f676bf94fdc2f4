"""A static embedding: all-MiniLM-L6-v2 distilled into one vector per WordPiece token.

A text's embedding is the normalized sum of its tokens' rows (each row already carries its SIF
weight, so frequent words count little). No model runs at query time: a 200-token prompt is a
tokenizer pass and one numpy gather, tens of microseconds. The table is made by
``bench/make_static_embeddings.py`` (which says how) and shipped in ``data/``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from costops.cache.semantic.wordpiece import WordPiece

DEFAULT_TABLE = "minilm-static.npz"


class StaticEmbedder:
    name = "minilm-static"

    def __init__(self, vocab: list[str], table: np.ndarray, meta: dict[str, Any] | None = None) -> None:
        self.tokenizer = WordPiece(vocab)
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.dims = int(table.shape[1])
        self.meta = meta or {}
        self._zero = np.zeros(self.dims, dtype=np.float32)

    @classmethod
    def load(cls, path: str | Path | None = None) -> StaticEmbedder:
        """The shipped table, or one at ``path`` (same format)."""
        if path is None:
            with resources.as_file(resources.files("costops.cache.semantic") / "data" / DEFAULT_TABLE) as p:
                return cls._from_npz(p)
        return cls._from_npz(Path(path))

    @classmethod
    def _from_npz(cls, path: Path) -> StaticEmbedder:
        vocab, table, meta = _read_table(str(path.resolve()))
        return cls(list(vocab), table, meta)

    def embed(self, text: str) -> np.ndarray:
        """Unit vector (float32); all zeros for a text with no known token."""
        ids = self.tokenizer.ids(text)
        if not ids:
            return self._zero.copy()
        v = self.table[ids].sum(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else v

    def embed_many(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.embed(t) for t in texts]) if texts else np.zeros((0, self.dims), np.float32)

    def word_vector(self, word: str) -> np.ndarray:
        """A lower-cased word's unit vector (the sum of its pieces), for the verifier's alignment."""
        ids = self.tokenizer.word_ids(word)
        v = self.table[list(ids)].sum(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else v


@lru_cache(maxsize=4)
def _read_table(path: str) -> tuple[tuple[str, ...], np.ndarray, dict[str, Any]]:
    """Read once per process: every gateway (and test) in it shares the same read-only table."""
    with np.load(path) as data:
        vocab = tuple(str(data["vocab"]).split("\n"))
        table = data["vectors"].astype(np.float32) * data["scales"].astype(np.float32)[:, None]
        meta = json.loads(str(data["meta"]))
    table.setflags(write=False)
    return vocab, table, meta
