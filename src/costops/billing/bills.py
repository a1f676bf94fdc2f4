"""The providers' own usage and cost reports, read into one shape: per UTC day and model, the
tokens the provider counted, the requests (when it says), and what it billed.

- OpenAI's organization API (an admin key, ``sk-admin-...``): ``GET /v1/organization/costs``
  (``bucket_width=1d``, ``group_by=line_item``: ``amount.value`` in dollars per line item such
  as ``"gpt-4o-mini-2024-07-18, input"``) and ``GET /v1/organization/usage/completions``
  (``group_by=model``: ``input_tokens`` including ``input_cached_tokens``, ``output_tokens``,
  ``num_model_requests``);
- Anthropic's Admin API (``sk-ant-admin...``, header ``x-api-key``):
  ``GET /v1/organizations/cost_report`` (``group_by[]=description``: ``amount`` a decimal string
  in cents, per model and token type) and ``GET /v1/organizations/usage_report/messages``
  (``group_by[]=model``: uncached input, cache reads, cache creation 5 m / 1 h, output).

Both page with ``has_more`` / ``next_page``. Parsing is pure (:func:`parse_openai`,
:func:`parse_anthropic`: pages in, lines out) so a saved export reads the same as a live one;
:func:`fetch` does the HTTP. Amounts are read as exact decimals (OpenAI's JSON numbers are
parsed as Decimal, never through a float).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

DEFAULT_BASE = {"openai": "https://api.openai.com", "anthropic": "https://api.anthropic.com"}
ENDPOINTS = {
    "openai": (("usage", "/v1/organization/usage/completions", "group_by=model"),
               ("costs", "/v1/organization/costs", "group_by=line_item")),
    "anthropic": (("usage", "/v1/organizations/usage_report/messages", "group_by[]=model"),
                  ("costs", "/v1/organizations/cost_report", "group_by[]=description")),
}


class BillError(Exception):
    """A report could not be fetched or read; the message says what to do."""


@dataclass(slots=True)
class BillLine:
    day: str
    """UTC day, ``YYYY-MM-DD``."""
    model: str
    tokens: int = 0
    """Every token the provider counted: input (cached or not), cache writes, output."""
    requests: int | None = None
    """OpenAI reports requests; Anthropic's usage report does not (None)."""
    cost: Decimal = Decimal(0)
    kinds: dict[str, int] = field(default_factory=dict)


def _day(ts: float | str) -> str:
    if isinstance(ts, str):
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d")
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d")


def _line(lines: dict[tuple[str, str], BillLine], day: str, model: str) -> BillLine:
    line = lines.get((day, model))
    if line is None:
        line = lines[day, model] = BillLine(day, model)
    return line


def parse_openai(usage_pages: Iterable[Mapping[str, Any]], cost_pages: Iterable[Mapping[str, Any]]) -> list[BillLine]:
    lines: dict[tuple[str, str], BillLine] = {}
    for page in usage_pages:
        for bucket in page.get("data") or ():
            day = _day(bucket["start_time"])
            for r in bucket.get("results") or ():
                line = _line(lines, day, str(r.get("model") or "(unknown)"))
                line.tokens += int(r.get("input_tokens") or 0) + int(r.get("output_tokens") or 0)
                line.requests = (line.requests or 0) + int(r.get("num_model_requests") or 0)
    for page in cost_pages:
        for bucket in page.get("data") or ():
            day = _day(bucket["start_time"])
            for r in bucket.get("results") or ():
                item = str(r.get("line_item") or "")
                model = item.rpartition(", ")[0] or item or "(unknown)"  # "gpt-4o-mini-2024-07-18, input"
                amount = r.get("amount") or {}
                if str(amount.get("currency", "usd")).lower() != "usd":
                    raise BillError(f"OpenAI costs: a line in {amount.get('currency')!r}; costops reconciles USD only")
                _line(lines, day, model).cost += Decimal(str(amount.get("value") or 0))
    return sorted(lines.values(), key=lambda x: (x.day, x.model))


def parse_anthropic(usage_pages: Iterable[Mapping[str, Any]], cost_pages: Iterable[Mapping[str, Any]]) -> list[BillLine]:
    lines: dict[tuple[str, str], BillLine] = {}
    for page in usage_pages:
        for bucket in page.get("data") or ():
            day = _day(bucket["starting_at"])
            for r in bucket.get("results") or ():
                creation = r.get("cache_creation") or {}
                tokens = sum(int(r.get(k) or 0) for k in ("uncached_input_tokens", "cache_read_input_tokens", "output_tokens"))
                tokens += sum(int(v or 0) for v in creation.values())
                _line(lines, day, str(r.get("model") or "(unknown)")).tokens += tokens
    for page in cost_pages:
        for bucket in page.get("data") or ():
            day = _day(bucket["starting_at"])
            for r in bucket.get("results") or ():
                if str(r.get("currency", "USD")).upper() != "USD":
                    raise BillError(f"Anthropic cost report: a line in {r.get('currency')!r}; costops reconciles USD only")
                model = r.get("model") or r.get("description") or "(unknown)"
                _line(lines, day, str(model)).cost += Decimal(str(r.get("amount") or "0")) / 100  # cents
    return sorted(lines.values(), key=lambda x: (x.day, x.model))


def fetch(provider: str, admin_key: str, since: float, until: float, base_url: str | None = None,
          timeout_s: float = 30.0) -> dict[str, list[dict[str, Any]]]:
    """Every page of the provider's usage and cost reports for [since, until): ``{"usage": [...],
    "costs": [...]}``, as the API returned them (a saved copy reads the same)."""
    base = (base_url or DEFAULT_BASE[provider]).rstrip("/")
    if provider == "openai":
        window = f"start_time={int(since)}&end_time={int(until)}&bucket_width=1d&limit=31"
        headers = {"authorization": f"Bearer {admin_key}"}
    else:
        iso = "%Y-%m-%dT%H:%M:%SZ"
        window = (f"starting_at={datetime.fromtimestamp(since, UTC).strftime(iso)}"
                  f"&ending_at={datetime.fromtimestamp(until, UTC).strftime(iso)}&bucket_width=1d&limit=31")
        headers = {"x-api-key": admin_key, "anthropic-version": "2023-06-01"}
    out: dict[str, list[dict[str, Any]]] = {}
    for name, path, group in ENDPOINTS[provider]:
        pages, page = [], None
        for _ in range(1000):  # a month is a page or two; bounded whatever the server says
            url = f"{base}{path}?{window}&{group}" + (f"&page={urllib.parse.quote(page)}" if page else "")
            data = _get(url, headers, timeout_s)
            pages.append(data)
            page = data.get("next_page") if data.get("has_more") else None
            if not page:
                break
        out[name] = pages
    return out


def _get(url: str, headers: Mapping[str, str], timeout_s: float) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as err:
        detail = err.read()[:300].decode("utf-8", "replace")
        hint = " (an admin key is needed: sk-admin-... for OpenAI, sk-ant-admin... for Anthropic)" \
            if err.code in (401, 403) else ""
        raise BillError(f"GET {url.split('?')[0]}: HTTP {err.code}{hint}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise BillError(f"GET {url.split('?')[0]}: {exc}") from None
    try:
        data = json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise BillError(f"GET {url.split('?')[0]}: the answer is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BillError(f"GET {url.split('?')[0]}: expected a JSON object with data and has_more")
    return data


def parse(provider: str, pages: Mapping[str, list[Mapping[str, Any]]]) -> list[BillLine]:
    reader = parse_openai if provider == "openai" else parse_anthropic
    return reader(pages.get("usage") or (), pages.get("costs") or ())
