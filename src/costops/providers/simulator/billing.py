"""The provider's side of the bill: the usage and cost report APIs, served from what the
simulator answered, so reconciliation (``costops reconcile``) is tested offline.

Every answered chat call is logged (day, API, model, billed tokens) and the reports are built
from that log, in the public shapes:

- OpenAI: ``GET /v1/organization/usage/completions`` (tokens and ``num_model_requests`` per
  model and day bucket; ``input_tokens`` includes ``input_cached_tokens``) and
  ``GET /v1/organization/costs`` (``amount: {value, currency: "usd"}`` per ``line_item``, such
  as ``"gpt-4o-mini, input"``);
- Anthropic: ``GET /v1/organizations/usage_report/messages`` (``uncached_input_tokens``,
  ``cache_read_input_tokens``, ``cache_creation.ephemeral_5m_input_tokens`` / ``_1h``,
  ``output_tokens`` per model) and ``GET /v1/organizations/cost_report`` (``amount``: a decimal
  string in cents, per model and ``token_type``).

Both paginate with ``has_more`` / ``next_page`` over day buckets. Prices come from the
simulator's catalog at list price. :class:`BillSkew` makes the bill differ from what was served
the ways real bills do: calls made around the gateway (``bypass``: extra calls per model and
day, each like that day's average call), a price the gateway does not know yet (``price_factor``
per model).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costops.usage import Usage

DAY = 86400
TOKEN_TYPES = (  # Anthropic's token_type, the Usage field, OpenAI's line item suffix
    ("uncached_input_tokens", "input_tokens", "input"),
    ("cache_read_input_tokens", "cache_read_tokens", "cached input"),
    ("cache_creation.ephemeral_5m_input_tokens", "cache_write_5m_tokens", "cache write 5m"),
    ("cache_creation.ephemeral_1h_input_tokens", "cache_write_1h_tokens", "cache write 1h"),
    ("output_tokens", "output_tokens", "output"),
)


@dataclass(frozen=True, slots=True)
class BillSkew:
    bypass: Mapping[str, int] = field(default_factory=dict)
    """Model -> calls per day billed that never went through the gateway."""
    price_factor: Mapping[str, Decimal] = field(default_factory=dict)
    """Model -> what the provider bills over the catalog's list price (1.25: 25 % more)."""


@dataclass(slots=True)
class Day:
    calls: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class BillingLog:
    """What the simulator answered, per (API, UTC day, model)."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, int, str], Day] = {}

    def add(self, api: str, ts: float, model: str, usage: Usage) -> None:
        key = (api, int(ts // DAY * DAY), model)
        day = self.days.get(key)
        if day is None:
            day = self.days[key] = Day()
        day.calls += 1
        for _, name, _ in TOKEN_TYPES:
            day.tokens[name] += getattr(usage, name)

    def billed(self, api: str, skew: BillSkew) -> dict[tuple[int, str], Day]:
        """Per (day, model): what the provider bills, the skew's bypassed calls included."""
        out: dict[tuple[int, str], Day] = {}
        for (kind, day, model), seen in self.days.items():
            if kind != api:
                continue
            extra = skew.bypass.get(model, 0)
            billed = Day(seen.calls + extra)
            for name, count in seen.tokens.items():
                billed.tokens[name] = count + (count * extra) // max(seen.calls, 1)
            out[day, model] = billed
        return out


def _price(catalog: Any, api: str, model: str, name: str, count: int, at: float, skew: BillSkew) -> Decimal:
    """List cost of ``count`` tokens of one kind, times the skew's factor for the model."""
    from costops.pricing.quote import Pricer

    quote = Pricer(catalog).quote(None, model, Usage(**{name: count}), at=at)
    return quote.list_cost.total * skew.price_factor.get(model, Decimal(1))


def _window(query: Mapping[str, list[str]], start_key: str, end_key: str, *, rfc3339: bool) -> tuple[float, float, int]:
    def when(key: str, default: float) -> float:
        value = (query.get(key) or [""])[0]
        if not value:
            return default
        if rfc3339:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        return float(value)

    start = when(start_key, 0.0)
    end = when(end_key, float("inf"))
    page = int((query.get("page") or ["0"])[0] or 0)
    return start, end, page


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pages(days: list[int], page: int, limit: int) -> tuple[list[int], bool, str | None]:
    chunk = days[page : page + limit]
    more = page + limit < len(days)
    return chunk, more, str(page + limit) if more else None


def _billed_days(log: BillingLog, provider: str, query: Mapping[str, list[str]], skew: BillSkew,
                 start_key: str, end_key: str, rfc3339: bool) -> tuple[list[tuple[int, list[tuple[str, Any]]]], bool, str | None]:
    """One page of the provider's billed days in the query's window: each day with its (model, bill)
    pairs in model order, and the paging both report APIs answer with."""
    start, end, page = _window(query, start_key, end_key, rfc3339=rfc3339)
    billed = {k: v for k, v in log.billed(provider, skew).items() if start <= k[0] < end}
    days = sorted({d for d, _ in billed})
    chunk, more, next_page = _pages(days, page, int((query.get("limit") or ["7"])[0]))
    by_day = [(day, [(model, b) for (d, model), b in sorted(billed.items()) if d == day]) for day in chunk]
    return by_day, more, next_page


def openai_report(log: BillingLog, op: str, query: Mapping[str, list[str]], catalog: Any, skew: BillSkew) -> bytes:
    """``usage`` or ``costs`` of the OpenAI organization API."""
    by_day, more, next_page = _billed_days(log, "openai", query, skew, "start_time", "end_time", rfc3339=False)
    data = []
    for day, bills in by_day:
        results: list[dict[str, Any]] = []
        for model, b in bills:
            t = b.tokens
            if op == "usage":
                results.append({
                    "object": "organization.usage.completions.result",
                    "input_tokens": t["input_tokens"] + t["cache_read_tokens"] + t["cache_write_5m_tokens"]
                    + t["cache_write_1h_tokens"],
                    "output_tokens": t["output_tokens"], "input_cached_tokens": t["cache_read_tokens"],
                    "input_audio_tokens": 0, "output_audio_tokens": 0, "num_model_requests": b.calls,
                    "project_id": None, "user_id": None, "api_key_id": None, "model": model, "batch": None,
                })
                continue
            for _, name, item in TOKEN_TYPES:
                if t[name]:
                    value = _price(catalog, "openai", model, name, t[name], day, skew)
                    results.append({"object": "organization.costs.result",
                                    "amount": {"value": float(value), "currency": "usd"},
                                    "line_item": f"{model}, {item}", "project_id": None})
        data.append({"object": "bucket", "start_time": day, "end_time": day + DAY, "results": results})
    return json.dumps({"object": "page", "data": data, "has_more": more, "next_page": next_page}).encode()


def anthropic_report(log: BillingLog, op: str, query: Mapping[str, list[str]], catalog: Any, skew: BillSkew) -> bytes:
    """``usage_report/messages`` or ``cost_report`` of the Anthropic Admin API."""
    by_day, more, next_page = _billed_days(log, "anthropic", query, skew, "starting_at", "ending_at", rfc3339=True)
    data = []
    for day, bills in by_day:
        results: list[dict[str, Any]] = []
        for model, b in bills:
            t = b.tokens
            if op == "usage":
                results.append({
                    "uncached_input_tokens": t["input_tokens"], "cache_read_input_tokens": t["cache_read_tokens"],
                    "cache_creation": {"ephemeral_5m_input_tokens": t["cache_write_5m_tokens"],
                                       "ephemeral_1h_input_tokens": t["cache_write_1h_tokens"]},
                    "output_tokens": t["output_tokens"], "server_tool_use": {"web_search_requests": 0},
                    "api_key_id": None, "workspace_id": None, "model": model, "service_tier": "standard",
                    "context_window": "0-200k",
                })
                continue
            for token_type, name, _ in TOKEN_TYPES:
                if t[name]:
                    cents = _price(catalog, "anthropic", model, name, t[name], day, skew) * 100
                    results.append({
                        "currency": "USD", "amount": format(cents.normalize(), "f"), "workspace_id": None,
                        "description": f"{model} usage - {token_type}", "cost_type": "tokens",
                        "context_window": "0-200k", "model": model, "service_tier": "standard", "token_type": token_type,
                    })
        data.append({"starting_at": _iso(day), "ending_at": _iso(day + DAY), "results": results})
    return json.dumps({"data": data, "has_more": more, "next_page": next_page}).encode()
