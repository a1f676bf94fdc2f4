"""The cheap verification that makes a semantic hit safe.

An embedding puts "price of plan A" and "price of plan B" side by side (one token differs), so a
neighbour found by cosine is served only if the two texts also agree on what an embedding
blurs. Each text is reduced once to a :class:`Facts` value; two facts agree when they have:

1. the same numbers (``1,000`` = ``1000``; "two" = ``2``; "twice" = ``2``);
2. the same units and periods (``ms``/"milliseconds"; ``$``/"dollars"; "monthly" = "per month");
3. the same named entities (capitalized or mixed-case words past a sentence's first word,
   acronyms, identifiers such as ``X200``, ``Q2`` or ``YYYY-MM-DD``): each must occur in the other
   text, up to one typo;
4. the same polarity of negation (not, no, never, without, ...n't);
5. no opposite directions on any axis ("increase"/"decrease", "before"/"after",
   "above"/"below", "enable"/"disable", "import"/"export", ...). A *marked* word (the reversing
   one: decrease, remove, disable...) on one side only also disagrees; an unmarked one (increase,
   add, enable) may be implicit;
6. every content word of each text matched in the other: the same stem, one typo away, or a
   near-synonym by the static table's word vectors (cosine >= ``synonym_min``); politeness and
   generic question words ("how", "way", "possible", "please") are not content.

Pure functions of the two texts (and the word vectors); :func:`verify` returns the first
reason to refuse, or ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

WordVector = Callable[[str], np.ndarray]

_TOKEN = re.compile(
    r"[$€£¥%]|(?:[A-Z0-9]+[-/])+[A-Z0-9]+\b|\d+(?:[.,:/-]\d+)*(?:st|nd|rd|th)?(?![0-9])|[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)*(?:['’][A-Za-z]+)?|[.!?;:]"
)
_SENTENCE_END = {".", "!", "?", ";", ":"}
_PRONOUN_ONE_AFTER = {"the", "this", "that", "which", "each", "any", "every", "another", "a", "new", "old"}

NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000", "million": "1000000",
    "twice": "2", "double": "2", "half": "0.5", "dozen": "12", "single": "1", "once": "1",
    "first": "1st", "third": "3rd", "fourth": "4th", "fifth": "5th",
}
# "second" is also a unit; it counts as an ordinal only when no number precedes it
UNIT_WORDS = {
    "ms": "ms", "millisecond": "ms", "milliseconds": "ms", "msec": "ms",
    "sec": "s", "secs": "s", "seconds": "s",
    "min": "min", "mins": "min", "minute": "min", "minutes": "min",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "hourly": "h",
    "day": "day", "days": "day", "daily": "day",
    "week": "week", "weeks": "week", "weekly": "week",
    "month": "month", "months": "month", "monthly": "month",
    "quarter": "quarter", "quarters": "quarter", "quarterly": "quarter",
    "year": "year", "years": "year", "yearly": "year", "annual": "year", "annually": "year", "yr": "year",
    "b": "byte", "byte": "byte", "bytes": "byte", "kb": "kb", "mb": "mb", "gb": "gb", "tb": "tb",
    "mg": "mg", "g": "g", "gram": "g", "grams": "g", "kg": "kg", "kilogram": "kg", "kilograms": "kg",
    "lb": "lb", "lbs": "lb", "oz": "oz", "ton": "ton", "tons": "ton",
    "mm": "mm", "cm": "cm", "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m", "km": "km",
    "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km", "mile": "mile", "miles": "mile",
    "inch": "inch", "inches": "inch", "ft": "ft", "feet": "ft", "foot": "ft",
    "celsius": "celsius", "fahrenheit": "fahrenheit", "kelvin": "kelvin",
    "$": "usd", "usd": "usd", "dollar": "usd", "dollars": "usd", "€": "eur", "eur": "eur", "euro": "eur",
    "euros": "eur", "£": "gbp", "gbp": "gbp", "pound": "gbp", "pounds": "gbp", "¥": "jpy", "yen": "jpy",
    "%": "pct", "percent": "pct", "percentage": "pct", "pct": "pct", "share": "pct", "portion": "pct",
    "proportion": "pct", "fraction": "pct",
    "token": "token", "tokens": "token", "seat": "seat", "seats": "seat",
}
DEIXIS = {"this": "this", "current": "this", "last": "last", "previous": "last", "past": "last", "next": "next",
          "coming": "next", "upcoming": "next"}
"""A period's deixis, read only before a period word: "last month" is not "this month"."""
DAYS = {"today": "today", "tonight": "today", "yesterday": "yesterday", "tomorrow": "tomorrow"}
PERIODS = {"day", "week", "month", "quarter", "year", "weekend", "time", "night", "season", "release", "version",
           "invoice", "bill", "billing", "cycle", "sprint", "hour", "minute"}
RELATIONS = {"to", "into", "from", "than"}
"""Words whose sides matter: "string to integer" is not "integer to string"."""
_SCALES = {"hundred", "thousand", "million", "billion"}
_NOT_NEGATING_NO = {"rush", "hurry", "worries", "worry", "problem", "pressure"}
_BARE_UNITS_AMBIGUOUS = {"m", "g", "b", "h", "min", "mm", "ft", "oz", "ton", "tons"}
"""Unit words that mean a unit only after a number ("min" is also "minimum")."""
NEGATIONS = {"not", "no", "never", "without", "none", "nothing", "cannot", "neither", "nor", "nobody", "nowhere"}

# axis -> (unmarked words, marked words): the marked side reverses the unmarked one
AXES: dict[str, tuple[set[str], set[str]]] = {
    "amount": (
        {"increase", "increased", "increases", "increasing", "raise", "raised", "rise", "rising", "rose", "up",
         "higher", "highest", "more", "most", "grow", "grew", "growth", "growing", "gain", "bigger", "biggest",
         "larger", "largest", "greater", "greatest", "maximum", "max", "top", "heavier", "heaviest", "expensive",
         "faster", "longer", "longest", "upgrade", "best", "plus", "exceed", "exceeds"},
        {"decrease", "decreased", "decreases", "decreasing", "reduce", "reduced", "lower", "lowest", "down",
         "drop", "dropped", "drops", "decline", "declined", "fall", "fell", "less", "least", "fewer", "fewest",
         "shrink", "smaller", "smallest", "minimum", "min", "bottom", "lighter", "lightest", "cheaper",
         "cheapest", "slower", "shorter", "shortest", "downgrade", "worst", "minus", "cut"},
    ),
    "position": ({"above", "over", "after", "later", "since", "beyond", "past"},
                 {"below", "under", "before", "earlier", "prior", "within", "until", "beneath"}),
    "order": ({"last", "latest", "newest", "end", "ends", "ending", "ended"},
              {"first", "earliest", "oldest", "start", "starts", "starting", "started", "begin", "begins", "beginning"}),
    "state": ({"enable", "enabled", "enabling", "activate", "activated", "on", "open", "opened", "unlock",
               "show", "visible", "allow", "allowed"},
              {"disable", "disabled", "disabling", "deactivate", "deactivated", "off", "close", "closed",
               "lock", "hide", "hidden", "block", "blocked", "deny", "denied"}),
    "membership": ({"add", "added", "adding", "create", "created", "install", "installed", "subscribe", "subscribed",
                    "connect", "connected", "link", "linked", "join", "insert", "attach", "apply", "keep", "find"},
                   {"remove", "removed", "removing", "delete", "deleted", "deleting", "uninstall", "uninstalled",
                    "unsubscribe", "unsubscribed", "disconnect", "disconnected", "unlink", "leave", "detach",
                    "erase", "purge", "cancel", "cancelled", "canceled"}),
    "undo": ({"undo", "revert", "rollback"}, {"redo", "reapply"}),
    "flow": ({"import", "imported", "upload", "uploaded", "read", "reading", "receive", "received", "receiving",
              "buy", "bought", "deposit", "parse", "parsing", "decode"},
             {"export", "exported", "download", "downloaded", "write", "writing", "send", "sent", "sending",
              "sell", "sold", "withdraw", "format", "formatting", "encode"}),
    "sort": ({"ascending", "asc", "horizontally", "horizontal"}, {"descending", "desc", "vertically", "vertical"}),
    "refund": ({"charge", "charged", "charges", "pay", "paid"}, {"refund", "refunded", "refunds"}),
}
# words whose axis reading needs the next word ("turn on", "go up", "shut down")
_PHRASES = {
    ("turn", "on"): "on", ("switch", "on"): "on", ("turned", "on"): "on", ("turn", "off"): "off",
    ("switch", "off"): "off", ("turned", "off"): "off", ("go", "up"): "up", ("went", "up"): "up",
    ("gone", "up"): "up", ("go", "down"): "down", ("went", "down"): "down", ("gone", "down"): "down",
    ("set", "up"): "create", ("sign", "up"): "subscribe", ("signed", "up"): "subscribe",
}
CONTRAST_ONLY = {"flow", "sort", "order", "refund"}
"""Axes whose words are often implicit on the other side: only opposite words on both sides differ."""
_AXIS_OF: dict[str, tuple[str, bool]] = {}
for _axis, (_plain, _marked) in AXES.items():
    for _w in _plain:
        _AXIS_OF[_w] = (_axis, False)
    for _w in _marked:
        _AXIS_OF[_w] = (_axis, True)
# prepositions are too common to read as a direction unless they contrast in the other text
_WEAK_AXIS_WORDS = {"on", "over", "up", "down", "past", "since", "last", "end", "find", "keep", "show",
                    "open", "read", "apply", "top", "more", "most", "less", "after", "before", "within", "under"}

STOPWORDS = set(
    """a an the and or but if then so of in on at by for with to from into onto about as is am are was were be been
    being do does did done doing have has had having i me my mine we us our ours you your yours he him his she her
    it its they them their this that these those there here what which who whom whose when where why how can could
    would should will shall may might must just also too very really any some each every all both either other
    such than that's what's it's i'm i've i'd you're let's there's how's where's who's when's s t d ll re ve
    get got gets getting make made makes making go goes going went gone use used using way ways possible able
    process steps step thing things something anything kind sort type one ones via per
    please pls kindly thanks thank thx hi hello hey dear team morning afternoon evening good quick question
    questions cheers advance help tell know want need wondering wonder like would love appreciate ok okay
    yes sure there's is it allowed allow come times much many long often only just
    offer offers provide provides available whether happen happens happening show shows give bring brought
    work works""".split()
)
# direction words live on axes, not in content; number and unit words in their own sets
_NOT_CONTENT = STOPWORDS | NEGATIONS | set(NUMBER_WORDS) | set(UNIT_WORDS) | set(_AXIS_OF)


@dataclass(frozen=True, slots=True)
class Facts:
    numbers: frozenset[str]
    units: frozenset[str]
    unit_words: frozenset[tuple[str, str]]
    """(unit, the word that said it), to forgive a typo on the other side"""
    entities: frozenset[str]
    negated: bool
    directions: frozenset[tuple[str, bool, str]]
    """(axis, marked, word)"""
    when: frozenset[str]
    relations: frozenset[tuple[str, str, str]]
    """(relation word, key word before it, key word after it)"""
    content: tuple[str, ...]
    words: frozenset[str]
    """Every lower-cased word, for the entity and content look-ups."""


def facts(text: str) -> Facts:
    tokens = [re.sub(r"['’]s$", "", t) for t in _TOKEN.findall(text)]
    lowered = [t.lower() for t in tokens]
    numbers: set[str] = set()
    units: set[str] = set()
    unit_words: set[tuple[str, str]] = set()
    entities: set[str] = set()
    directions: set[tuple[str, bool, str]] = set()
    when: set[str] = set()
    content: list[str] = []
    keys: list[tuple[int, str]] = []  # (position, key word) for the relation check
    relation_at: list[tuple[int, str]] = []
    negations = 0
    sentence_start = True
    previous_number = False
    skip_next = False
    for i, (tok, low) in enumerate(zip(tokens, lowered, strict=True)):
        if skip_next:
            skip_next = False
            continue
        if tok in _SENTENCE_END:
            sentence_start = True
            continue
        first, sentence_start = sentence_start, False
        after_number, previous_number = previous_number, False
        nxt = lowered[i + 1] if i + 1 < len(lowered) else ""
        # 1. numbers, units and periods
        if tok[0].isdigit():
            numbers.add(_number(low))
            keys.append((i, low))
            previous_number = True
            if re.fullmatch(r"\d+(?:-\d+)+", tok):
                entities.add(low)  # a date or code such as 2024-03-01
            continue
        if low in ("second", "seconds"):
            if after_number or low == "seconds":
                units.add("s")
                unit_words.add(("s", low))
            else:
                numbers.add("2nd")
            continue
        unit = UNIT_WORDS.get(low)
        if unit is not None and (after_number or low not in _BARE_UNITS_AMBIGUOUS):
            units.add(unit)
            unit_words.add((unit, low))
            keys.append((i, unit))
            continue
        if low in DAYS:
            when.add(DAYS[low])
            continue
        if low in DEIXIS and (nxt in PERIODS or UNIT_WORDS.get(nxt) in PERIODS):
            when.add(DEIXIS[low])
            continue
        if low == "one" and (nxt in _SENTENCE_END or nxt == "" or (i and lowered[i - 1] in _PRONOUN_ONE_AFTER)):
            continue  # "the 55-inch one", "which one": a pronoun, not a number
        if after_number and low in _SCALES:
            continue  # "12 million" is "12M": the scale is the number's, not a number of its own
        if low in NUMBER_WORDS:
            numbers.add(NUMBER_WORDS[low])
            keys.append((i, NUMBER_WORDS[low]))
            continue
        # 2. negation and directions
        if low in NEGATIONS or low.endswith(("n't", "n’t")):
            if not (low == "no" and nxt in _NOT_NEGATING_NO) and not (low == "not" and i and lowered[i - 1] == "or"):
                negations += 1  # "no rush", "doctor or not?" negate nothing that is asked
            continue
        phrase = _PHRASES.get((low, nxt))
        if phrase is not None:
            axis, marked = _AXIS_OF[phrase]
            directions.add((axis, marked, phrase))
            skip_next = True
            continue
        if low in RELATIONS:
            relation_at.append((i, low))
        if low in _AXIS_OF:
            axis, marked = _AXIS_OF[low]
            directions.add((axis, marked, low))
            continue
        # 3. entities and content words
        if low in STOPWORDS:
            continue
        if _is_entity(tok, first):
            entities.add(low)
        if len(low) > 1 and low.isascii():
            content.append(low)
            keys.append((i, low))
    relations = set()
    for at, rel in relation_at:
        before = [k for p, k in keys if p < at]
        after = [k for p, k in keys if p > at]
        if before and after:
            relations.add((rel, before[-1], after[0]))
    return Facts(frozenset(numbers), frozenset(units), frozenset(unit_words), frozenset(entities), negations % 2 == 1,
                 frozenset(directions), frozenset(when), frozenset(relations), tuple(dict.fromkeys(content)),
                 frozenset(lowered))


def _number(token: str) -> str:
    digits = token
    if re.fullmatch(r"\d{1,3}(,\d{3})+", digits):
        digits = digits.replace(",", "")
    if re.fullmatch(r"\d+\.0+", digits):
        digits = digits.split(".")[0]
    return digits


def _is_entity(tok: str, first: bool) -> bool:
    if len(tok) == 1:
        return tok.isupper() and tok != "I"
    if any(c.isdigit() for c in tok):
        return True
    if tok.isupper():
        return True
    if any(c.isupper() for c in tok[1:]):
        return True  # iOS, JavaScript, PostgreSQL
    return tok[0].isupper() and not first


def _near(a: str, b: str) -> bool:
    """Equal, or one typo apart (substitution, insertion, deletion, swap) for words of 4+ letters."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1 or any(c.isdigit() for c in a + b):
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1 :] == short:
            return True
    return False


def _typo_of(word: str, words: frozenset[str]) -> bool:
    """Is ``word`` misspelt in ``words`` (so it wasn't recognized there)?"""
    return len(word) >= 4 and word not in words and any(_near(word, w) for w in words)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    for suffix in ("ingly", "ations", "ation", "ments", "ment", "ings", "ing", "edly", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # shipp(ing) -> ship, logg(ed) -> log
    return word.rstrip("e")


SYNONYMS = [
    {"change", "update", "switch", "modify", "edit"}, {"price", "cost", "pricing"}, {"big", "large", "size"},
    {"test", "check", "verify"},
]
"""Words interchangeable in the questions apps get, where the static vectors disagree."""
_SYNONYM_OF = {w: frozenset(group) for group in SYNONYMS for w in group}


def _matches(word: str, others: frozenset[str], stems: set[str]) -> bool:
    if word in others or _stem(word) in stems or any(_near(word, o) for o in others if len(o) >= 4):
        return True
    group = _SYNONYM_OF.get(_stem(word)) or _SYNONYM_OF.get(word)
    return bool(group and (group & others or {_stem(g) for g in group} & stems))


def verify(query: str | Facts, cached: str | Facts, word_vector: WordVector | None = None,
           synonym_min: float = 0.75) -> str | None:
    """``None`` when the cached question answers the query; else the reason it may not."""
    q = query if isinstance(query, Facts) else facts(query)
    c = cached if isinstance(cached, Facts) else facts(cached)
    if q.numbers != c.numbers:
        return f"numbers differ: {sorted(q.numbers)} vs {sorted(c.numbers)}"
    if q.units != c.units:
        for a, b in ((q, c), (c, q)):
            for unit in a.units - b.units:
                if not any(_typo_of(w, b.words) for u, w in a.unit_words if u == unit):
                    return f"units differ: {sorted(q.units)} vs {sorted(c.units)}"
    if q.negated != c.negated:
        return "one is negated"
    if q.when != c.when:
        return f"periods differ: {sorted(q.when)} vs {sorted(c.when)}"
    for rel, x, y in q.relations:
        if x != y and (rel, y, x) in c.relations and (rel, x, y) not in c.relations:
            return f"the sides of {rel!r} are swapped: {x} {rel} {y}"
    for a, b in ((q, c), (c, q)):
        for entity in a.entities:
            if not any(_near(entity, w) for w in b.words):
                return f"entity {entity!r} is only in one"
    reason = _directions(q, c)
    if reason:
        return reason
    return _content(q, c, word_vector, synonym_min)


def _directions(q: Facts, c: Facts) -> str | None:
    for axis in {d[0] for d in q.directions | c.directions}:
        qa = {(m, w) for ax, m, w in q.directions if ax == axis}
        ca = {(m, w) for ax, m, w in c.directions if ax == axis}
        qm, cm = {m for m, _ in qa}, {m for m, _ in ca}
        if qm == cm:
            continue
        if qm and cm:
            # opposite readings on both sides; a common preposition only counts when it is the contrast
            return f"opposite {axis}: {sorted(w for _, w in qa)} vs {sorted(w for _, w in ca)}"
        one, other = (qa, c) if qa else (ca, q)
        if axis in CONTRAST_ONLY:
            continue
        if any(m and w not in _WEAK_AXIS_WORDS and not _typo_of(w, other.words) for m, w in one):
            return f"{axis} reversed on one side only: {sorted(w for _, w in one)}"
    return None


def _content(q: Facts, c: Facts, word_vector: WordVector | None, synonym_min: float) -> str | None:
    for a, b in ((q, c), (c, q)):
        stems = {_stem(w) for w in b.words}
        missing = [w for w in a.content if not _matches(w, b.words, stems)]
        if not missing:
            continue
        if word_vector is None:
            return f"content word {missing[0]!r} is only in one"
        others = [w for w in b.content if w not in a.words]
        for word in missing:
            if not others:
                return f"content word {word!r} is only in one"
            v = word_vector(word)
            best = max(float(v @ word_vector(o)) for o in others)
            if best < synonym_min:
                return f"content word {word!r} is only in one (best synonym {best:.2f})"
    return None
