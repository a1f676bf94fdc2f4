"""What a request may cost at most, before it is sent: the amount a budget reserves.

Input tokens are counted with the model's own tokenizer where one exists offline (OpenAI's),
estimated elsewhere; the part of the prompt a ``cache_control`` breakpoint will write to the
provider's cache (the client's own, or those the prompt-cache stage will add) is priced at the
write premium (1.25x for 5 min, 2x for 1 h on Anthropic), since a write costs more than plain
input and a read less. Output is the request's own cap (``max_tokens``, ``max_completion_tokens``,
times ``n`` choices).

A request that names no cap gets one from costops (:class:`Hold`): it reserves the model's
maximum output, or, when the budget has less room, as much as the room pays for but at least
the expected output, and the cap it was granted is sent upstream, so the provider itself stops
the answer where the reservation ends. Priced with the same tables that price the answer, so a
call never settles above its reservation (but for the tokenizer's estimate of the prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from costops.config import Deployment
from costops.pricing.quote import Pricer
from costops.tokens import content_text, counter
from costops.usage import Usage

if TYPE_CHECKING:
    from costops.pipeline.contract import Call

PROMPT_TOKENS = "prompt_tokens"
"""``call.state`` key of the prompt's token count, shared by the stages that estimate."""
OUTPUT_CAP = "output_cap"
"""``call.state`` key of (body, the client's cap per choice, choices): :func:`call_cap`."""


def input_tokens(api: str, endpoint: str, body: dict[str, Any], model: str) -> int:
    tokens = counter(model)
    if endpoint == "embeddings":
        items = body.get("input")
        if isinstance(items, list) and items and all(isinstance(i, int) for i in items):
            return len(items)  # one input already given as token ids
        items = items if isinstance(items, list) else [items]
        return sum(len(i) if isinstance(i, list) else tokens.count(content_text(i)) for i in items)
    messages = body.get("messages")
    if isinstance(messages, list):  # the messages that are objects: the list itself when all are
        for m in messages:
            if not isinstance(m, dict):
                messages = [m for m in messages if isinstance(m, dict)]
                break
    else:
        messages = []
    if api == "anthropic" and body.get("system"):
        messages = [{"role": "system", "content": body["system"]}, *messages]
    return tokens.count_messages(messages, body.get("tools"))


def call_input_tokens(call: Call) -> int:
    """``input_tokens`` of the call, counted once per request: the limits and the budgets stage
    both need it, and tokenizing the prompt is the largest cost either has. Counted again only
    when a stage changed the body (a new dict) or the model (a downgrade) in between."""
    seen = call.state.get(PROMPT_TOKENS)
    if seen is not None and seen[0] is call.body and seen[1] == call.model:
        return seen[2]  # type: ignore[no-any-return]
    n = input_tokens(call.api, call.endpoint, call.body, call.model)
    call.state[PROMPT_TOKENS] = (call.body, call.model, n)
    return n


def call_cap(call: Call) -> tuple[dict[str, Any], int | None, int]:
    """(body, :func:`client_cap`, :func:`choices`) of the call's body, read once per body: the
    limits' estimate and the budgets' hold both need them. Read again when a stage replaced the
    body (the cap costops sets, a readmit dropping it); a downgrade changes the model, not the
    body, and the cap is the body's alone."""
    state, body = call.state, call.body
    seen = state.get(OUTPUT_CAP)
    if seen is not None and seen[0] is body:
        return seen  # type: ignore[no-any-return]
    api = call.api
    if call.endpoint == "embeddings":
        cap: Any = 0
    else:  # client_cap(), inlined
        cap = body.get("max_completion_tokens") if api == "openai" else None
        if cap is None:
            cap = body.get("max_tokens")
        if type(cap) is not int or cap <= 0:  # not a bool, nor an int subclass
            cap = None
    seen = (body, cap, choices(api, body) if "n" in body else 1)
    state[OUTPUT_CAP] = seen
    return seen


def client_cap(api: str, endpoint: str, body: dict[str, Any]) -> int | None:
    """The output cap per choice the request names itself (0 for embeddings), or None."""
    if endpoint == "embeddings":
        return 0
    cap = body.get("max_completion_tokens") if api == "openai" else None
    if cap is None:
        cap = body.get("max_tokens")
    return cap if type(cap) is int and cap > 0 else None  # not a bool, nor an int subclass


def choices(api: str, body: dict[str, Any]) -> int:
    n = body.get("n") if api == "openai" else 1
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


def output_tokens(api: str, endpoint: str, body: dict[str, Any], expected: int) -> int:
    cap = client_cap(api, endpoint, body)
    return (expected if cap is None else cap) * choices(api, body)


class Hold(NamedTuple):
    """What one request reserves in nano-dollars: ``most`` when the budget has room, down to
    ``least`` when costops sets the request's output cap itself (``cap`` given). A named tuple
    (built in C), one per request: see :class:`costops.control.admission.Level`."""

    most: int
    least: int
    priced: bool
    cap: tuple[int, int, int] | None = None
    """(fewest, most output tokens per choice, choices) when the client named no cap."""

    def uncapped(self) -> Hold:
        """The hold when costops sets no cap (no budget would refuse the most): the least."""
        return Hold(self.least, self.least, self.priced)

    def cap_for(self, held: int) -> int:
        """The output cap per choice that ``held`` nanos pay for (cost is linear in output tokens)."""
        assert self.cap is not None
        lo, hi, n = self.cap
        if self.most <= self.least or held >= self.most:
            return hi
        total = lo * n + (max(held, self.least) - self.least) * (hi - lo) * n // (self.most - self.least)
        return max(1, min(hi, total // n))


def hold_for(
    pricer: Pricer,
    api: str,
    endpoint: str,
    body: dict[str, Any],
    deployment: Deployment | None,
    model: str,
    expected_output: Callable[[str], int],
    max_output: Callable[[str, Deployment | None], int],
    prompt_tokens: int,
    writes: tuple[int, int] = (0, 0),
    at: float | None = None,
    capped: tuple[Any, int | None, int] | None = None,
) -> Hold:
    """The hold for one request. An unpriced model reserves nothing: its calls are recorded as
    unpriced, not charged. ``writes``: (5 min, 1 h) cache-write tokens among ``prompt_tokens``.
    ``capped``: the body's :func:`call_cap`, when the caller has it (else read here)."""
    tier = body.get("service_tier")
    tier = tier if isinstance(tier, str) else None
    w5, w1 = writes
    if capped is None:
        cap, n = client_cap(api, endpoint, body), choices(api, body)
    else:
        _, cap, n = capped
    if cap is not None and not (w5 or w1):  # the common case: the client's cap, no cache writes
        nanos = pricer.estimate_nanos(deployment, model, prompt_tokens, cap * n, service_tier=tier, at=at)
        return _UNPRICED if nanos is None else Hold(nanos, nanos, True)
    plain = max(0, prompt_tokens - w5 - w1)

    def cost(out: int) -> int | None:
        if not (w5 or w1):
            return pricer.estimate_nanos(deployment, model, plain, out, service_tier=tier, at=at)
        usage = Usage(input_tokens=plain, cache_write_5m_tokens=w5, cache_write_1h_tokens=w1, output_tokens=out)
        return pricer.usage_nanos(deployment, model, usage, service_tier=tier, at=at)

    if cap is not None:
        nanos = cost(cap * n)
        return _UNPRICED if nanos is None else Hold(nanos, nanos, True)
    hi = max_output(model, deployment)
    lo = min(expected_output(model), hi)
    most, least = cost(hi * n), cost(lo * n)
    if most is None or least is None:
        return _UNPRICED
    return Hold(most, least, True, (lo, hi, n))


_UNPRICED = Hold(0, 0, False)
