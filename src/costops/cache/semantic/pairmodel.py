"""The cross-encoder: P(a cached prompt's answer also answers a new one), read by a small transformer.

A static embedding is a sum of token vectors, blind to word order and to the one word that
changes an answer; hand-made pair features (word alignment, order, ...) reached a ROC AUC of
~0.65 on the adversarial dev split. A cross-encoder reads both texts at once, every token
attending to every other, so "A to B" is not "B to A" and "rsync" is not "scp". This one is
MiniLM (all-MiniLM-L6-v2's first layers, the same uncased WordPiece vocabulary as the static
table), fine-tuned on the dev split's pairs and exported to ONNX, int8-quantized
(``bench/train_cross_encoder.py`` makes ``data/pair-model.onnx`` and ``data/pair-model.json``).

The model sees what differs. Long shared spans (a pasted email, a log) are cut to a window of
context around the parts that differ (:func:`pair_input`), so a long prompt costs about what a
short one does and a different question about the same context is what the model reads.

Run on one intra-op thread (a gateway serves many requests at once; threads would fight), and
only on the top candidates that pass the cosine gate and the exact vetoes (numbers, negation,
periods, units: :func:`judge.vetoed`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from costops.cache.semantic.calibration import Calibration
from costops.cache.semantic.wordpiece import WordPiece

MODEL = "pair-model.onnx"
META = "pair-model.json"
CLS, SEP = "[CLS]", "[SEP]"
GAP = "..."
"""What stands where a shared span was cut out."""


def vocab_digest(vocab: Sequence[str]) -> str:
    """The vocabulary's identity: the model's meta records it, so a table with another vocab is refused."""
    return hashlib.sha256("\n".join(vocab).encode()).hexdigest()[:16]


def squeeze(a: Sequence[int], b: Sequence[int], window: int, gap: Sequence[int]) -> tuple[list[int], list[int]]:
    """Both token lists with each shared run longer than two windows cut to ``window`` tokens of
    context on the side(s) where the texts differ (and ``gap`` where the middle was): a shared
    pasted context shrinks to the words next to the question, which is what tells two questions apart."""
    blocks = [m for m in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size]
    out_a: list[int] = []
    out_b: list[int] = []
    ia = ib = 0
    for m in blocks:
        out_a.extend(a[ia:m.a])
        out_b.extend(b[ib:m.b])
        run = list(a[m.a:m.a + m.size])
        starts = m.a == 0 and m.b == 0
        ends = m.a + m.size == len(a) and m.b + m.size == len(b)
        head = 0 if starts else window
        tail = 0 if ends else window
        if len(run) > head + tail + len(gap):
            run = run[:head] + list(gap) + (run[len(run) - tail:] if tail else [])
        out_a.extend(run)
        out_b.extend(run)
        ia, ib = m.a + m.size, m.b + m.size
    out_a.extend(a[ia:])
    out_b.extend(b[ib:])
    return out_a, out_b


def clip(ids: list[int], most: int) -> list[int]:
    """At most ``most`` tokens: a quarter from the start, the rest from the end (a question after a
    pasted context comes last)."""
    if len(ids) <= most:
        return ids
    head = most // 4
    return ids[:head] + ids[len(ids) - (most - head):]


def pair_input(a: Sequence[int], b: Sequence[int], *, cls: int, sep: int, gap: Sequence[int], window: int,
               max_side: int) -> tuple[list[int], list[int]]:
    """The model's input ids and segment ids for the pair (cached ``a``, new ``b``)."""
    sa, sb = squeeze(a, b, window, gap)
    sa, sb = clip(sa, max_side), clip(sb, max_side)
    ids = [cls, *sa, sep, *sb, sep]
    return ids, [0] * (len(sa) + 2) + [1] * (len(sb) + 1)


def special_ids(tokenizer: WordPiece) -> tuple[int, int, list[int]]:
    """[CLS], [SEP] and the gap's ids in the tokenizer's vocabulary."""
    return tokenizer.index[CLS], tokenizer.index[SEP], tokenizer.ids(GAP)


class PairModel:
    """The exported cross-encoder with its input settings and calibration table."""

    def __init__(self, session: Any, meta: dict[str, Any], tokenizer: WordPiece) -> None:
        self.session = session
        self.meta = meta
        self.tokenizer = tokenizer
        if meta["vocab"] != vocab_digest(tokenizer.vocab):
            raise ValueError("the pair model was trained with another WordPiece vocabulary than the embedder's")
        self.cls, self.sep, self.gap = special_ids(tokenizer)
        self.window = int(meta["window"])
        self.max_side = int(meta["max_side"])
        cal = meta["calibration"]
        self.calibration = Calibration(tuple(tuple(p) for p in cal["points"]), cal["pairs"], cal["source"])  # type: ignore[misc]
        self._names = [i.name for i in session.get_inputs()]

    @classmethod
    def load(cls, tokenizer: WordPiece, path: str | Path | None = None) -> PairModel:
        """The shipped model (``data/pair-model.onnx``), or one at ``path`` with its ``.json`` beside it."""
        if path is None:
            with resources.as_file(resources.files("costops.cache.semantic") / "data" / MODEL) as p:
                return cls._load(p, tokenizer)
        return cls._load(Path(path), tokenizer)

    @classmethod
    def _load(cls, path: Path, tokenizer: WordPiece) -> PairModel:
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(_session(str(path.resolve())), meta, tokenizer)

    def inputs(self, a_ids: Sequence[int], b_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        return pair_input(a_ids, b_ids, cls=self.cls, sep=self.sep, gap=self.gap, window=self.window,
                          max_side=self.max_side)

    def score_ids(self, a_ids: Sequence[int], b_ids: Sequence[int]) -> float:
        """P(same answer) for two token lists (cached first): one model pass."""
        ids, types = self.inputs(a_ids, b_ids)
        x = np.asarray([ids], dtype=np.int64)
        feed = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.asarray([types], np.int64)}
        (logit,) = self.session.run(None, {n: feed[n] for n in self._names})
        return float(1.0 / (1.0 + np.exp(-float(np.ravel(logit)[0]))))

    def score(self, cached: str, query: str) -> float:
        return self.score_ids(self.tokenizer.ids(cached), self.tokenizer.ids(query))

    def threshold_for(self, target_precision: float) -> float:
        return self.calibration.threshold_for(target_precision)


@lru_cache(maxsize=4)
def _session(path: str) -> Any:
    """One inference session per model file per process, on one thread: onnxruntime's run() may be
    called from several threads at once, and a gateway's requests are its parallelism."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
