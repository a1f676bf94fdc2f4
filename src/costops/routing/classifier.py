"""P(good | prompt) for every candidate model at once: logistic heads over shared features.

    logit[i, m] = dense[i] · W[:, m] + b[m] + (sparse[i] · A) · B[:, m]

One logistic regression per model over the standardized dense features (embedding + cheap
features), plus a bag-of-word-pieces part that is shared through a rank-``k`` bottleneck
(``A``: buckets × k, ``B``: k × models) when there are more models than ``k``: which phrases
make a prompt hard is largely the same for every model, and the bottleneck keeps training cost
at ``k`` (not ``models``) passes over the sparse data. With ``models <= k`` the sparse part is a
plain per-model weight (``B`` is the identity).

Targets may be fractional (a preference probability): the loss is the cross-entropy against the
score, so the prediction is the expected score. Missing outcomes are masked out, and each
model's loss is averaged over its own rows, so a model measured on fewer prompts is not drowned.
Trained full-batch with Adam; L2 on every weight but the biases. Pure NumPy: the problem is a
few hundred dense columns and a sparse bag, so no extra dependency earns its place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costops.routing.features import BUCKETS, Features, Sparse


@dataclass(frozen=True, slots=True)
class Hyper:
    """Defaults from bench/routing_eval.py's dev splits: this L2 was the best or within 0.1 point
    of it on all three files (the penalty is ``l2 / rows``, so a small training set leans on the
    prior more: a few hundred rows learn only a sharp signal)."""

    l2_dense: float = 1000.0
    l2_sparse: float = 30.0
    rank: int = 8
    iterations: int = 250
    min_prompts: int = 3
    """A word piece or bigram seen in fewer training prompts gets no weight: it cannot generalize,
    and dropping the rare ones (most bigrams) halves the training time."""
    learning_rate: float = 0.05
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Heads:
    mean: np.ndarray  # (d,) standardization of the dense features
    scale: np.ndarray  # (d,)
    W: np.ndarray  # (d, M)
    b: np.ndarray  # (M,)
    A: np.ndarray  # (k, BUCKETS): stored transposed, one contiguous row per factor
    B: np.ndarray  # (k, M)

    @property
    def models(self) -> int:
        return int(self.b.shape[0])

    def logits(self, f: Features) -> np.ndarray:
        Z = ((f.dense - self.mean) / self.scale) @ self.W + self.b
        return Z + _sparse_times(f.sparse, self.A) @ self.B

    def predict(self, f: Features) -> np.ndarray:
        return _sigmoid(self.logits(f))

    def predict_one(self, dense: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """The request path's form: one prompt, no CSR built."""
        z = ((dense - self.mean) / self.scale) @ self.W + self.b
        if len(idx):
            z = z + (self.A[:, idx] @ vals) @ self.B
        return _sigmoid(z)

    def arrays(self) -> dict[str, np.ndarray]:
        """For storage: ``A`` as its non-zero columns (a few percent of the buckets) and their ids."""
        cols = np.flatnonzero(np.any(self.A != 0, axis=0))
        return {"mean": self.mean, "scale": self.scale, "W": self.W, "b": self.b,
                "A_columns": cols, "A_values": self.A[:, cols], "B": self.B}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Heads:
        get = {k: np.ascontiguousarray(a[k], dtype=np.float32) for k in ("mean", "scale", "W", "b", "A_values", "B")}
        A = np.zeros((get["B"].shape[0], BUCKETS), np.float32)
        A[:, np.asarray(a["A_columns"], dtype=np.int64)] = get["A_values"]
        return cls(get["mean"], get["scale"], get["W"], get["b"], A, get["B"])


def fit(f: Features, Y: np.ndarray, hyper: Hyper | None = None) -> Heads:
    """``Y``: (n, M) scores in [0, 1], NaN where not measured."""
    hyper = hyper or Hyper()
    n, M = Y.shape
    mask = ~np.isnan(Y)
    Yz = np.where(mask, Y, 0.0).astype(np.float32)
    weight = (mask / np.maximum(mask.sum(axis=0), 1)).astype(np.float32)  # each model's mean loss
    mean = f.dense.mean(axis=0)
    scale = f.dense.std(axis=0) + 1e-4
    X = ((f.dense - mean) / scale).astype(np.float32)
    rng = np.random.default_rng(hyper.seed)
    low_rank = M > hyper.rank
    k = hyper.rank if low_rank else M
    s, used = _compact(f.sparse, hyper.min_prompts)
    prior = np.clip(np.nanmean(np.where(mask, Y, np.nan), axis=0) if n else np.full(M, 0.5), 0.02, 0.98)
    params = {
        "W": np.zeros((X.shape[1], M), np.float32),
        "b": np.log(prior / (1 - prior)).astype(np.float32),
        "A": (rng.standard_normal((k, len(used))) * 0.01).astype(np.float32) if low_rank
        else np.zeros((k, len(used)), np.float32),
        "B": (rng.standard_normal((k, M)) / np.sqrt(k)).astype(np.float32) if low_rank else np.eye(M, dtype=np.float32),
    }
    rows = np.repeat(np.arange(n), np.diff(s.indptr))
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    ld, ls = hyper.l2_dense / max(n, 1), hyper.l2_sparse / max(n, 1)
    for t in range(1, hyper.iterations + 1):
        W, b, A, B = params["W"], params["b"], params["A"], params["B"]
        H = _sparse_times(s, A)  # (n, k)
        R = (_sigmoid(X @ W + b + H @ B) - Yz) * weight
        G = R @ B.T  # (n, k): gradient reaching the sparse factors
        grads = {
            "W": X.T @ R + ld * W,
            "b": R.sum(axis=0),
            "A": _sparse_transpose_times(s, rows, G, len(used)) + ls * A,
        }
        if low_rank:
            grads["B"] = H.T @ R + ls * B
        for name, g in grads.items():
            m, v = moments[name]
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            params[name] -= hyper.learning_rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    A_full = np.zeros((k, BUCKETS), np.float32)
    A_full[:, used] = params["A"]
    params["A"] = A_full
    return Heads(mean.astype(np.float32), scale.astype(np.float32), params["W"], params["b"], params["A"], params["B"])


def _compact(sparse: Sparse, min_prompts: int) -> tuple[Sparse, np.ndarray]:
    """The bag restricted to buckets in at least ``min_prompts`` rows, renumbered 0..U-1; and
    the kept buckets' ids. Training touches only these; every other bucket's weight stays 0."""
    df = np.bincount(sparse.indices, minlength=BUCKETS)  # per-row indices are unique
    keep = df[sparse.indices] >= min_prompts
    row_of = np.repeat(np.arange(sparse.rows), np.diff(sparse.indptr))[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=sparse.rows))]).astype(np.int64)
    used, local = np.unique(sparse.indices[keep], return_inverse=True)
    return Sparse(indptr, local.astype(np.int64), sparse.values[keep]), used


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _sparse_times(s: Sparse, A: np.ndarray) -> np.ndarray:
    """(n, BUCKETS) sparse times A.T (A is k × BUCKETS): (n, k)."""
    n, k = s.rows, A.shape[0]
    out = np.zeros((n, k), np.float32)
    nnz = len(s.indices)
    if nnz == 0:
        return out
    nonempty = np.diff(s.indptr) > 0
    starts = s.indptr[:-1][nonempty]
    for j in range(k):
        out[nonempty, j] = np.add.reduceat(s.values * A[j, s.indices], starts)
    return out


def _sparse_transpose_times(s: Sparse, rows: np.ndarray, G: np.ndarray, width: int) -> np.ndarray:
    """sparse.T @ G, returned transposed like A: (k, width)."""
    k = G.shape[1]
    out = np.empty((k, width), np.float32)
    Gt = np.ascontiguousarray(G.T, dtype=np.float64)  # one contiguous row per factor: fast gathers
    values = s.values.astype(np.float64)
    for j in range(k):
        out[j] = np.bincount(s.indices, weights=values * Gt[j][rows], minlength=width)
    return out
