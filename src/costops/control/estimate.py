"""What a request may cost at most, before it is sent: the amount a budget reserves.

Input tokens are counted with the model's own tokenizer where one exists offline (OpenAI's),
estimated elsewhere; output is the request's own cap (``max_tokens``, ``max_completion_tokens``,
times ``n`` choices), or the configured expectation for the model when it names none. Priced
with the same tables that price the answer, so a request that uses its whole cap settles at
about its reservation and never far above it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from costops.config import Deployment
from costops.pricing.quote import Pricer
from costops.tokens import content_text, counter

if TYPE_CHECKING:
    from costops.pipeline.contract import Call

PROMPT_TOKENS = "prompt_tokens"
"""``call.state`` key of the prompt's token count, shared by the stages that estimate."""


def input_tokens(api: str, endpoint: str, body: dict[str, Any], model: str) -> int:
    tokens = counter(model)
    if endpoint == "embeddings":
        items = body.get("input")
        if isinstance(items, list) and items and all(isinstance(i, int) for i in items):
            return len(items)  # one input already given as token ids
        items = items if isinstance(items, list) else [items]
        return sum(len(i) if isinstance(i, list) else tokens.count(content_text(i)) for i in items)
    messages = body.get("messages")
    messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    if api == "anthropic" and body.get("system"):
        messages = [{"role": "system", "content": body["system"]}, *messages]
    return tokens.count_messages(messages, body.get("tools"))


def call_input_tokens(call: Call) -> int:
    """``input_tokens`` of the call, counted once per request: the limits and the budgets stage
    both need it, and tokenizing the prompt is the largest cost either has. Counted again only
    when a stage changed the body (a new dict) or the model (a downgrade) in between."""
    seen = call.state.get(PROMPT_TOKENS)
    if seen is not None and seen[0] is call.body and seen[1] == call.model:
        return int(seen[2])
    n = input_tokens(call.api, call.endpoint, call.body, call.model)
    call.state[PROMPT_TOKENS] = (call.body, call.model, n)
    return n


def output_tokens(api: str, endpoint: str, body: dict[str, Any], expected: int) -> int:
    if endpoint == "embeddings":
        return 0
    cap = body.get("max_completion_tokens") if api == "openai" else None
    if cap is None:
        cap = body.get("max_tokens")
    if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
        cap = expected
    choices = body.get("n") if api == "openai" else 1
    return cap * (choices if isinstance(choices, int) and choices > 1 else 1)


def estimate_nanos(
    pricer: Pricer,
    api: str,
    endpoint: str,
    body: dict[str, Any],
    deployment: Deployment | None,
    model: str,
    expected_output: Callable[[str], int],
    prompt_tokens: int | None = None,
    at: float | None = None,
) -> tuple[int, bool]:
    """(the most this request should cost in nano-dollars, whether its model has a price).
    An unpriced model reserves nothing: its calls are recorded as unpriced, not charged.
    ``prompt_tokens``: the prompt's count when the caller has it (:func:`call_input_tokens`);
    ``at``: when the call was made (its prices), the clock if omitted."""
    tier = body.get("service_tier")
    nanos = pricer.estimate_nanos(
        deployment, model,
        input_tokens(api, endpoint, body, model) if prompt_tokens is None else prompt_tokens,
        output_tokens(api, endpoint, body, expected_output(model)),
        service_tier=tier if isinstance(tier, str) else None, at=at,
    )
    return (0, False) if nanos is None else (nanos, True)
