"""costops cache stats | invalidate | warm: talk to a running gateway's exact cache; eval | calibrate
(in :mod:`costops.cli.cache_eval`) score the semantic cache offline on labelled prompt pairs.

``warm`` reads JSONL, one request per line, either a bare request body or an envelope::

    {"model": "gpt-4o-mini", "temperature": 0, "messages": [...]}            # OpenAI chat
    {"model": "text-embedding-3-small", "input": ["..."]}                    # OpenAI embeddings
    {"api": "anthropic", "body": {...}, "key": "sk-...", "tags": {"feature": "faq"},
     "headers": {"x-costops-cache": "ttl=86400"}}                            # envelope

``api`` is ``openai`` (default) or ``anthropic``; an OpenAI body with ``input`` and no
``messages`` goes to embeddings. ``key`` (else ``--key``) is the virtual key whose tenant owns
the entries; ``tags`` become ``x-costops-tags`` (so per-tag TTLs apply). ``stream`` is dropped:
the cache serves streams from the stored answer anyway. The demo's workload files are envelopes.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from costops.cli.cache_eval import COMMANDS as EVAL_COMMANDS

url_option = click.option("--url", default="http://127.0.0.1:4000", show_default=True, envvar="COSTOPS_URL",
                          help="The running gateway (env COSTOPS_URL).")
admin_option = click.option("--admin-key", envvar="COSTOPS_ADMIN_KEY", default=None,
                            help="The gateway's server.admin_key (env COSTOPS_ADMIN_KEY).")


@click.group("cache")
def cache_group() -> None:
    """The exact response cache of a running gateway: stats, invalidation, warming; and the semantic
    cache scored offline on labelled pairs: eval, calibrate."""


for _command in EVAL_COMMANDS:
    cache_group.add_command(_command)


def _admin(method: str, url: str, admin_key: str | None, body: Any = None) -> Any:
    import urllib.error
    import urllib.request

    headers = {"content-type": "application/json"}
    if admin_key:
        headers["authorization"] = f"Bearer {admin_key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read())["error"]["message"]
        except Exception:
            message = err.reason
        hint = " (pass --admin-key or set COSTOPS_ADMIN_KEY)" if err.code == 401 else ""
        if err.code == 404:
            hint = " (is cache.exact configured on that gateway?)"
        raise click.ClickException(f"{url}: {err.code} {message}{hint}") from None
    except (urllib.error.URLError, OSError) as err:
        raise click.ClickException(f"{url}: cannot reach the gateway ({getattr(err, 'reason', err)}); is `costops serve` running there?") from None


@cache_group.command("stats")
@url_option
@admin_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
def stats_command(url: str, admin_key: str | None, as_json: bool) -> None:
    """Hits, misses, bypasses, entries, bytes and hit rate of the gateway's exact cache."""
    data = _admin("GET", url.rstrip("/") + "/admin/cache/stats", admin_key)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for kind, s in data.items():
        rate = "-" if s.get("hit_rate") is None else f"{s['hit_rate'] * 100:.1f}%"
        click.echo(f"{kind}: hits {s['hits']:,} (L1 {s['hits_l1']:,}, L2 {s['hits_l2']:,})  misses {s['misses']:,}  "
                   f"bypass {s['bypass']:,}  hit rate {rate}")
        click.echo(f"  entries {s['entries']:,}  bytes {s['bytes']:,} of {s['max_bytes']:,}  evictions {s['evictions']:,}  "
                   f"stores {s['stores']:,}  redis {'off' if s['redis'] is None else 'on'}")


@cache_group.command("invalidate")
@url_option
@admin_option
@click.option("--tenant", help="Drop this tenant's entries.")
@click.option("--namespace", help="Drop a namespace: tenant:<tenant> or shared:<name>.")
@click.option("--model", help="Drop entries of these requested models (a glob, e.g. 'gpt-4o*').")
@click.option("--pattern", help="A glob over whole keys 'namespace|model|hash'; '*' drops everything.")
def invalidate_command(url: str, admin_key: str | None, tenant: str | None, namespace: str | None,
                       model: str | None, pattern: str | None) -> None:
    """Drop cached answers on every replica (all the given filters must match)."""
    selector = {k: v for k, v in {"tenant": tenant, "namespace": namespace, "model": model, "pattern": pattern}.items() if v}
    if not selector:
        raise click.UsageError("say what to drop: --tenant, --namespace, --model or --pattern ('*' for everything)")
    data = _admin("POST", url.rstrip("/") + "/admin/cache/invalidate", admin_key, selector)
    removed = data["removed"]
    where = ", ".join(f"{n:,} from {tier}" for tier, n in removed.items())
    click.echo(f"Invalidated {json.dumps(data['invalidated'])}: removed {where}.")


def read_requests(path: Path) -> list[dict[str, Any]]:
    """The warm file as envelopes ``{api, endpoint, body, key, headers}``; errors name the line."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(item, dict):
            raise click.ClickException(f"{path}:{n}: each line is a JSON object (a request body or an envelope)")
        envelope = isinstance(item.get("body"), dict)
        body: dict[str, Any] = item["body"] if envelope else item
        if not isinstance(body.get("model"), str):
            raise click.ClickException(f"{path}:{n}: the request has no 'model'")
        api = item.get("api", "openai") if envelope else "openai"
        if api not in ("openai", "anthropic"):
            raise click.ClickException(f"{path}:{n}: api {api!r} must be openai or anthropic")
        endpoint = "/v1/messages" if api == "anthropic" else (
            "/v1/embeddings" if "input" in body and "messages" not in body else "/v1/chat/completions")
        headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()} if envelope else {}
        tags = item.get("tags") if envelope else None
        if tags:
            headers["x-costops-tags"] = ",".join(f"{k}={v}" for k, v in tags.items())
        if api == "anthropic":
            headers.setdefault("anthropic-version", "2023-06-01")
        body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        out.append({"path": endpoint, "body": body, "key": item.get("key") if envelope else None, "headers": headers})
    return out


async def _warm(url: str, items: list[dict[str, Any]], key: str | None, concurrency: int) -> tuple[Counter[str], list[str]]:
    import aiohttp

    outcome: Counter[str] = Counter()
    errors: list[str] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                headers = dict(item["headers"])
                secret = item["key"] or key
                if secret:
                    headers["authorization"] = f"Bearer {secret}"
                try:
                    async with session.post(url + item["path"], json=item["body"], headers=headers) as resp:
                        text = await resp.text()
                        if resp.status == 200:
                            outcome[resp.headers.get("x-costops-cache", "no cache header")] += 1
                        else:
                            outcome["error"] += 1
                            errors.append(f"{resp.status} {text[:200]}")
                except aiohttp.ClientError as exc:
                    outcome["error"] += 1
                    errors.append(str(exc))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcome, errors


@cache_group.command("warm")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@url_option
@click.option("--key", envvar="COSTOPS_KEY", default=None, help="Virtual key for lines without their own (env COSTOPS_KEY).")
@click.option("--concurrency", default=8, show_default=True, help="Requests in flight.")
def warm_command(file: Path, url: str, key: str | None, concurrency: int) -> None:
    """Send each request of a JSONL FILE through the gateway so later identical calls hit."""
    items = read_requests(file)
    outcome, errors = asyncio.run(_warm(url.rstrip("/"), items, key, max(1, concurrency)))
    click.echo(f"Warmed {len(items):,} request(s): stored {outcome['miss']:,}, already cached {outcome['exact']:,}, "
               f"not cacheable {outcome['bypass']:,} (temperature 0, a seed, or 'force' makes a request cacheable), "
               f"errors {outcome['error']:,}.")
    for message in errors[:5]:
        click.echo(f"  error: {message}", err=True)
    if outcome["error"] and not (outcome["miss"] or outcome["exact"]):
        raise SystemExit(1)


COMMANDS = [cache_group]
