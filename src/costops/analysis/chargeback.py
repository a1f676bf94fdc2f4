"""Chargeback and showback: who owes what for a period, to the nano-dollar.

A statement per owner (tenant, team or project) has its direct spend (by model), its part of the
shared costs, and its markup or discount. Shared costs are (1) the spend no owner can be found
for (calls by keys without a tenant land on ``default``; calls without a team or project on
NULL) and (2) fixed items the books don't see (the cache's own servers, a platform fee). They
are allocated in proportion to direct spend, or by fixed shares.

Everything is integer nano-dollars until rendering, and allocations use the largest-remainder
method, so the parts always add up: the statements' cost basis totals exactly the ledger's
spend plus the fixed items (``reconciles`` says so, and a test holds it to that). A markup
applies to an owner's cost basis and is rounded half-even once per owner; showback is the same
statement with no markups.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from costops.analysis.engine import Reader
from costops.ledger.query import Filters
from costops.money import from_nanos, to_nanos, usd_str

OWNERS = ("tenant", "team", "project")
UNOWNED = (None, "", "default")


@dataclass(frozen=True, slots=True)
class Policy:
    by: str = "tenant"
    allocate: str = "proportional"
    """``proportional`` (to direct spend) or ``fixed`` (by ``shares``)."""
    shares: Mapping[str, Decimal] = field(default_factory=dict)
    markups: Mapping[str, Decimal] = field(default_factory=dict)
    """Per owner: ``0.10`` adds 10 %, ``-0.05`` is a 5 % discount."""
    shared_costs: Mapping[str, Decimal] = field(default_factory=dict)
    """Fixed items in USD for the period, by name."""
    unowned: tuple[str | None, ...] = UNOWNED

    def __post_init__(self) -> None:
        if self.by not in OWNERS:
            raise ValueError(f"statements are per {', '.join(OWNERS)}, not {self.by!r}")
        if self.allocate not in ("proportional", "fixed"):
            raise ValueError(f"allocate shared costs 'proportional' or 'fixed', not {self.allocate!r}")
        if self.allocate == "fixed":
            if not self.shares:
                raise ValueError("fixed allocation needs shares: --share OWNER=WEIGHT for each owner who pays")
            if any(w < 0 for w in self.shares.values()) or not sum(self.shares.values()):
                raise ValueError("shares must be non-negative and not all zero")
        for owner, rate in self.markups.items():
            if rate <= -1:
                raise ValueError(f"markup for {owner!r} is {rate}: a discount cannot reach 100 %")
        if any(v < 0 for v in self.shared_costs.values()):
            raise ValueError("a shared cost cannot be negative")


def allocate(total: int, weights: Mapping[str, int | Decimal]) -> dict[str, int]:
    """``total`` nanos split by ``weights``, exactly: floors first, then one nano each to the
    largest remainders (ties by name), so the parts sum to ``total``."""
    whole = sum(Decimal(w) for w in weights.values())
    if not weights or whole == 0:
        return {k: 0 for k in weights}
    exact = {k: Decimal(total) * Decimal(w) / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in exact.items()}  # int() truncates toward zero; totals are >= 0
    left = total - sum(parts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), k))[:left]:
        parts[k] += 1
    return parts


def statements(reader: Reader, filters: Filters, policy: Policy) -> dict[str, Any]:
    rows = reader.aggregate([policy.by, "model"], filters)
    direct: dict[str, dict[str, int]] = {}
    requests: dict[str, int] = {}
    unowned_nanos = 0
    for r in rows:
        owner = r[policy.by]
        if owner in policy.unowned:
            unowned_nanos += r["cost_nanos"]
            continue
        direct.setdefault(owner, {})
        direct[owner][r["model"]] = direct[owner].get(r["model"], 0) + r["cost_nanos"]
        requests[owner] = requests.get(owner, 0) + r["requests"]
    fixed_items = {name: to_nanos(usd) for name, usd in policy.shared_costs.items()}
    pool = unowned_nanos + sum(fixed_items.values())
    owners = sorted(set(direct) | (set(policy.shares) if policy.allocate == "fixed" else set()))
    if policy.allocate == "fixed":
        unknown = sorted(set(policy.shares) - set(direct))
        weights: Mapping[str, int | Decimal] = {o: policy.shares.get(o, Decimal(0)) for o in owners}
    else:
        unknown = []
        weights = {o: sum(direct.get(o, {}).values()) for o in owners}
        if not any(weights.values()):
            weights = {o: 1 for o in owners}  # nothing spent directly: split evenly
    shared = allocate(pool, weights) if owners else {}
    out: list[dict[str, Any]] = []
    basis_total = billed_total = 0
    for owner in owners:
        own = sum(direct.get(owner, {}).values())
        basis = own + shared.get(owner, 0)
        rate = policy.markups.get(owner, Decimal(0))
        markup = int((Decimal(basis) * rate).to_integral_value(rounding=ROUND_HALF_EVEN))
        basis_total += basis
        billed_total += basis + markup
        out.append({
            policy.by: owner,
            "requests": requests.get(owner, 0),
            "lines": [{"model": m, "cost_usd": _usd(n)} for m, n in sorted(direct.get(owner, {}).items(), key=lambda kv: (-kv[1], str(kv[0])))],
            "direct_usd": _usd(own),
            "shared_usd": _usd(shared.get(owner, 0)),
            "cost_basis_usd": _usd(basis),
            "markup_rate": str(rate),
            "markup_usd": usd_str(from_nanos(markup)) if markup >= 0 else "-" + usd_str(from_nanos(-markup)),
            "total_usd": _usd(basis + markup),
        })
    ledger = reader.totals(filters)["cost_nanos"]
    return {
        "by": policy.by,
        "filters": {"since": filters.since, "until": filters.until},
        "allocation": policy.allocate,
        "shared": {
            "unowned_usd": _usd(unowned_nanos),
            "fixed": {name: _usd(n) for name, n in fixed_items.items()},
            "total_usd": _usd(pool),
            "unknown_owners_with_shares": unknown,
        },
        "statements": out,
        "ledger_total_usd": _usd(ledger),
        "cost_basis_total_usd": _usd(basis_total),
        "billed_total_usd": _usd(billed_total),
        "reconciles": basis_total == ledger + sum(fixed_items.values()) if owners else pool == 0,
    }


def _usd(nanos: int) -> str:
    return usd_str(from_nanos(nanos))


# -- renderers -----------------------------------------------------------------------------------


def render_json(result: Mapping[str, Any]) -> str:
    return json.dumps(result, indent=2)


CSV_HEADER = ("owner_kind", "owner", "line", "model", "amount_usd")


def render_csv(result: Mapping[str, Any]) -> str:
    """One row per statement line (direct spend per model, shared, markup, total)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    by = result["by"]
    for s in result["statements"]:
        owner = s[by]
        for line in s["lines"]:
            w.writerow((by, owner, "direct", line["model"], line["cost_usd"]))
        w.writerow((by, owner, "shared", "", s["shared_usd"]))
        w.writerow((by, owner, "markup", s["markup_rate"], s["markup_usd"]))
        w.writerow((by, owner, "total", "", s["total_usd"]))
    return buf.getvalue()


def render_markdown(result: Mapping[str, Any]) -> str:
    by = result["by"]
    lines = [f"# Chargeback by {by}", ""]
    lines += [f"| {by} | requests | direct | shared | cost basis | markup | total |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in result["statements"]:
        lines.append(
            f"| {_md(s[by])} | {s['requests']:,} | ${s['direct_usd']} | ${s['shared_usd']} | ${s['cost_basis_usd']} "
            f"| {s['markup_usd']} ({_pct(s['markup_rate'])}) | ${s['total_usd']} |"
        )
    sh = result["shared"]
    lines += [
        "",
        f"Shared costs ${sh['total_usd']} (unattributed spend ${sh['unowned_usd']}"
        + "".join(f", {_md(k)} ${v}" for k, v in sh["fixed"].items()) + f"), allocated {result['allocation']}ly.",
        f"Ledger spend ${result['ledger_total_usd']}; statements' cost basis ${result['cost_basis_total_usd']}; "
        f"billed ${result['billed_total_usd']}; reconciles: {'yes' if result['reconciles'] else 'NO'}.",
    ]
    for s in result["statements"]:
        lines += ["", f"## {_md(s[by])}", "", "| model | cost |", "|---|---:|"]
        lines += [f"| {_md(line['model'])} | ${line['cost_usd']} |" for line in s["lines"]]
    return "\n".join(lines) + "\n"


def _md(value: Any) -> str:
    return "(none)" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _pct(rate: str) -> str:
    return f"{Decimal(rate) * 100:+.2f}%"


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Decimal]:
    """``NAME=NUMBER`` pairs (CLI options) as exact decimals; an error names the bad pair."""
    out: dict[str, Decimal] = {}
    for pair in pairs:
        name, sep, number = pair.rpartition("=")
        try:
            value = Decimal(number)
        except ArithmeticError:
            value = None  # type: ignore[assignment]
        if not sep or not name or value is None or not value.is_finite():
            raise ValueError(f"{what} {pair!r}: write NAME=NUMBER, e.g. acme=0.10")
        out[name] = value
    return out
