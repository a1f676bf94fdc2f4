"""The held-out comparison row that bench/train_cross_encoder.py prints for a model (bench/README's
tables of models on the held-out dev bases): AUC with ties, percentiles, recall at each target."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from costops.cache.semantic.calibration import calibrate

_spec = importlib.util.spec_from_file_location(
    "train_cross_encoder", Path(__file__).parent.parent / "bench" / "train_cross_encoder.py")
assert _spec and _spec.loader
tce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tce)


def test_the_row_counts_ties_half_and_reads_recall_off_the_calibration() -> None:
    # hits 0.9, 0.8, 0.5; misses 0.85, 0.5, 0.1: of 9 (hit, miss) pairs a hit outscores 6, ties 1
    scores = [0.9, 0.85, 0.8, 0.5, 0.5, 0.1]
    labels = [True, False, True, True, False, False]
    row = tce.held_out_row(scores, labels, calibrate(scores, labels))
    assert row.startswith("ROC AUC 0.722 | hit median 0.800 | ")
    # precision from the top: 1.0 at 0.9, then 0.5 at 0.85, so every target stops at 0.9 (recall 1/3)
    assert row.endswith("recall at target 0.9 / 0.95 / 0.98 / 0.99: 0.333 / 0.333 / 0.333 / 0.333")


def test_a_perfect_ranking_has_auc_one_and_full_recall_at_every_target() -> None:
    scores = [0.99, 0.98, 0.2, 0.1]
    labels = [True, True, False, False]
    row = tce.held_out_row(scores, labels, calibrate(scores, labels))
    assert row.startswith("ROC AUC 1.000 | hit median 0.985 | ")
    assert row.endswith(": 1.000 / 1.000 / 1.000 / 1.000")
