"""A judge's calibration table: at each score, the precision and recall of serving every pair that
scores at least it, read off labelled pairs; a target precision maps to the score a hit needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Calibration:
    """Acceptance thresholds read off labelled pairs: (threshold, precision, recall), rising thresholds."""

    points: tuple[tuple[float, float, float], ...]
    pairs: int
    source: str

    def threshold_for(self, target_precision: float) -> float:
        """The lowest threshold at and above which precision stays >= the target (1.0: none reaches it)."""
        chosen = 1.0
        for threshold, precision, _ in reversed(self.points):
            if precision < target_precision:
                break
            chosen = threshold
        return chosen


def calibrate(scores: Sequence[float], labels: Sequence[bool], source: str = "") -> Calibration:
    """Precision and recall at each distinct score: serving every pair that scores at least it."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    s = np.asarray(scores, dtype=np.float64)[order]
    y = np.asarray(labels, dtype=bool)[order]
    positives = max(int(y.sum()), 1)
    points = []
    tp = 0
    for i in range(len(s)):
        tp += int(y[i])
        if i + 1 < len(s) and s[i + 1] == s[i]:
            continue
        points.append((round(float(s[i]), 6), round(tp / (i + 1), 6), round(tp / positives, 6)))
    return Calibration(tuple(reversed(points)), len(s), source)
