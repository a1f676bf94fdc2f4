"""What task a prompt asks for (translate, summarize, classify, extract, code, creative,
reasoning, or chat), by keywords: a pure function of the text, cheap enough for every request.

Shared by the gateway's ``tiered`` routing policy (when no tag names the task) and the provider
simulator (whose answer lengths and item difficulties depend on the task), so both read a
prompt the same way. It is a coarse reading, meant as a default: a client that knows its task
says so in a tag (``x-costops-tags: task=code``), which wins.
"""

from __future__ import annotations

TASKS = ("translate", "summarize", "classify", "extract", "code", "creative", "reasoning", "chat")

# (task, keywords); the first task with a keyword in the prompt wins, so the order matters. A
# keyword matches at the start of a word ("summar" finds "summary"; "story" not "history").
_TASKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("translate", ("translate", "translation", "into french", "into spanish", "into german")),
    ("summarize", ("summar", "tl;dr", "tldr", "condense", "key points", "recap")),
    ("classify", ("classify", "categori", "sentiment", "label", "which category", "yes or no", "true or false")),
    ("extract", ("extract", "parse", "pull out", "list all", "identify the", "named entit")),
    ("code", ("code", "function", "python", "javascript", "typescript", "sql", "postgres", "mysql", "implement", "refactor", "bug", "def ", "```")),
    ("creative", ("story", "poem", "essay", "creative", "blog post", "article", "lyrics", "novel")),
    ("reasoning", ("step by step", "prove", "solve", "calculate", "how many", "math", "puzzle")),
)


def classify_task(text: str) -> str:
    """The first task whose keyword starts a word of ``text``; ``chat`` when none does."""
    low = text.lower()
    for task, keywords in _TASKS:
        for keyword in keywords:
            at = low.find(keyword)
            while at >= 0:
                if at == 0 or not low[at - 1].isalpha():
                    return task
                at = low.find(keyword, at + 1)
    return "chat"


