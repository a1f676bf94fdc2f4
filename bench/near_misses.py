"""Single-span near-misses made from a training text, for ``train_cross_encoder.py --near-misses``.

The cross-encoder's top scores hold misses that change one span of a text ("I have a fever" /
"My baby has a fever", butter / buttermilk): to the model a small change looks like a
paraphrase. Each function here changes one span of a prompt in a way that changes its answer:
a content word replaced by another from the training texts, a qualifier put before a noun, two
words swapped around a relation word, a word replaced by its opposite, the person asked about.
Only short prompts are changed (a change inside a pasted text may not touch what is asked), and
only training bases' texts are read (the caller passes them: never the calibration bases nor the
test split)."""

from __future__ import annotations

import random
import re

STOP = frozenset("""
a an the and or but if then else of to from in on at by for with without into onto over under about
as is are was were be been being am do does did done doing have has had having i me my mine we our us
you your yours he him his she her it its they them their this that these those there here what which who
whom whose when where why how can could should would will shall may might must not no yes so than too
very just also any some each every all both either neither more most less least much many few one
please thanks thank hi hello hey quick question way best good get got make made use using used need
want like know tell explain help someone anyone something anything thing things does it's what's i'm
don't can't isn't i've you're let's vs etc e.g i.e ok okay pls thx
""".split())

QUALIFIERS = ("vegan", "frozen", "electric", "used", "private", "public", "nested", "remote", "encrypted",
              "empty", "annual", "international", "second", "broken", "shared", "unpaid", "deleted", "raw",
              "wireless", "foreign", "gluten-free", "legacy", "secondary", "overdue", "expired", "temporary")

OPPOSITES = {
    "before": "after", "increase": "decrease", "raise": "lower", "more": "less", "minimum": "maximum",
    "add": "remove", "start": "stop", "enable": "disable", "buy": "sell", "import": "export",
    "upload": "download", "encrypt": "decrypt", "open": "close", "longest": "shortest", "fastest": "slowest",
    "highest": "lowest", "first": "last", "pros": "cons", "advantages": "disadvantages", "hot": "cold",
    "inside": "outside", "push": "pull", "deposit": "withdraw", "earliest": "latest", "cheapest": "dearest",
    "largest": "smallest", "oldest": "newest", "north": "south", "east": "west", "above": "below",
    "upper": "lower", "gain": "loss", "profit": "loss", "credit": "debit", "lend": "borrow", "input": "output",
    "min": "max", "ascending": "descending", "allow": "block", "accept": "reject", "hire": "fire",
}
OPPOSITES |= {v: k for k, v in list(OPPOSITES.items())}

PEOPLE = ("my baby", "my toddler", "my dog", "my cat", "my grandmother", "my teenage son", "my landlord",
          "my employer", "my pregnant wife", "my elderly father")
RELATIONS = frozenset(("to", "from", "into", "than", "over", "versus", "vs", "for", "before", "after", "onto"))

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


DETERMINERS = frozenset("a an the my your our his her their this that some any of in for with on".split())


def _spans(text: str) -> list[re.Match[str]]:
    """Words that stand where a noun does: a content word right after a determiner or a
    preposition (a rough noun test, so a replacement keeps the sentence's shape)."""
    words = list(WORD.finditer(text))
    return [m for prev, m in zip(words, words[1:], strict=False)
            if prev.group().lower() in DETERMINERS and len(m.group()) >= 3 and m.group().lower() not in STOP]


def content_words(texts: list[str]) -> list[str]:
    """Nouns (by :func:`_spans`) seen at least twice in the texts, so typos stay out, sorted."""
    seen: dict[str, int] = {}
    for t in texts:
        for m in _spans(t):
            seen[m.group().lower()] = seen.get(m.group().lower(), 0) + 1
    return sorted(w for w, n in seen.items() if n >= 2)


def _cased(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def substitute(text: str, rng: random.Random, pool: list[str]) -> str | None:
    """One content word replaced by another of the pool (a different thing asked about)."""
    spans = _spans(text)
    if not spans or not pool:
        return None
    m = rng.choice(spans)
    old = m.group().lower()
    for _ in range(8):
        new = rng.choice(pool)
        if new != old and not (new.startswith(old[:4]) or old.startswith(new[:4])):
            return text[: m.start()] + _cased(new, m.group()) + text[m.end():]
    return None


def qualify(text: str, rng: random.Random) -> str | None:
    """A qualifier put before a content word ("butter" -> "vegan butter")."""
    spans = [m for m in _spans(text) if m.group().islower()]
    if not spans:
        return None
    m = rng.choice(spans)
    return text[: m.start()] + rng.choice(QUALIFIERS) + " " + text[m.start():]


def opposite(text: str, rng: random.Random) -> str | None:
    """A word replaced by its opposite (before / after, pros / cons, increase / decrease)."""
    hits = [m for m in WORD.finditer(text) if m.group().lower() in OPPOSITES]
    if not hits:
        return None
    m = rng.choice(hits)
    return text[: m.start()] + _cased(OPPOSITES[m.group().lower()], m.group()) + text[m.end():]


def swap(text: str, rng: random.Random) -> str | None:
    """The content words on either side of a relation word exchanged ("A to B" -> "B to A")."""
    words = list(WORD.finditer(text))
    sites = []
    for i in range(1, len(words) - 1):
        if words[i].group().lower() not in RELATIONS:
            continue
        left = words[i - 1]
        j = i + 1
        while j < len(words) - 1 and words[j].group().lower() in DETERMINERS:
            j += 1
        right = words[j]
        if all(len(w.group()) >= 3 and w.group().lower() not in STOP for w in (left, right)) \
                and left.group().lower() != right.group().lower():
            sites.append((left, right))
    if not sites:
        return None
    a, b = rng.choice(sites)
    return (text[: a.start()] + _cased(b.group().lower(), a.group()) + text[a.end(): b.start()]
            + _cased(a.group().lower(), b.group()) + text[b.end():])


def person(text: str, rng: random.Random) -> str | None:
    """The question asked about someone else ("I have a fever" -> "my baby has a fever")."""
    for pattern in (r"\bI have\b", r"\bI'm\b", r"\bI am\b", r"\bmy\b", r"\bI\b"):
        m = re.search(pattern, text)
        if not m:
            continue
        who = rng.choice(PEOPLE)
        new = {"I have": who + " has", "I'm": who + " is", "I am": who + " is", "my": who + "'s"}.get(m.group(), who)
        new = _cased(new, m.group()) if m.start() == 0 else new
        return text[: m.start()] + new + text[m.end():]
    return None


def near_misses(text: str, rng: random.Random, pool: list[str], k: int, people: bool) -> list[tuple[str, str]]:
    """Up to ``k`` different single-span near-misses of ``text``, each with the change's kind."""
    makers = [("substitute", lambda: substitute(text, rng, pool)), ("substitute", lambda: substitute(text, rng, pool)),
              ("qualify", lambda: qualify(text, rng)), ("opposite", lambda: opposite(text, rng)),
              ("swap", lambda: swap(text, rng))]
    if people:
        makers.append(("person", lambda: person(text, rng)))
    out: dict[str, str] = {}
    for _ in range(3 * k):
        kind, make = rng.choice(makers)
        new = make()
        if new and new != text and new not in out:
            out[new] = kind
        if len(out) >= k:
            break
    return [(t, kind) for t, kind in out.items()]
