"""The cross-encoder's input and the shipped ONNX model, tested directly.

The input keeps what differs: a long shared span (a pasted email) is cut to a window of context
next to the difference, so two questions about one context are what the model reads, and a long
prompt costs about what a short one does. The shipped model runs from the package's files alone.
"""

from __future__ import annotations

import pytest

from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.pairmodel import PairModel, clip, pair_input, squeeze, vocab_digest
from costops.cache.semantic.wordpiece import WordPiece


def test_a_long_shared_span_is_cut_to_a_window_next_to_the_difference() -> None:
    shared = list(range(100, 140))
    a, b = shared + [1, 2, 3], shared + [7, 8]
    sa, sb = squeeze(a, b, 4, [0])
    assert sa == [0, 136, 137, 138, 139, 1, 2, 3]  # the gap, the 4 tokens before the question, the question
    assert sb == [0, 136, 137, 138, 139, 7, 8]


def test_a_difference_in_the_middle_keeps_context_on_both_sides() -> None:
    a = list(range(100, 130)) + [1] + list(range(200, 230))
    b = list(range(100, 130)) + [2] + list(range(200, 230))
    sa, sb = squeeze(a, b, 3, [0])
    assert sa == [0, 127, 128, 129, 1, 200, 201, 202, 0]
    assert sb == [0, 127, 128, 129, 2, 200, 201, 202, 0]


def test_short_texts_pass_whole() -> None:
    a, b = [5, 6, 7, 8], [8, 7, 6, 5]
    assert squeeze(a, b, 8, [0]) == (a, b)


def test_clip_keeps_a_quarter_from_the_start_and_the_rest_from_the_end() -> None:
    assert clip(list(range(20)), 8) == [0, 1, 14, 15, 16, 17, 18, 19]
    assert clip([1, 2], 8) == [1, 2]


def test_the_pair_is_cls_a_sep_b_sep_with_segments() -> None:
    ids, types = pair_input([5, 6], [7], cls=101, sep=102, gap=[0], window=8, max_side=64)
    assert ids == [101, 5, 6, 102, 7, 102]
    assert types == [0, 0, 0, 0, 1, 1]


def test_a_model_for_another_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="another WordPiece vocabulary"):
        PairModel(None, {"vocab": vocab_digest(["[UNK]", "x"]), "window": 8, "max_side": 64,
                         "calibration": {"points": [], "pairs": 0, "source": ""}},
                  WordPiece(["[UNK]", "[CLS]", "[SEP]", "y"]))


def test_the_shipped_model_scores_a_probability_from_the_package_files() -> None:
    model = PairModel.load(StaticEmbedder.load().tokenizer)
    same = model.score("How do I reset my password?", "How can I reset my password?")
    other = model.score("How do I reset my password?", "How do I delete my account?")
    assert 0.0 <= other < same <= 1.0
    assert model.score("How do I reset my password?", "How can I reset my password?") == same  # deterministic
    assert model.calibration.pairs > 0 and 0 < model.threshold_for(0.98) <= 1
