"""Gateway-observed spend against provider-billed spend, per UTC day and model: a pure function
of the two sides, so it is tested on any numbers.

A (day, model) is a discrepancy when the two costs differ by more than the tolerance (the larger
of an absolute amount and a share of the larger side). Its likely cause is read from the tokens,
which both sides count:

1. the provider counted more tokens than the gateway saw: **calls that bypassed the gateway**
   (another key, a script calling the provider directly); the provider's request count, when it
   gives one, says how many calls;
2. the tokens agree but the gateway has calls it recorded without a price: **unpriced calls**
   (add the price, then ``costops reprice``);
3. the tokens agree and everything was priced: **a price change** the gateway's prices do not
   have (the billed rate per token is quoted against the gateway's);
4. the gateway counted more than the provider billed: attempts the provider did not bill, or a
   report that is not final yet (providers' reports lag by hours).

Model names are matched without a date suffix (``gpt-4o-mini-2024-07-18`` is ``gpt-4o-mini``):
providers bill snapshots, clients ask for aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costops.billing.bills import BillLine
from costops.money import from_nanos

_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
TOKEN_SLACK = Decimal("0.005")
"""Token counts within 0.5 % are "the same" (estimates for a broken-off stream, rounding)."""


def base_model(name: str) -> str:
    return _SNAPSHOT.sub("", name or "")


@dataclass(frozen=True, slots=True)
class Tolerance:
    usd: Decimal = Decimal("0.01")
    pct: Decimal = Decimal("1")

    def allows(self, billed: Decimal, observed: Decimal) -> bool:
        return abs(billed - observed) <= max(self.usd, max(abs(billed), abs(observed)) * self.pct / 100)


@dataclass(slots=True)
class Side:
    cost: Decimal = Decimal(0)
    tokens: int = 0
    requests: int | None = None
    unpriced: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    day: str
    model: str
    billed: Side
    observed: Side
    ok: bool
    cause: str | None
    """``bypassed``, ``unpriced``, ``price_change``, ``not_billed``, or None when within tolerance."""
    explanation: str

    @property
    def difference(self) -> Decimal:
        return self.billed.cost - self.observed.cost


def observed_sides(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Side]:
    """The ledger's ``aggregate(["day", "model"])`` rows as sides, by (day, base model)."""
    out: dict[tuple[str, str], Side] = {}
    for r in rows:
        key = (str(r["day"]), base_model(str(r["model"] or "")))
        side = out.setdefault(key, Side(requests=0))
        side.cost += from_nanos(int(r["cost_nanos"]))
        side.tokens += sum(int(r[k]) for k in ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                                               "cache_write_1h_tokens", "output_tokens"))
        side.requests = (side.requests or 0) + int(r["requests"]) - int(r["errors"])
        side.unpriced += int(r["unpriced"])
    return out


def billed_sides(lines: Iterable[BillLine]) -> dict[tuple[str, str], Side]:
    out: dict[tuple[str, str], Side] = {}
    for line in lines:
        side = out.setdefault((line.day, base_model(line.model)), Side())
        side.cost += line.cost
        side.tokens += line.tokens
        if line.requests is not None:
            side.requests = (side.requests or 0) + line.requests
    return out


def reconcile(billed: Mapping[tuple[str, str], Side], observed: Mapping[tuple[str, str], Side],
              tolerance: Tolerance = Tolerance()) -> list[Finding]:
    findings = []
    for key in sorted(set(billed) | set(observed)):
        b, o = billed.get(key, Side()), observed.get(key, Side())
        ok = tolerance.allows(b.cost, o.cost)
        cause, why = (None, "within tolerance") if ok else explain(b, o, key in observed, key in billed)
        findings.append(Finding(key[0], key[1], b, o, ok, cause, why))
    return findings


def explain(b: Side, o: Side, seen: bool, was_billed: bool) -> tuple[str, str]:
    """The likely cause of a discrepancy between billed ``b`` and observed ``o``."""
    gap = b.tokens - o.tokens
    same_tokens = abs(gap) <= max(o.tokens, b.tokens) * TOKEN_SLACK
    if not seen:
        return "bypassed", (f"the provider billed ${_usd(b.cost)} for {b.tokens:,} tokens of a model the gateway never "
                            "saw that day: every such call bypassed the gateway")
    if not was_billed:
        return "not_billed", ("the provider billed nothing for calls the gateway recorded: its report may not be final "
                              "yet, or it billed them under another model name")
    if gap > 0 and not same_tokens:
        calls = ""
        if b.requests is not None and o.requests is not None and b.requests > o.requests:
            calls = f" in {b.requests - o.requests:,} more request(s)"
        share = Decimal(gap) / Decimal(max(b.tokens, 1)) * 100
        return "bypassed", (f"calls that bypassed the gateway: the provider counted {gap:,} more tokens{calls} "
                            f"({share:.0f} % of what it billed) than the gateway saw")
    if o.unpriced and same_tokens:
        return "unpriced", (f"unpriced calls: the gateway recorded {o.unpriced:,} call(s) of this model without a "
                            "price (counted as $0, not free); add its price under `prices:` and run `costops reprice`")
    if same_tokens and o.cost > 0:
        ratio = b.cost / o.cost
        return "price_change", (f"a price change: the same tokens were billed at {ratio:.3f} x the gateway's price; "
                                "update the prices (a newer genai-prices, or a `prices:` override), then "
                                "`costops reprice --all`")
    return "not_billed", ("the gateway counted more than the provider billed: attempts the provider did not bill "
                          "(timeouts priced as estimates), or its report is not final yet")


def _usd(value: Decimal) -> str:
    from costops.money import usd_str

    return usd_str(value.quantize(Decimal("0.000001")) if value else value)
