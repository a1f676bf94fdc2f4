"""Generate the semantic cache's evaluation set: ``bench/data/semantic_pairs/{dev,test}.jsonl``.

Each row is a pair ``{a, b, label, kind, domain, base, long}``: ``a`` is the prompt whose answer
the cache holds, ``b`` the new prompt, ``label`` ``hit`` when ``a``'s answer is a right answer to
``b`` and ``miss`` when ``b`` needs another answer. ``kind`` says how ``b`` differs:

* hits: ``reworded``, ``reordered`` (clauses or a symmetric pair swapped, a converse comparison),
  ``typo``, ``formality``, ``synonym``, ``chitchat`` (greetings, thanks, asides), ``passive``;
* misses: ``number``, ``entity``, ``negation``, ``scope``, ``direction`` (from/to, two roles or two
  multi-word names swapped), ``unit``, ``opposite`` (pros/cons, +/-, increase/decrease...),
  ``context_question`` (another question about the same pasted text).

Written to be hard for a cache's judge, not to fit one: paraphrases change many words (and add
names, asides and typos), near-misses change one small thing and are often paired with a
paraphrase of the cached prompt rather than the prompt itself, a symmetric swap ("distance
between A and B") is a hit while a directed one is a miss, and long prompts paste an email, a
log, an order, an essay, code... where only the question, or one detail of the pasted text,
changes. The hand-written bases are in ``semantic_bases_short.py`` and ``semantic_bases_long.py``;
this module fills their slots and derives the pairs, seeded, so the output is the same on every
run. The split is by base (a base's pairs are all in dev or all in test), alternating within each
domain in an order fixed by a hash of the base's id: dev is for tuning, test only for reported
figures.

    .venv/bin/python bench/make_semantic_pairs.py            # writes the two files, prints counts
    .venv/bin/python bench/make_semantic_pairs.py --check    # fails if the files are out of date
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import zlib
from collections import Counter
from pathlib import Path

from semantic_bases import Context, Pool, Short
from semantic_bases_long import CONTEXTS
from semantic_bases_short import SHORTS

OUT = Path(__file__).parent / "data" / "semantic_pairs"
HIT_KINDS = ("reworded", "reordered", "typo", "formality", "synonym", "chitchat", "passive")
MISS_KINDS = ("number", "entity", "negation", "scope", "direction", "unit", "opposite", "context_question")
# ---------------------------------------------------------------- small text transforms

_SLOT = re.compile(r"\{(\w+)\}")


def render(template: str, fill: dict[str, str]) -> str:
    """Fill ``{name}`` slots; other braces (code in a pasted text) are left alone."""
    return _SLOT.sub(lambda m: fill.get(m.group(1), m.group(0)), template)


_NEIGHBOURS = {
    "a": "sqz", "b": "vnh", "c": "xvd", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy",
    "i": "uok", "j": "hku", "k": "jli", "l": "kop", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol",
    "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "x": "zsc",
    "y": "tuh", "z": "xas",
}


def typo(text: str, rng: random.Random) -> str:
    """One or two keyboard slips (swap, drop, double or hit a neighbouring key) in longer words."""
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return text
    n = 1 if len(words) < 8 else 2
    chosen = sorted(rng.sample(words, min(n, len(words))), key=lambda m: m.start(), reverse=True)
    for m in chosen:
        w = m.group(0)
        i = rng.randrange(1, len(w) - 1)
        op = rng.choice(("swap", "drop", "double", "neighbour"))
        if op == "swap":
            new = w[:i] + w[i + 1] + w[i] + w[i + 2:]
        elif op == "drop":
            new = w[:i] + w[i + 1:]
        elif op == "double":
            new = w[:i] + w[i] + w[i:]
        else:
            c = w[i].lower()
            new = w[:i] + rng.choice(_NEIGHBOURS.get(c, c)) + w[i + 1:]
        if new == w:
            new = w[:i] + w[i + 1:]
        text = text[: m.start()] + new + text[m.end():]
    return text


_PREFIXES = [
    "Hi!", "Hello there,", "Hey, quick question:", "Good morning!", "Sorry to bother you, but",
    "Hi team, hope you're all well.", "I've been going back and forth on this all day.", "Okay so",
    "Random question, but", "Hello! First time using this thing.", "My colleague and I were debating this:",
    "Hiya,", "Apologies if this has been asked before.", "Greetings,", "Hey hey.", "Hi, it's Dana again.",
    "Morning all,", "This is probably a silly question, but", "Hope your week is going well!",
    "I'm new here, so bear with me.", "Quick one before my meeting:", "Hello from a very tired parent.",
    "Hi, Marco here from the Lisbon office.", "Been stuck on this for an hour, help:",
]
_SUFFIXES = [
    "Thanks!", "Thanks in advance.", "Appreciate it!", "Cheers.", "Any help is welcome :)",
    "Thank you so much!", "Have a nice day!", "Much appreciated.", "thx", "Thanks, you're a lifesaver.",
    "No rush.", "Thanks a bunch, have a good weekend.", "I owe you a coffee.", "Thank you kindly.",
    "Many thanks, and sorry for the long week of questions.", "ty!!",
]


def chitchat(text: str, rng: random.Random) -> str:
    """Greetings and thanks around ``text``: words the answer does not depend on."""
    style = rng.randrange(3)
    prefix, suffix = rng.choice(_PREFIXES), rng.choice(_SUFFIXES)
    lower = not prefix.endswith((".", "!", "?")) or rng.random() < 0.3
    body = text[0].lower() + text[1:] if lower and not text[:2].isupper() else text
    if style == 0:
        return f"{prefix} {body}"
    if style == 1:
        return f"{text} {suffix}"
    return f"{prefix} {body} {suffix}"


_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")


def near_number(value: str, rng: random.Random) -> str:
    """Another number close to ``value`` in writing: one more or less, ten times, two digits
    swapped, a decimal point moved; same formatting around it."""
    m = _NUM.search(value)
    assert m, value
    digits = m.group(0)
    plain = digits.replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    x = float(plain)
    candidates = []
    candidates.append(x + 10 ** -decimals if decimals else x + 1)
    if x > 1:
        candidates.append(x - 10 ** -decimals if decimals else x - 1)
    candidates.append(x * 10)
    if decimals == 0 and len(plain) >= 2 and plain[-1] != plain[-2] and plain[-1] != "0":
        candidates.append(float(plain[:-2] + plain[-1] + plain[-2]))
    if decimals == 0 and len(plain) >= 3:
        candidates.append(x * 2)
    y = rng.choice(candidates)
    if decimals:
        text = f"{y:.{decimals}f}"
    else:
        text = str(int(round(y)))
    if "," in digits:
        text = f"{float(text):,.{decimals}f}"
    if text == digits:
        text = str(int(x) + 2)
    return value[: m.start()] + text + value[m.end():]


# ---------------------------------------------------------------- instances and pairs


def _fill(slots: dict[str, Pool], rng: random.Random) -> dict[str, str]:
    """One value per slot; slots that share a pool share its group and never repeat a value."""
    fill: dict[str, str] = {}
    used: dict[int, tuple[tuple[str, ...], set[str]]] = {}
    for name, p in slots.items():
        if id(p) not in used:
            used[id(p)] = (rng.choice(p.groups), set())
        group, taken = used[id(p)]
        value = rng.choice([v for v in group if v not in taken])
        taken.add(value)
        fill[name] = value
    return fill


def _replacement(slots: dict[str, Pool], fill: dict[str, str], name: str, rng: random.Random) -> str | None:
    p = slots[name]
    if p.kind == "number":
        return near_number(fill[name], rng)
    group = next(g for g in p.groups if fill[name] in g)
    taken = {fill[n] for n, q in slots.items() if q is p}
    options = [v for v in group if v not in taken]
    return rng.choice(options) if options else None


class Pairs:
    """Collects rows for one base, dropping repeats and degenerate pairs."""

    def __init__(self, domain: str, base: str, long: bool, rng: random.Random) -> None:
        self.domain, self.base, self.long, self.rng = domain, base, long, rng
        self.rows: list[dict[str, object]] = []
        self.seen: set[tuple[str, str]] = set()

    def add(self, a: str, b: str, label: str, kind: str) -> None:
        assert kind in (HIT_KINDS if label == "hit" else MISS_KINDS), (label, kind)
        if a.strip() == b.strip():
            return
        if self.rng.random() < 0.5:
            a, b = b, a
        key = (min(a, b), max(a, b))
        if key in self.seen:
            return
        self.seen.add(key)
        self.rows.append({"a": a, "b": b, "label": label, "kind": kind, "domain": self.domain,
                          "base": self.base, "long": self.long})


def _instances(slots: dict[str, Pool]) -> int:
    return 2 if any(p.kind != "fixed" or len(p.groups[0]) > 1 for p in slots.values()) else 1


def short_pairs(s: Short, seed: int = 0) -> list[dict[str, object]]:
    """A short base's pairs; ``seed`` 0 is the evaluation set's, others render it again with other
    fills, typos and templates (training pairs from dev bases)."""
    rng = random.Random(zlib.crc32(s.id.encode()) + seed)
    out = Pairs(s.domain, s.id, False, rng)
    for _ in range(_instances(s.slots)):
        fill = _fill(s.slots, rng)
        q = render(s.q, fill)
        hits = [(k, render(t, fill)) for k, t in s.hits]
        forms = [q] + [t for _, t in hits]
        for kind, text in hits:
            out.add(q, text, "hit", kind)
        if len(hits) >= 2:
            (_, x), (k2, y) = rng.sample(hits, 2)
            out.add(x, y, "hit", k2)
        out.add(q, typo(rng.choice(forms), rng), "hit", "typo")
        out.add(rng.choice(forms), chitchat(rng.choice(forms[1:] or forms), rng), "hit", "chitchat")
        if s.swap:
            x, y = s.swap
            swapped = dict(fill, **{x: fill[y], y: fill[x]})
            templates = [s.q] + [t for _, t in s.hits]
            t = rng.choice(templates)
            if s.symmetric:
                out.add(q, render(t, swapped), "hit", "reordered")
            else:
                out.add(render(t, fill), render(t, swapped), "miss", "direction")
                out.add(q, render(rng.choice(templates), swapped), "miss", "direction")
        for kind, t in s.misses:
            b = render(t, fill)
            out.add(q, b, "miss", kind)
            out.add(rng.choice(forms[1:] or forms), chitchat(b, rng) if rng.random() < 0.3 else b, "miss", kind)
        varied = [n for n, p in s.slots.items() if p.kind != "fixed"]
        templates = [s.q] + [t for _, t in s.hits]
        for name in rng.sample(varied, min(2, len(varied))):
            new = _replacement(s.slots, fill, name, rng)
            if new is None:
                continue
            changed = dict(fill, **{name: new})
            t = rng.choice(templates)
            out.add(render(t, fill), render(t, changed), "miss", s.slots[name].kind)
            out.add(q, render(rng.choice(templates[1:] or templates), changed), "miss", s.slots[name].kind)
    return out.rows


def _long(c: Context, fill: dict[str, str], q: str, first: bool = False) -> str:
    text = render(c.text, fill).strip("\n")
    if first:
        return f"{q}\n\n{text}"
    return f"{render(c.intro, fill)}\n\n{text}\n\n{q}"


def context_pairs(c: Context, seed: int = 0) -> list[dict[str, object]]:
    """A long base's pairs; ``seed`` as in :func:`short_pairs`."""
    rng = random.Random(zlib.crc32(c.id.encode()) + seed)
    out = Pairs(c.domain, c.id, True, rng)
    for _ in range(_instances(c.slots)):
        fill = _fill(c.slots, rng)
        for i, question in enumerate(c.questions):
            q = render(question.q, fill)
            a = _long(c, fill, q)
            for kind, t in question.hits:
                out.add(a, _long(c, fill, render(t, fill)), "hit", kind)
            para = render(rng.choice(question.hits)[1], fill) if question.hits else q
            out.add(a, _long(c, fill, para, first=True), "hit", "reordered")
            if rng.random() < 0.5:
                out.add(a, _long(c, fill, chitchat(para, rng)), "hit", "chitchat")
            else:
                out.add(a, _long(c, fill, typo(para, rng)), "hit", "typo")
            others = [o for j, o in enumerate(c.questions) if j != i]
            for other in rng.sample(others, min(2, len(others))):
                b_q = render(rng.choice([other.q] + [t for _, t in other.hits]), fill)
                out.add(a, _long(c, fill, b_q), "miss", "context_question")
            uses = [n for n in question.uses if c.slots[n].kind != "fixed"]
            for name in rng.sample(uses, min(2, len(uses))):
                new = _replacement(c.slots, fill, name, rng)
                if new is not None:
                    changed = dict(fill, **{name: new})
                    b_q = rng.choice((q, para))
                    out.add(a, _long(c, changed, render(b_q, changed)), "miss", c.slots[name].kind)
    return out.rows


# ---------------------------------------------------------------- the split and the files


def build() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    ids = [b.id for b in SHORTS] + [c.id for c in CONTEXTS]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    by_base: dict[str, list[dict[str, object]]] = {}
    domain_of: dict[str, str] = {}
    for s in SHORTS:
        by_base[s.id] = short_pairs(s)
        domain_of[s.id] = s.domain
    for c in CONTEXTS:
        by_base[c.id] = context_pairs(c)
        domain_of[c.id] = c.domain
    dev: list[dict[str, object]] = []
    test: list[dict[str, object]] = []
    for long in (False, True):
        for domain in sorted(set(domain_of.values())):
            bases = sorted((b for b, d in domain_of.items() if d == domain and by_base[b]
                            and by_base[b][0]["long"] is long),
                           key=lambda b: zlib.crc32(b.encode()))
            for i, b in enumerate(bases):
                (dev if i % 2 == 0 else test).extend(by_base[b])
    return dev, test


def _lines(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def summary(name: str, rows: list[dict[str, object]]) -> str:
    labels = Counter(str(r["label"]) for r in rows)
    kinds = Counter(f"{r['label']}/{r['kind']}" for r in rows)
    domains = Counter(str(r["domain"]) for r in rows)
    long = sum(1 for r in rows if r["long"])
    bases = len({r["base"] for r in rows})
    return (f"{name}: {len(rows)} pairs from {bases} bases ({labels['hit']} hit, {labels['miss']} miss, "
            f"{long} long)\n  kinds: {dict(sorted(kinds.items()))}\n  domains: {dict(sorted(domains.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the files differ from what the bases make")
    args = parser.parse_args()
    dev, test = build()
    files = {OUT / "dev.jsonl": _lines(dev), OUT / "test.jsonl": _lines(test)}
    if args.check:
        stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
        if stale:
            sys.exit(f"out of date: {', '.join(stale)}; run bench/make_semantic_pairs.py")
    else:
        OUT.mkdir(parents=True, exist_ok=True)
        for p, text in files.items():
            p.write_text(text)
    print(summary("dev", dev))
    print(summary("test", test))


if __name__ == "__main__":
    main()
