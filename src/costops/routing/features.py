"""What the router sees of a prompt: one dense vector and one sparse bag of word pieces.

- dense: the semantic cache's static embedding (128 dims; the same table, so one copy in
  memory) and cheap features: length in tokens, characters, lines, digits and numbers, code and
  math markers, multiple-choice options, and which question words occur ("calculate", "prove",
  "write", "not", "except"...). Length and digits tell a hard arithmetic item from a lookup; the
  embedding tells the subject.
- sparse: WordPiece unigrams and hashed bigrams (log counts, L2-normalized). Which model fails
  where is often carried by a phrase ("which of the following is NOT", "Statement 1 |") that an
  averaged embedding blurs; a linear model over the bag picks such phrases out.

Both come from one WordPiece pass (the embedder's own tokenizer), so featurizing a 200-token
prompt costs a few hundred microseconds. The prompt's token count (o200k, one count for every
model) is returned too: the cost model prices input with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from costops.cache.semantic.embedder import StaticEmbedder
from costops.tokens import TokenCounter

FEATURES_VERSION = "costops-router-features/1"
BUCKETS = 1 << 18
"""Sparse dimension: unigram ids keep their own slot (the vocabulary is 30,522); bigrams hash
into the rest."""
TOKEN_ENCODING_MODEL = "gpt-4o"

_QUESTION_WORDS = (
    "what", "why", "how", "which", "who", "when", "where", "calculate", "compute", "find", "solve",
    "prove", "explain", "describe", "write", "list", "summarize", "translate", "compare", "create",
    "generate", "suggest", "not", "except",
)
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CODE = re.compile(
    r"```|^\s*(?:def|class|import|from|return|#include|function|public|var|let|const|SELECT)\b|[{};]\s*$",
    re.M,
)
_MATH = re.compile(r"\\frac|\\sqrt|\^|\$|[=<>≤≥]|\d\s*[-+*/×÷]\s*\d")
_OPTION = re.compile(r"^\s*\(?[A-J][.)]\s", re.M)
_UPPER = re.compile(r"[A-Z]")
_WORD = re.compile(r"[a-z]+")

CHEAP_FEATURES = (
    "log_tokens", "log_chars", "log_lines", "digit_share", "log_numbers", "log_code_markers",
    "log_math_markers", "options", "upper_share", "ends_question", "ends_colon", "empty",
    *(f"word_{w}" for w in _QUESTION_WORDS),
)


@dataclass(frozen=True, slots=True)
class Sparse:
    """Rows of a sparse matrix (CSR): row i holds ``indices[indptr[i]:indptr[i+1]]``."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: np.ndarray) -> Sparse:
        lens = np.diff(self.indptr)[rows]
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        pick = np.repeat(self.indptr[rows] - indptr[:-1], lens) + np.arange(indptr[-1], dtype=np.int64)
        return Sparse(indptr, self.indices[pick], self.values[pick])


@dataclass(frozen=True, slots=True)
class Features:
    dense: np.ndarray  # (n, d) float32
    sparse: Sparse
    tokens: np.ndarray  # (n,) int64: prompt tokens

    def take(self, rows: np.ndarray) -> Features:
        return Features(self.dense[rows], self.sparse.take(rows), self.tokens[rows])


class Featurizer:
    def __init__(self, embedder: StaticEmbedder | None = None, counter: TokenCounter | None = None) -> None:
        self.embedder = embedder or StaticEmbedder.load()
        self.counter = counter or TokenCounter(TOKEN_ENCODING_MODEL)
        self.dims = self.embedder.dims + len(CHEAP_FEATURES)

    def describe(self) -> dict[str, Any]:
        """Stored with a router: a router trained on other features must not be fed these."""
        return {
            "version": FEATURES_VERSION,
            "embedding": self.embedder.name,
            "embedding_dims": self.embedder.dims,
            "embedding_source": self.embedder.meta.get("source"),
            "cheap": list(CHEAP_FEATURES),
            "sparse_buckets": BUCKETS,
            "prompt_tokens": f"o200k_base ({TOKEN_ENCODING_MODEL}), one count for every model",
        }

    def one(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(dense vector, sparse indices, sparse values, prompt tokens) of one prompt."""
        ids = np.asarray(self.embedder.tokenizer.ids(text), dtype=np.int64)
        tokens = self.counter.count(text) if text else 0
        dense = np.empty(self.dims, dtype=np.float32)
        e = self.embedder.dims
        if len(ids):  # the embedder's own recipe (normalized sum of rows), from the ids we already have
            v = self.embedder.table[ids].sum(axis=0)
            norm = float(np.linalg.norm(v))
            dense[:e] = v / norm if norm > 0 else v
        else:
            dense[:e] = 0.0
        dense[e:] = _cheap(text, tokens)
        if len(ids) > 1:
            bigrams = len(self.embedder.tokenizer.vocab) + ((ids[:-1] * 1_000_003 + ids[1:]) * 2_654_435_761) % (
                BUCKETS - len(self.embedder.tokenizer.vocab)
            )
            grams = np.concatenate([ids, bigrams])
        else:
            grams = ids
        idx, counts = np.unique(grams, return_counts=True)
        vals = np.log1p(counts).astype(np.float32)
        if len(vals):
            vals /= float(np.linalg.norm(vals))
        return dense, idx, vals, tokens

    def many(self, texts: list[str]) -> Features:
        n = len(texts)
        dense = np.zeros((n, self.dims), dtype=np.float32)
        tokens = np.zeros(n, dtype=np.int64)
        idx_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []
        indptr = np.zeros(n + 1, dtype=np.int64)
        for i, text in enumerate(texts):
            dense[i], idx, vals, tokens[i] = self.one(text)
            idx_parts.append(idx)
            val_parts.append(vals)
            indptr[i + 1] = indptr[i] + len(idx)
        indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
        values = np.concatenate(val_parts) if val_parts else np.zeros(0, np.float32)
        return Features(dense, Sparse(indptr, indices.astype(np.int64), values.astype(np.float32)), tokens)


def _cheap(text: str, tokens: int) -> list[float]:
    chars = len(text)
    lower = text.lower()
    words = set(_WORD.findall(lower))
    stripped = text.rstrip()
    return [
        np.log1p(tokens),
        np.log1p(chars),
        np.log1p(text.count("\n")),
        len(_DIGIT.findall(text)) / chars if chars else 0.0,
        np.log1p(len(_NUMBER.findall(text))),
        np.log1p(len(_CODE.findall(text))),
        np.log1p(len(_MATH.findall(text))),
        len(_OPTION.findall(text)) / 10.0,
        len(_UPPER.findall(text)) / chars if chars else 0.0,
        float(stripped.endswith("?")),
        float(stripped.endswith(":")),
        float(not stripped),
        *(float(w in words) for w in _QUESTION_WORDS),
    ]
