"""What the commands that read the books share: the time and tag options, opening the ledger
(every way that fails becomes a message), and the analytics engine synced from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from costops.ledger.store import LedgerStore, open_store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")


def parse_when(text: str, *, now: float, end_of_day: bool = False) -> float:
    """``7d`` / ``12h`` / ``30m`` / ``2w`` back from ``now``, a UTC date (``2026-11-01``: its
    midnight, or the next midnight with ``end_of_day``), or an ISO date-time (naive means UTC)."""
    text = text.strip()
    m = _AGO.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return (start + timedelta(days=1) if end_of_day else start).timestamp()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: use a duration back from now (7d, 12h, 30m, 2w), a date (2026-11-01) "
            "or a date-time (2026-11-01T12:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def when_of(text: str | None, option: str, *, now: float, end_of_day: bool = False) -> float | None:
    """An optional ``--since`` / ``--until`` value; a bad one names its option."""
    if not text:
        return None
    try:
        return parse_when(text, now=now, end_of_day=end_of_day)
    except click.BadParameter as exc:
        exc.param_hint = option
        raise


def tags_of(pairs: tuple[str, ...]) -> dict[str, str]:
    """Repeated ``--tag KEY=VALUE`` options as a mapping."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: write tags as KEY=VALUE, e.g. --tag feature=search", param_hint="--tag")
        out[key] = value
    return out


def open_ledger(url: str, *, must_exist: bool) -> LedgerStore:
    """Open and migrate the ledger, turning every way that fails into a message, not a traceback."""
    try:
        store = open_store(url, must_exist=must_exist)
    except FileNotFoundError as exc:
        raise click.ClickException(
            f"{exc}: nothing has been recorded there yet. Record calls with `costops serve` "
            "(or try `costops demo`), or point --db / COSTOPS_DB at your ledger."
        ) from None
    except ValueError as exc:
        raise click.ClickException(f"--db: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "sqlite3")):
            raise click.ClickException(f"cannot open the ledger database: {exc}") from None
        raise
    try:
        store.migrate()
    except Exception as exc:
        store.close()
        raise click.ClickException(f"cannot prepare the ledger tables: {exc}") from None
    return store


@contextmanager
def reader(db: str, engine_url: str | None) -> Iterator[Any]:
    """The ledger (opened and migrated, so a wrong URL is a message) and, unless ``ledger`` is
    asked for, an engine synced from it; closed afterwards."""
    from costops.analysis.engine import open_engine

    store = open_ledger(db, must_exist=True)
    if engine_url == "ledger":
        try:
            yield store
        finally:
            store.close()
        return
    try:
        try:
            engine = open_engine(engine_url, db)
            engine.sync()
        except (ValueError, RuntimeError) as exc:
            raise click.ClickException(f"--engine: {exc}") from None
    finally:
        store.close()
    try:
        yield engine
    finally:
        engine.close()
