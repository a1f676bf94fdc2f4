"""A realistic, deterministic LLM workload for the demo and the what-if replays.

Real traffic is not uniform: a few tenants and features dominate spend; support bots answer
the same questions again and again (a Zipf-shaped head of repeats); assistants carry long,
stable system prompts (what provider prompt caching is for); some teams run premium models on
tasks a small model would do. This generator draws such a workload from a seed, so every run
of the demo, and every later "what if" comparison, sees the same requests.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class WorkItem:
    tenant: str
    project: str
    feature: str
    task: str
    api: str
    """``openai`` (Chat Completions) or ``anthropic`` (Messages): the SDK the app uses."""
    body: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"tenant": self.tenant, "project": self.project, "feature": self.feature, "task": self.task,
             "api": self.api, "body": self.body, "tags": self.tags}
        )

    @classmethod
    def from_json(cls, line: bytes | str) -> WorkItem:
        d = orjson.loads(line)
        return cls(d["tenant"], d["project"], d.get("feature", ""), d.get("task", ""), d.get("api", "openai"),
                   d["body"], d.get("tags") or {})


# (tenant, project, feature, task, model, api, weight)
APPS: tuple[tuple[str, str, str, str, str, str, float], ...] = (
    ("acme", "support-bot", "faq", "qa", "gpt-4o", "openai", 0.22),
    ("acme", "support-bot", "ticket-triage", "classify", "gpt-4o", "openai", 0.08),
    ("acme", "docs-assistant", "summaries", "summarize", "claude-sonnet-4-6", "anthropic", 0.10),
    ("globex", "code-assistant", "completion", "code", "claude-sonnet-4-6", "openai", 0.14),
    ("globex", "code-assistant", "review", "code", "gpt-5.4", "openai", 0.06),
    ("globex", "analytics", "extraction", "extract", "gpt-4o-mini", "openai", 0.12),
    ("initech", "marketing", "copy", "creative", "gemini-2.5-flash", "openai", 0.08),
    ("initech", "marketing", "translation", "translate", "claude-haiku-4-5", "anthropic", 0.06),
    ("initech", "chat", "assistant", "chat", "gemini-2.5-pro", "openai", 0.08),
    ("initech", "chat", "search", "qa", "gpt-5.4-mini", "openai", 0.06),
)

_PRODUCTS = ("Starter plan", "Pro plan", "Enterprise plan", "mobile app", "API", "dashboard", "billing portal",
             "SSO integration", "data export", "webhooks")
# Each FAQ intent in the words different users choose: the exact cache catches the repeats, a
# semantic cache the paraphrases.
_FAQ = (
    ("How do I reset my password for the {p}?", "how can I reset the password of my {p}",
     "I forgot my {p} password, how do I reset it?"),
    ("What does the {p} cost per month?", "How much is the {p} per month?", "monthly price of the {p}?"),
    ("Can I cancel the {p} at any time?", "Is it possible to cancel the {p} whenever I want?",
     "can i cancel my {p} anytime"),
    ("Why was I charged twice for the {p}?", "I was billed twice for the {p}, why?",
     "Why did you charge me two times for the {p}?"),
    ("How do I add a team member to the {p}?", "How can I add a colleague to the {p}?",
     "add a new team member to {p}"),
    ("Does the {p} support two-factor authentication?", "Is two-factor authentication available for the {p}?",
     "does {p} have 2FA"),
    ("Where can I download invoices for the {p}?", "Where do I find my invoices for the {p}?",
     "how to download {p} invoices"),
    ("Is there a free trial of the {p}?", "Can I try the {p} for free?", "does the {p} have a free trial"),
)
_TICKETS = (
    "Customer writes: my {p} stopped syncing after the last update and I lost an hour of work.",
    "Customer writes: I love the {p}, but can you add dark mode?",
    "Customer writes: the {p} shows an error 500 when I upload a CSV larger than 10 MB.",
    "Customer writes: please refund my last payment for the {p}, I upgraded by mistake.",
)
# Code work in many shapes: each request picks a job, a subject and a language, so the prompts
# differ (hundreds of distinct ones) and a router has words to learn from, as in real traffic.
_CODE_JOBS = (
    "Write a {lang} function that {what}.",
    "Write a {lang} function that {what}, with unit tests.",
    "Review this {lang} code that {what} for bugs and edge cases.",
    "Explain step by step how a {lang} implementation that {what} works.",
    "Refactor a {lang} module that {what} into small, typed functions.",
    "Find the performance problem in a {lang} routine that {what}.",
)
_CODE_WHAT = (
    "parses ISO-8601 durations like PT1H30M into seconds", "returns the top 5 customers by revenue",
    "slugifies a title", "implements an LRU cache with get and put in O(1)",
    "merges overlapping time intervals", "validates an email address", "retries an HTTP call with backoff",
    "deduplicates a list while keeping order", "computes a moving average over a stream",
    "reads a CSV file and sums a column", "walks a directory tree and finds duplicate files",
    "schedules jobs with a priority queue", "guards a shared map written from two threads",
    "paginates a SQL query with a keyset cursor", "diffs two JSON documents",
    "rate-limits calls with a token bucket", "parses command-line flags", "formats money with two decimals",
)
_CODE_LANGS = ("Python", "TypeScript", "Go", "Rust", "Java", "SQL")
_DOCS = (
    "Quarterly report: revenue grew 12% to $4.2M, driven by the Enterprise plan; churn fell to 2.1%; "
    "headcount rose from 48 to 55; the mobile app launch slipped to Q3 because of an SDK dependency. ",
    "Incident review: at 14:02 UTC the billing service failed over to the secondary database; writes were "
    "rejected for 11 minutes; 312 invoices were retried; root cause was an expired TLS certificate. ",
    "Meeting notes: the team agreed to deprecate API v1 by March, publish a migration guide, extend support "
    "for three enterprise customers, and revisit pricing for the Starter plan next quarter. ",
)
_TRANSLATE = ("Welcome back! Your order has shipped.", "Your subscription renews on the 1st of each month.",
              "We could not process your payment. Please update your card.", "Thanks for your feedback!",
              "Your password was changed. If this was not you, contact support.",
              "The {p} will be down for maintenance on Sunday night.", "Your invoice for the {p} is ready.",
              "Invite your team to the {p} and work together.")
_LANGS = ("French", "German", "Spanish", "Japanese", "Portuguese", "Italian", "Dutch", "Korean")
_CHAT = ("What's a good name for a coffee shop that is also a bookstore?", "Explain {topic} to a teenager.",
         "Plan a three-day trip to {city} on a budget.", "What are the pros and cons of {topic}?",
         "Give me a 20-minute bodyweight workout.", "How does {topic} work, in simple words?",
         "Write a short history of {topic}.", "What should I pack for a week in {city}?",
         "Compare {topic} with its main alternative.")
_TOPICS = ("compound interest", "remote work", "vaccines", "solar power", "index funds", "sleep cycles",
           "electric cars", "the immune system", "inflation", "machine translation", "composting", "jet lag")
_CITIES = ("Lisbon", "Kyoto", "Mexico City", "Oslo", "Cape Town", "Montreal", "Hanoi", "Edinburgh")
_CREATIVE = ("Write a tagline for the {p}.", "Write a short product announcement for the new {p}.",
             "Write three subject lines for an email about the {p}.", "Write a tweet launching the {p} for {aud}.",
             "Write a landing-page headline for the {p} aimed at {aud}.")
_AUDIENCES = ("startups", "hospitals", "schools", "agencies", "retailers", "banks")

_SUPPORT_SYSTEM = (
    "You are Acme's support assistant. Answer briefly and politely. Policies: refunds within 30 days of "
    "purchase; plans can be cancelled at any time from Settings > Billing; invoices are under Billing > "
    "History; two-factor authentication is available on every plan; team members are added from Settings > "
    "Team; the Enterprise plan includes SSO and a 99.9% SLA. Never promise features that are not listed. "
)
_CODE_SYSTEM = (
    "You are a senior engineer pair-programming with the user. Prefer clear, idiomatic code with tests. "
    "Follow the team's style guide: type hints everywhere, small functions, docstrings that say why, no "
    "global state, errors that name what to fix. When reviewing, list concrete issues first, then fixes. "
)


def _long(text: str, tokens_wanted: int) -> str:
    """Repeat a policy text into a long, stable system prompt (what prompt caching rewards)."""
    return (text * (tokens_wanted // 60 + 1))[: tokens_wanted * 4]


def _faq_question(rng: random.Random) -> str:
    """A popular question (Zipf over intent x product), in one of the ways people ask it."""
    intents = [(phrasings, prod) for phrasings in _FAQ for prod in _PRODUCTS]
    phrasings, prod = intents[_zipf_index(rng, len(intents))]
    return rng.choice(phrasings).format(p=prod)


def _zipf_index(rng: random.Random, n: int, s: float = 1.1) -> int:
    return rng.choices(range(n), [1 / (i + 1) ** s for i in range(n)])[0]


def _prompt(rng: random.Random, task: str, feature: str) -> tuple[str | None, str, int]:
    """(system prompt, user message, max_tokens)."""
    p = rng.choice(_PRODUCTS)
    if task == "qa" and feature == "faq":
        return _long(_SUPPORT_SYSTEM, 1400), _faq_question(rng), 300
    if task == "classify":
        return ("Classify the ticket as one of: bug, feature_request, billing, praise. Answer with the label only.",
                rng.choice(_TICKETS).format(p=p), 10)
    if task == "summarize":
        doc = "".join(rng.choice(_DOCS) for _ in range(rng.randint(3, 12)))
        return "Summarize the document in three bullet points.", doc, 400
    if task == "code":
        job = rng.choice(_CODE_JOBS).format(lang=rng.choice(_CODE_LANGS), what=rng.choice(_CODE_WHAT))
        return _long(_CODE_SYSTEM, 1200), job, 1200
    if task == "extract":
        doc = rng.choice(_DOCS) + (f"Q{rng.randint(1, 4)} bookings: {rng.randint(100, 999)} orders worth "
                                   f"${rng.randint(10, 99)}k from {rng.randint(2, 40)} countries.")
        return "Extract every number with its unit and meaning as JSON.", doc, 300
    if task == "translate":
        return None, f"Translate into {rng.choice(_LANGS)}: {rng.choice(_TRANSLATE).format(p=p)}", 120
    if task == "creative":
        return "You write upbeat marketing copy.", rng.choice(_CREATIVE).format(p=p, aud=rng.choice(_AUDIENCES)), 200
    if task == "qa":
        return None, _faq_question(rng), 300
    return None, rng.choice(_CHAT).format(topic=rng.choice(_TOPICS), city=rng.choice(_CITIES)), 600


def generate(n: int = 4000, seed: int = 7) -> Iterator[WorkItem]:
    rng = random.Random(seed)
    weights = [a[-1] for a in APPS]
    for _ in range(n):
        tenant, project, feature, task, model, api, _w = rng.choices(APPS, weights)[0]
        system, user, max_tokens = _prompt(rng, task, feature)
        deterministic = task in ("qa", "classify", "extract", "translate")
        tags = {"feature": feature, "env": "prod" if rng.random() < 0.9 else "staging"}
        if api == "anthropic":
            body: dict[str, Any] = {"model": model, "max_tokens": max_tokens,
                                    "messages": [{"role": "user", "content": user}]}
            if system:
                body["system"] = system
            if deterministic:
                body["temperature"] = 0
        else:
            messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
            if task == "chat" and rng.random() < 0.4:  # a follow-up turn in a conversation
                messages += [{"role": "assistant", "content": "Here is a first answer."},
                             {"role": "user", "content": "Can you go into more detail on the second point?"}]
            # OpenAI's reasoning models take max_completion_tokens (and refuse max_tokens)
            limit = "max_completion_tokens" if model.startswith(("gpt-5", "o1", "o3", "o4")) else "max_tokens"
            body = {"model": model, "messages": messages, limit: max_tokens}
            if deterministic:
                body["temperature"] = 0
            if task == "extract":
                body["response_format"] = {"type": "json_object"}
            if rng.random() < 0.3:
                body["stream"] = True
        yield WorkItem(tenant, project, feature, task, api, body, tags)


# Each task's hidden difficulty (mean, spread) on the simulator's grading scale (the logits of
# costops.providers.simulator.grading): labels and FAQ answers are easy, code is hard. The
# simulator grades answers against it; no request carries it.
DIFFICULTY: dict[str, tuple[float, float]] = {
    "classify": (-2.5, 0.8),
    "qa": (-2.2, 0.8),
    "translate": (-2.0, 0.8),
    "extract": (-1.0, 0.9),
    "summarize": (-0.8, 0.9),
    "creative": (-0.8, 0.9),
    "chat": (-0.5, 1.0),
    "code": (0.8, 1.0),
}


def user_text(body: dict[str, Any]) -> str:
    """The user turns' text, as the simulator reads an item from a request."""
    from costops.tokens import content_text

    return "\n".join(content_text(m.get("content")) for m in body.get("messages") or () if m.get("role") == "user")


def difficulties(items: Iterable[WorkItem], seed: int = 7) -> dict[str, float]:
    """Each distinct prompt's hidden difficulty, keyed as the simulator looks it up:
    ``SimConfig(grading=Grading(difficulties=...))``. Draws are standardized within each task, so
    a task's prompts realize its :data:`DIFFICULTY` (a task of a few similar prompts would
    otherwise sit wherever its shared words happened to fall)."""
    from costops.providers.simulator.grading import draw_difficulty, item_key

    draws: dict[str, dict[str, float]] = {}
    for item in items:
        text = user_text(item.body)
        task, key = item.task if item.task in DIFFICULTY else "chat", item_key(text)
        if key not in draws.setdefault(task, {}):
            draws[task][key] = draw_difficulty(text, 0.0, 1.0, seed=seed)
    table: dict[str, float] = {}
    for task, by_key in draws.items():
        mean, spread = DIFFICULTY[task]
        values = list(by_key.values())
        centre = sum(values) / len(values)
        sd = (sum((v - centre) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
        table.update({key: mean + spread * (z - centre) / sd for key, z in by_key.items()})
    return table
