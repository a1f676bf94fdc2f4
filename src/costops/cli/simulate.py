"""costops simulate: serve the provider simulator (OpenAI, Anthropic, Gemini) on a port."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8700, show_default=True, type=int, help="Port to listen on.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds answers, lengths, errors and ids.")
@click.option(
    "--latency-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Multiplies each model's latency profile; 0 answers at once.",
)
@click.option("--error-rate-429", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0), help="Share of requests refused with 429.")
@click.option("--error-rate-5xx", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0), help="Share of requests failing with 500/503 (Anthropic 529).")
@click.option("--check-error-rate", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Share of semantic cache checks (cache.semantic llm_check) answered wrongly.")
@click.option("--require-key", is_flag=True, help="Answer 401 to requests without an API key.")
@click.option("--grading", is_flag=True, help="Grade answers (failing ones show it); GET /sim/grade?id= reports each grade.")
@click.option("--deployment", "deployments", multiple=True, metavar="NAME[:latency=X,429=R,5xx=R]",
              help="Also serve a deployment under /h/NAME/ with its own latency scale and error rates (repeat).")
def simulate(
    host: str, port: int, seed: int, latency_scale: float, error_rate_429: float, error_rate_5xx: float,
    check_error_rate: float, require_key: bool, grading: bool, deployments: tuple[str, ...],
) -> None:
    """Serve fake OpenAI, Anthropic and Gemini APIs: no key, no network, real SDKs work.

    \b
    OpenAI:    export OPENAI_BASE_URL=http://HOST:PORT/v1
    Anthropic: export ANTHROPIC_BASE_URL=http://HOST:PORT
    Gemini:    POST http://HOST:PORT/v1beta/models/MODEL:generateContent
    --deployment slow:latency=5,5xx=0.2  also serves http://HOST:PORT/h/slow/v1 (and /h/slow for Anthropic)
    """
    import uvicorn

    from costops.providers.simulator import Grading, SimConfig, create_simulator
    from costops.serving import uvicorn_config

    try:
        config = SimConfig(
            seed=seed,
            latency_scale=latency_scale,
            error_rate_429=error_rate_429,
            error_rate_5xx=error_rate_5xx,
            check_error_rate=check_error_rate,
            require_key=require_key,
            grading=Grading() if grading else None,
            hosts=tuple(parse_host(d) for d in deployments),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"costops simulator on http://{host}:{port}  (OpenAI base URL: http://{host}:{port}/v1)", err=True)
    uvicorn.Server(uvicorn_config(create_simulator(config), host, port, log_level="info")).run()


def parse_host(spec: str) -> Any:
    """``NAME[:latency=X,429=R,5xx=R]`` -> a simulator Host."""
    from costops.providers.simulator import Host

    name, _, rest = spec.partition(":")
    fields = {"latency": "latency_scale", "429": "error_rate_429", "5xx": "error_rate_5xx"}
    values: dict[str, float] = {}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        if key not in fields:
            raise click.UsageError(f"--deployment {spec}: {key!r} is not one of latency, 429, 5xx")
        try:
            values[fields[key]] = float(value)
        except ValueError:
            raise click.UsageError(f"--deployment {spec}: {key}={value!r} is not a number") from None
    return Host(name, **values)


COMMANDS = [simulate]
