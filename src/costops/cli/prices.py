"""costops prices: what models cost, alone and side by side for a token mix."""

from __future__ import annotations

from decimal import Decimal

import click

COMPARE_DEFAULT = (
    "gpt-5", "gpt-5-mini", "gpt-4.1", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo",
    "claude-opus-4-1", "claude-sonnet-4-5", "claude-3-5-haiku-latest",
    "gemini-2.5-pro", "gemini-2.5-flash", "gemini-1.5-flash",
    "deepseek:deepseek-chat", "mistral:mistral-large-latest",
)


def _split(ref: str) -> tuple[str | None, str]:
    """``provider:model`` or a bare model whose family names its provider."""
    if ":" in ref:
        provider, model = ref.split(":", 1)
        return provider, model
    import fnmatch

    from costops.config import DEFAULT_MODEL_PATTERNS
    from costops.pricing.catalog import DEFAULT_PRICE_PROVIDER

    for kind, patterns in DEFAULT_MODEL_PATTERNS.items():
        if any(fnmatch.fnmatchcase(ref, p) for p in patterns):
            return DEFAULT_PRICE_PROVIDER[kind], ref
    return None, ref


def _catalog(config_path: str | None):  # noqa: ANN202
    from costops.config import ConfigError, load_config
    from costops.pricing import PriceCatalog

    try:
        return PriceCatalog(load_config(config_path).prices)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _rate(rate) -> str:  # noqa: ANN001
    if rate is None:
        return "-"
    text = f"${rate.base.normalize():f}"
    if rate.tiers:
        text += " (" + ", ".join(f">{s // 1000}k ${r.normalize():f}" for s, r in rate.tiers) + ")"
    return text


class _ModelsOrCommand(click.Group):
    """``costops prices MODEL...`` shows prices; ``costops prices compare`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not any(a in self.commands for a in args) and args[0] not in ("-h", "--help"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ModelsOrCommand)
def prices() -> None:
    """Model prices in USD per million tokens: `costops prices MODEL...` or `costops prices compare`."""


@prices.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--tier", default=None, help="Service tier: batch, flex, priority.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Config with price overrides.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, models: tuple[str, ...], tier: str | None, config_path: str | None, as_json: bool) -> None:
    """Show models' prices (MODEL or provider:MODEL)."""
    from costops.analysis.report import table

    catalog = _catalog(config_path)
    rows, out, missing = [], {}, []
    for ref in models:
        provider, model = _split(ref)
        t = catalog.lookup(model, provider, service_tier=tier)
        if t is None:
            missing.append(ref)
            continue
        out[ref] = {**t.describe(), "source": t.source}
        rows.append([model, _rate(t.input), _rate(t.cache_read), _rate(t.cache_write_5m), _rate(t.cache_write_1h),
                     _rate(t.output), t.source])
    if as_json:
        import json

        click.echo(json.dumps({"usd_per_mtok": out, "unpriced": missing}, indent=2))
    else:
        if rows:
            click.echo(table(["model", "input", "cached input", "cache write 5m", "cache write 1h", "output", "source"], rows))
        for ref in missing:
            click.echo(f"{ref}: not in the price catalog; add it under 'prices:' in the config file", err=True)
    if missing:
        ctx.exit(1)


@prices.command()
@click.option("--input", "input_tokens", type=click.IntRange(0), default=1000, show_default=True, help="Uncached input tokens per request.")
@click.option("--cached", "cached_tokens", type=click.IntRange(0), default=0, show_default=True, help="Cached input tokens per request.")
@click.option("--output", "output_tokens", type=click.IntRange(0), default=500, show_default=True, help="Output tokens per request.")
@click.option("--requests", type=click.IntRange(1), default=1_000_000, show_default=True, help="Requests per month, for the monthly column.")
@click.option("--tier", default=None, help="Service tier: batch, flex, priority.")
@click.option("--models", default=",".join(COMPARE_DEFAULT), show_default=False, help="Comma-separated MODEL or provider:MODEL.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True)
def compare(input_tokens: int, cached_tokens: int, output_tokens: int, requests: int, tier: str | None, models: str,
            config_path: str | None, as_json: bool) -> None:
    """Cost per model for one token mix, cheapest first (seed 004's cost-per-model comparison)."""
    from costops.analysis.report import money, table
    from costops.usage import Usage

    catalog = _catalog(config_path)
    usage = Usage(input_tokens=input_tokens, cache_read_tokens=cached_tokens, output_tokens=output_tokens)
    priced, missing = [], []
    for ref in (m.strip() for m in models.split(",") if m.strip()):
        provider, model = _split(ref)
        t = catalog.lookup(model, provider, service_tier=tier)
        if t is None:
            missing.append(ref)
            continue
        per_request = t.cost(usage).total
        priced.append((per_request, model, t))
    priced.sort(key=lambda p: (p[0], p[1]))
    cheapest = priced[0][0] if priced else Decimal(0)
    if as_json:
        import json

        click.echo(json.dumps({
            "mix": {"input": input_tokens, "cached": cached_tokens, "output": output_tokens},
            "models": [{"model": m, "provider": t.source.split(":")[-1].split("/")[0], "input_usd_per_mtok": str(t.input.base),
                        "output_usd_per_mtok": str(t.output.base), "cost_per_request_usd": f"{c:f}",
                        "cost_per_month_usd": f"{c * requests:f}"} for c, m, t in priced],
            "unpriced": missing,
        }, indent=2))
        return
    rows = []
    for cost, model, t in priced:
        provider = t.source.split(":")[-1].split("/")[0]
        rows.append([provider, model, _rate(t.input), _rate(t.output), f"${(t.input.base + t.output.base).normalize():f}",
                     money(cost), money(cost * 1000), money(cost * requests),
                     f"{cost / cheapest:.1f}x" if cheapest else "-"])
    click.echo(f"Token mix per request: {input_tokens:,} input, {cached_tokens:,} cached, {output_tokens:,} output"
               + (f"; tier {tier}" if tier else ""))
    click.echo(table(["provider", "model", "input/MTok", "output/MTok", "total/MTok", "per request", "per 1K",
                      f"per {requests:,}", "vs cheapest"], rows))
    for ref in missing:
        click.echo(f"{ref}: not in the price catalog (unpriced)", err=True)


COMMANDS = [prices]
