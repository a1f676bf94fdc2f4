"""Training and calibration pairs for the semantic cache's judge, made by code from templates.

These are the judge's own pairs (``bench/data/judge_pairs.jsonl``), written apart from the
evaluation sets (``paraphrases.jsonl`` and the adversarial dev/test split): other base prompts,
other wordings. Each template marks what may change in it:

    [n:5]                a number              -> a miss with another number
    [e:Slack|Teams|Zoom] an entity (the first) -> a miss with another one
    [w:upgrade|downgrade] a word whose others change the meaning (antonym, scope) -> a miss
    [h:buy|purchase]     a word whose others are synonyms -> a hit
    [a:Alice] ... [b:Bob] two sides whose swap changes the answer -> a miss (direction)

Misses also come from negation and another question word. Every variant, hit or miss, then gets
the same random change of form (another question form, chit-chat, a typo, case and punctuation,
clauses reordered), so that only the meaning tells a hit from a miss. Long
prompts paste a context (an email, a log, an order) and ask one of several questions about it:
the same question reworded is a hit, another question about the same context a miss.

    .venv/bin/python bench/make_judge_pairs.py        # writes bench/data/judge_pairs.jsonl

Every fifth template (by position) goes to the calibration split, the rest to training, so the
calibration table is read off pairs whose base prompts the classifier never saw.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).parent / "data" / "judge_pairs.jsonl"

TEMPLATES: dict[str, list[str]] = {
    "devops": [
        "how do I [h:roll back|revert] the [e:nginx|haproxy|envoy] deployment to the previous version",
        "how do I copy a file from [a:the container] to [b:the host]",
        "how do I [w:increase|decrease|cap] the memory limit of a pod to [n:512] MB",
        "what is the [h:fastest|quickest] way to [w:compress|decompress] a folder on [e:Linux|Windows|macOS]",
        "how do I forward port [n:8080] on the [w:host|container] to port [n:80]",
        "how do I [w:mount|unmount] an [e:EBS|EFS|NFS] volume on boot",
        "why does my [e:Terraform|Ansible|Pulumi] plan show changes for resources I [h:did not touch|never touched]",
        "how do I [w:rotate|revoke] the TLS certificate of the [e:staging|production] load balancer",
        "how do I schedule a [h:job|task] to run every [n:15] minutes with cron",
        "how do I point [a:api.example.com] at [b:the new cluster] without downtime",
    ],
    "programming": [
        "how do I convert a [a:string] to [b:integer] in [e:Python|Rust|Go|Java]",
        "how do I [w:sort|shuffle|reverse] a list of dictionaries by the key [e:age|name|created_at]",
        "what is the [h:difference|distinction] between a process and a thread",
        "how do I [w:read|write] a CSV file with [n:3] header rows in pandas",
        "how can I [w:merge|split] two branches in git without losing commits",
        "how do I [h:catch|handle] a timeout error in [e:asyncio|requests|httpx]",
        "how do I make [a:module A] import [b:module B] without a circular import",
        "why is my [e:React|Vue|Svelte] component rendering [n:2] times on mount",
        "how do I [w:enable|disable] strict mode in [e:TypeScript|mypy|ESLint]",
        "how do I delete [w:all|only the archived|some] rows in a table",
        "what are the [w:advantages|disadvantages] of a monorepo",
        "how do I list [w:all|only hidden] files in a directory",
        "how do I round a float to [n:2] decimal places in [e:JavaScript|Python|SQL]",
        "what does the error [e:KeyError|IndexError|TypeError] mean when I [h:access|read] a dictionary",
    ],
    "billing": [
        "can I [w:upgrade|downgrade|pause] my plan in the middle of the billing cycle",
        "how do I [h:get|download] an invoice for the [e:March|April|June] charge",
        "why was I charged [n:49] dollars [w:twice|once] this month",
        "can I move credits from [a:my personal account] to [b:the team account]",
        "how do I [w:add|remove] a VAT number on my invoices",
        "is the [e:Pro|Team|Enterprise] plan billed per seat or per workspace",
        "how do I [h:cancel|end] my [w:annual|monthly|trial] subscription",
        "what happens to unused credits when my plan [w:renews|expires]",
    ],
    "travel": [
        "what is the [h:cheapest|least expensive] way to get from [a:Lisbon] to [b:Porto]",
        "do I need a visa to travel from [a:Canada] to [b:Brazil]",
        "how many [w:checked|carry-on] bags can I bring on a [e:Ryanair|Lufthansa|Delta] flight",
        "can I change my flight to [n:2] days [w:earlier|later] without a fee",
        "what is the best time of year to [h:visit|go to] [e:Iceland|Japan|Peru]",
        "how early should I arrive at the airport for an [w:international|domestic] flight",
        "is it [h:safe|okay] to drink tap water in [e:Mexico City|Bangkok|Cairo]",
    ],
    "cooking": [
        "how long do I bake a [n:3] pound chicken at [n:400] degrees",
        "can I substitute [a:butter] for [b:olive oil] in a cake",
        "how do I [h:stop|keep] pasta from sticking together",
        "how many grams of [e:flour|sugar|rice] are in [n:1] cup",
        "how do I make bread dough [w:rise faster|rise slower|less sticky]",
        "what is the [h:difference|distinction] between baking soda and baking powder",
        "how long does cooked rice keep in the [w:fridge|freezer]",
        "should I [w:salt|rinse] the eggplant before frying it",
    ],
    "health": [
        "how much [e:ibuprofen|paracetamol|aspirin] can an adult take in [n:24] hours",
        "is it [h:normal|common] to feel tired [w:after|before] a flu shot",
        "how many hours of sleep does a [n:10] year old need",
        "can I take antibiotics with [e:coffee|alcohol|milk]",
        "what are the [w:early|late] signs of dehydration in [e:toddlers|adults|the elderly]",
        "how long should I [w:ice|heat] a sprained ankle",
        "does [e:walking|swimming|cycling] help with lower back pain",
    ],
    "finance": [
        "should I pay off my [e:credit card|car loan|student loan] before investing",
        "how is interest calculated on a [n:30] year fixed mortgage",
        "can I transfer money from [a:my savings account] to [b:my brokerage account] instantly",
        "what is the [h:difference|distinction] between a Roth IRA and a traditional IRA",
        "how do I [w:buy|sell] shares of an index fund",
        "what happens if I [w:withdraw|deposit] more than [n:10000] dollars in cash",
        "is it [h:better|wiser] to lease or buy a car",
        "what are the [w:pros|cons|tax rules] of [h:renting|leasing] a flat",
        "does the policy cover [w:every|only one|each] member of the household",
    ],
    "hr": [
        "how many vacation days do I get after [n:5] years",
        "can I carry over unused [w:vacation|sick] days to next year",
        "how do I [w:request|cancel] parental leave in [e:Workday|BambooHR|Personio]",
        "who approves expenses [w:above|below] [n:500] euros",
        "does [a:my manager] report to [b:the director of sales]",
        "how do I [h:update|change] my bank details for payroll",
        "is remote work allowed [w:in|outside] the country",
        "do [w:all|only senior|most] employees get a company laptop",
        "what are the [w:benefits|risks] of a four-day week",
    ],
    "ecommerce": [
        "how do I [w:return|exchange] a pair of shoes bought on sale",
        "can I [h:change|modify] the delivery address after the order shipped",
        "do you ship to [e:Norway|Australia|Chile] and how long does it take",
        "why is my order stuck [w:in processing|in transit|out for delivery]",
        "how do I apply a [h:promo|discount] code at checkout",
        "is there free shipping on orders [w:over|under] [n:50] dollars",
        "can I [w:pick up|ship] my order in store",
    ],
    "math": [
        "what is [n:15] percent of [n:80]",
        "how do I solve [n:3]x [w:+|-] [n:7] = [n:22]",
        "is [a:pi] greater than [b:22/7]",
        "how do I convert [a:Celsius] to [b:Fahrenheit]",
        "what is the [w:derivative|integral] of x squared",
        "how many ways can I arrange [n:6] books on a shelf",
        "what is the [w:area|perimeter] of a circle with radius [n:4]",
    ],
    "legal": [
        "can my landlord [w:raise|lower] the rent during a [n:12] month lease",
        "who owns the copyright when [a:an employee] writes code for [b:a contractor]",
        "how long do I have to [w:file|appeal] a small claims case in [e:California|Texas|Ontario]",
        "do I need a lawyer to [h:write|draft] a will",
        "is it legal to [w:record|share] a phone call without consent",
    ],
    "education": [
        "how do I [w:enroll in|drop] a course after the deadline",
        "can I take [e:calculus|physics|statistics] online for credit",
        "what score do I need on the [e:IELTS|TOEFL|SAT] for admission",
        "how many credits do I need to graduate with a [w:minor|major] in history",
        "does [a:the teacher] grade [b:the teaching assistant] papers",
    ],
}

CONTEXTS: list[tuple[str, str, list[list[str]]]] = [
    ("support", "Here is the email from the customer:\n\"Hi, I ordered the blue kettle (order 4471) on Monday. "
     "It arrived with a cracked lid and the box was soaked. I already paid for express shipping, which took "
     "five days instead of two. I would like either a replacement or my money back, and a refund of the "
     "shipping fee. Thanks, Dana\"",
     [["Summarize this email in one sentence.", "Give me a one-sentence summary of this email."],
      ["Write a polite reply that offers a replacement.", "Draft a courteous answer offering to send a replacement."],
      ["What is the customer angry about?", "What is the customer upset about?"],
      ["Translate this email into French.", "Put this email into French."]]),
    ("devops", "Log from the worker:\n2026-03-02T10:14:07Z INFO job 88 started\n2026-03-02T10:14:09Z WARN "
     "retrying upstream call (attempt 2)\n2026-03-02T10:14:12Z ERROR connection refused to db:5432\n"
     "2026-03-02T10:14:12Z INFO job 88 failed after 5s\n2026-03-02T10:15:00Z INFO job 89 started",
     [["Why did job 88 fail?", "What made job 88 fail?"],
      ["How long did job 88 run?", "How much time did job 88 take?"],
      ["Which job started last?", "What is the last job that started?"],
      ["Turn this log into a table.", "Format this log as a table."]]),
    ("ecommerce", "Order confirmation:\nItems: 2 x running socks ($12.00), 1 x trail shoes ($89.00)\n"
     "Shipping: standard, 3-5 business days ($4.99)\nDiscount: SPRING10 (-$10.00)\nPaid with Visa ending 4242",
     [["What is the total I paid?", "How much did I pay in total?"],
      ["When will my order arrive?", "When is my order going to arrive?"],
      ["Which card did I use?", "What card was used for payment?"],
      ["How much did the discount save me?", "How much did I save with the discount?"]]),
    ("education", "Essay draft:\nThe printing press changed Europe less through the books it made than "
     "through the arguments it allowed. Pamphlets could be printed overnight, answered within a week, "
     "and read aloud in taverns to people who could not read. Authority, once spoken from the pulpit, "
     "now had to compete.",
     [["Suggest a better title for this essay.", "Propose a stronger title for this essay."],
      ["Fix the grammar in this essay.", "Correct any grammar mistakes in this essay."],
      ["What is the main argument of this essay?", "What is the central claim of this essay?"],
      ["Make this essay shorter.", "Shorten this essay."]]),
    ("hr", "Meeting notes:\nAttendees: Priya, Tom, Lena. Decisions: the launch moves to May 14; Tom owns the "
     "pricing page; Lena hires two contractors for QA. Open: budget for the offsite is not approved yet. "
     "Next meeting Thursday.",
     [["List the action items with their owners.", "Give me the action items and who owns each."],
      ["When is the launch?", "What is the launch date?"],
      ["Write a short status email from these notes.", "Draft a brief status update email based on these notes."],
      ["What is still undecided?", "What has not been decided yet?"]]),
    ("programming", "Code:\ndef mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)",
     [["What does this function return for an empty list?", "What happens when this function gets an empty list?"],
      ["Add type hints to this function.", "Annotate this function with type hints."],
      ["Write unit tests for this function.", "Write some unit tests for this function."],
      ["Explain this code line by line.", "Walk me through this code line by line."]]),
]

ASK_FORMS = [
    ("how do I ", ["how can I ", "what's the way to ", "what are the steps to ", "how would I ", "how should I "]),
    ("how can I ", ["how do I ", "is there a way to ", "what's the best way to "]),
    ("can I ", ["is it possible to ", "am I able to ", "is it ok to "]),
    ("what is ", ["what's ", "tell me "]),
    ("how many ", ["what number of "]),
    ("is it ", ["would it be "]),
]
PREFIXES = ["hi! ", "hello team, ", "quick question: ", "hey, ", "good morning. ", "sorry to bother you, ",
            "hope you're well. ", "I was wondering: ", "could you tell me ", "please tell me ", "one more thing: "]
SUFFIXES = ["? thanks!", "? thanks in advance.", "? cheers", "? appreciate any help.", ", please?", "? thank you so much",
            "?? asking for a friend", "? I'm a bit lost."]
QUESTION_WORDS = ["why", "when", "where", "who"]
_SLOT = re.compile(r"\[([nehwab]):([^\]]+)\]")


def render(template: str, choose: dict[int, str] | None = None, swap: bool = False) -> str:
    """The template with each slot's first option, or ``choose[i]`` for the i-th slot."""
    choose = choose or {}
    sides = [m.group(2) for m in _SLOT.finditer(template) if m.group(1) in "ab"]

    counter = iter(range(1 << 16))

    def fill(m: re.Match[str]) -> str:
        i = next(counter)
        kind, options = m.group(1), m.group(2).split("|")
        if kind in "ab" and swap and len(sides) == 2:
            return sides[1] if kind == "a" else sides[0]
        return choose.get(i, options[0])

    return _SLOT.sub(fill, template)


def typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha() and w.islower()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = rng.choice([w[:j] + w[j + 1] + w[j] + w[j + 2:], w[:j] + w[j + 1:], w[:j] + w[j] + w[j:]])
    return " ".join(words)


def finish(text: str, rng: random.Random, polite: bool = False) -> str:
    text = text[0].upper() + text[1:]
    if polite:
        prefix = rng.choice(PREFIXES)
        text = prefix + text[0].lower() + text[1:] if prefix[-2] != "." else prefix + text
        return text[0].upper() + text[1:] + rng.choice(SUFFIXES)
    return text + "?"


def reword(text: str, rng: random.Random) -> str | None:
    for start, others in ASK_FORMS:
        if text.startswith(start):
            return rng.choice(others) + text[len(start):]
    return None


def surface(text: str, rng: random.Random) -> tuple[str, str]:
    """The same question in another form: the same transformations for hits and misses alike, so
    that only a change of meaning tells them apart. Returns (text, what was done)."""
    done = []
    if text.startswith("how do I ") and rng.random() < 0.2:
        rest = text[len("how do I "):]
        done.append("reordered")
        text = rng.choice([f"{rest}: how do I do that", f"I want to {rest}. What are the steps",
                           f"{rest}, how is that done"])
    elif rng.random() < 0.5:
        reworded = reword(text, rng)
        if reworded:
            text, _ = reworded, done.append("reworded")
    if rng.random() < 0.3:
        text, _ = typo(text, rng), done.append("typo")
    polite = rng.random() < 0.4
    if polite:
        done.append("chit-chat")
    text = finish(text, rng, polite)
    if rng.random() < 0.15:
        text, _ = re.sub(r"[?!.,:]", "", text.lower()), done.append("format")
    return text, "+".join(done) or "same"


def hits(template: str, rng: random.Random) -> list[tuple[str, str]]:
    meanings = [render(template)] * 3
    for i, m in enumerate(_SLOT.finditer(template)):
        if m.group(1) == "h":
            meanings += [render(template, {i: option}) for option in m.group(2).split("|")[1:]]
    out = []
    for meaning in meanings:
        text, done = surface(meaning, rng)
        if done != "same" or meaning != meanings[0]:
            out.append((text, ("synonym+" + done) if meaning != meanings[0] else done))
    return out


def misses(template: str, rng: random.Random) -> list[tuple[str, str]]:
    base = render(template)
    meanings: list[tuple[str, str]] = []
    slots = [m for m in _SLOT.finditer(template)]
    for i, m in enumerate(slots):
        kind, options = m.group(1), m.group(2).split("|")
        if kind == "n":
            other = str(int(options[0]) * rng.choice([2, 3, 10]) + rng.choice([0, 1]))
            meanings.append((render(template, {i: other}), "number"))
        elif kind == "e":
            meanings += [(render(template, {i: option}), "entity") for option in options[1:]]
        elif kind == "w":
            meanings += [(render(template, {i: option}), "meaning") for option in options[1:]]
    if any(m.group(1) == "a" for m in slots):
        meanings += [(render(template, swap=True), "direction")] * 2
    negated = _negate(base)
    if negated:
        meanings.append((negated, "negation"))
    first = base.split(" ")[0]
    if first in ("how", "what", "can", "is", "do", "does", "should"):
        rest = base.split(" ", 1)[1]
        meanings.append((f"{rng.choice(QUESTION_WORDS)} {rest}", "question"))
    return [(surface(meaning, rng)[0], kind) for meaning, kind in meanings]


def _aux(rest: str) -> str:
    return rest if rest.split(" ")[0] in ("do", "can", "is", "does", "should", "would") else rest


def _negate(text: str) -> str | None:
    for a, b in (("how do I ", "why can't I "), ("can I ", "can't I "), ("is it ", "isn't it "), ("do I ", "don't I "),
                 ("does ", "doesn't "), ("should I ", "shouldn't I "), ("is ", "isn't "), ("how can I ", "why can't I "),
                 ("what is ", "what is not ")):
        if text.startswith(a):
            return b + text[len(a):]
    return None


def context_pairs(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for domain, context, questions in CONTEXTS:
        for qi, (ask, same) in enumerate(questions):
            where = rng.choice(["before", "after"])
            a = f"{context}\n\n{ask}" if where == "after" else f"{ask}\n\n{context}"
            rows.append({"a": a, "b": f"{context}\n\n{same}", "label": "hit", "kind": "context-reworded", "domain": domain})
            rows.append({"a": a, "b": f"{same}\n\n{context}", "label": "hit", "kind": "context-reworded", "domain": domain})
            for other, _ in questions[qi + 1:]:
                rows.append({"a": a, "b": f"{context}\n\n{other}", "label": "miss", "kind": "context-question",
                             "domain": domain})
    return rows


def main() -> None:
    rng = random.Random(20261202)
    rows: list[dict[str, str]] = []
    position = 0
    for domain, templates in TEMPLATES.items():
        for template in templates:
            split = "calib" if position % 5 == 4 else "train"
            position += 1
            a = finish(render(template), rng)
            for b, kind in hits(template, rng):
                rows.append({"a": a, "b": b, "label": "hit", "kind": kind, "domain": domain, "split": split})
            for b, kind in misses(template, rng):
                rows.append({"a": a, "b": b, "label": "miss", "kind": kind, "domain": domain, "split": split})
    calib_domain = CONTEXTS[-1][0]
    for row in context_pairs(rng):
        row["split"] = "calib" if row["domain"] == calib_domain else "train"
        rows.append(row)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    by = {(s, lab): sum(1 for r in rows if r["split"] == s and r["label"] == lab) for s in ("train", "calib")
          for lab in ("hit", "miss")}
    print(f"{len(rows)} pairs -> {OUT}: {by}")


if __name__ == "__main__":
    main()
