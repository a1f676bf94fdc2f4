"""Alerts: what happened to a budget, delivered to log, webhook, Slack-compatible webhook or email.

    alerts:
      sinks:
        - {type: log}
        - {type: webhook, url: https://ops.example.com/hook, headers: {X-Token: "${HOOK_TOKEN}"}}
        - {type: slack, url: "${SLACK_WEBHOOK_URL}", events: [threshold, forecast, spike, blocked]}
        - {type: email, host: smtp.example.com, port: 587, starttls: true, username: u, password: p,
           from: costops@example.com, to: [finops@example.com]}
      digest_at: "09:00"        # daily digest, local time in `timezone`; null turns it off
      timezone: UTC
      spike_factor: 3           # hourly spend above 3x its baseline...
      spike_min_usd: 1          # ...and at least $1 in the hour
      retries: 3
      backoff_s: 1

Delivery never holds up a request: the request path only drops an :class:`Alert` into a
bounded queue, and one background task delivers it, retrying with exponential backoff. Each
alert has a deduplication key (budget, window, threshold...); it is sent once per key, checked
against the shared state (Redis) when replicas share it, so two replicas never both send it.
Without an ``alerts:`` section, alerts go to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from costops.config import ConfigError, reject_unknown
from costops.money import to_nanos

log = logging.getLogger("costops.alerts")

EVENTS = ("threshold", "projected", "blocked", "downgrade", "forecast", "spike", "digest")
SINK_KEYS = {
    "log": {"type", "events", "budgets"},
    "webhook": {"type", "url", "headers", "events", "budgets", "timeout_s"},
    "slack": {"type", "url", "events", "budgets", "timeout_s"},
    "email": {"type", "host", "port", "starttls", "ssl", "username", "password", "from", "to", "events", "budgets", "timeout_s"},
}


@dataclass(frozen=True, slots=True)
class Alert:
    event: str
    """One of ``EVENTS``."""
    key: str
    """Deduplication key: the alert is sent once per key."""
    budget: str | None
    text: str
    """One line a person can act on."""
    data: Mapping[str, Any] = field(default_factory=dict)
    ttl_s: int = 40 * 86400
    """How long the deduplication key is remembered (past the end of the alert's window)."""

    def payload(self) -> dict[str, Any]:
        return {"source": "costops", "event": self.event, "budget": self.budget, "text": self.text, **self.data}


@dataclass(frozen=True, slots=True)
class SinkConfig:
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[str, ...] = EVENTS
    budgets: tuple[str, ...] = ()
    """Budget name globs this sink hears about; empty: all."""

    def wants(self, alert: Alert) -> bool:
        import fnmatch

        if alert.event not in self.events:
            return False
        return not self.budgets or alert.budget is None or any(fnmatch.fnmatchcase(alert.budget, p) for p in self.budgets)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    sinks: tuple[SinkConfig, ...] = (SinkConfig("log"),)
    digest_at: tuple[int, int] | None = (9, 0)
    timezone: str = "UTC"
    spike_factor: float = 3.0
    spike_min_nanos: int = to_nanos(Decimal(1))
    retries: int = 3
    backoff_s: float = 1.0
    queue_size: int = 1000


ALERT_KEYS = {"sinks", "digest_at", "timezone", "spike_factor", "spike_min_usd", "retries", "backoff_s", "queue_size"}


def parse_alerts(raw: Any) -> AlertsConfig:
    if raw is None:
        return AlertsConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError("alerts: must be a mapping with 'sinks'")
    reject_unknown(raw, ALERT_KEYS, "alerts")
    sinks = tuple(_sink(s, f"alerts.sinks[{i}]") for i, s in enumerate(raw.get("sinks") or [{"type": "log"}]))
    digest = raw.get("digest_at", "09:00")
    digest_at = None
    if digest is not None:
        try:
            hh, mm = str(digest).split(":")
            digest_at = (int(hh), int(mm))
            assert 0 <= digest_at[0] < 24 and 0 <= digest_at[1] < 60
        except (ValueError, AssertionError):
            raise ConfigError(f"alerts.digest_at: {digest!r} is not a time like \"09:00\" (or null for no digest)") from None
    tz = str(raw.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"alerts.timezone: {tz!r} is not an IANA time zone") from None
    try:
        return AlertsConfig(
            sinks=sinks,
            digest_at=digest_at,
            timezone=tz,
            spike_factor=float(raw.get("spike_factor", 3)),
            spike_min_nanos=to_nanos(Decimal(str(raw.get("spike_min_usd", 1)))),
            retries=int(raw.get("retries", 3)),
            backoff_s=float(raw.get("backoff_s", 1)),
            queue_size=int(raw.get("queue_size", 1000)),
        )
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"alerts: a number setting is not a number ({exc})") from None


def _sink(raw: Any, where: str) -> SinkConfig:
    if not isinstance(raw, Mapping) or raw.get("type") not in SINK_KEYS:
        raise ConfigError(f"{where}.type: one of {', '.join(SINK_KEYS)}")
    kind = raw["type"]
    reject_unknown(raw, SINK_KEYS[kind], where, f"setting for a {kind} sink")
    if kind in ("webhook", "slack") and not str(raw.get("url", "")).startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url: required, an http(s) URL")
    if kind == "email":
        for key in ("host", "from", "to"):
            if not raw.get(key):
                raise ConfigError(f"{where}.{key}: required for an email sink")
    events = tuple(raw.get("events") or EVENTS)
    for event in events:
        if event not in EVENTS:
            raise ConfigError(f"{where}.events: {event!r} is not one of {', '.join(EVENTS)}")
    options = {k: v for k, v in raw.items() if k not in ("type", "events", "budgets")}
    return SinkConfig(kind, options, events, tuple(str(b) for b in raw.get("budgets") or ()))


# -- delivery ----------------------------------------------------------------------------------


async def _post(session: Any, url: str, body: dict[str, Any], headers: Mapping[str, str], timeout: float) -> None:
    import aiohttp

    async with session.post(
        url, data=orjson.dumps(body), headers={"content-type": "application/json", **headers},
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"{url} answered HTTP {resp.status}")


def _send_mail(options: Mapping[str, Any], alert: Alert) -> None:
    """Blocking SMTP, run in a thread: stdlib smtplib, STARTTLS or SSL when asked."""
    import smtplib
    from email.message import EmailMessage

    to = options["to"] if isinstance(options["to"], list) else [options["to"]]
    msg = EmailMessage()
    msg["From"], msg["To"] = options["from"], ", ".join(to)
    msg["Subject"] = f"[costops] {alert.event}: {alert.budget or 'budgets'}"
    msg.set_content(alert.text + "\n\n" + orjson.dumps(alert.payload(), option=orjson.OPT_INDENT_2).decode())
    cls = smtplib.SMTP_SSL if options.get("ssl") else smtplib.SMTP
    with cls(options["host"], int(options.get("port", 465 if options.get("ssl") else 25)),
             timeout=float(options.get("timeout_s", 10))) as smtp:
        if options.get("starttls"):
            smtp.starttls()
        if options.get("username"):
            smtp.login(options["username"], options.get("password", ""))
        smtp.send_message(msg)


class AlertDispatcher:
    """A bounded queue and one delivery task. ``emit`` never waits."""

    def __init__(self, config: AlertsConfig, once: Callable[[str, int], Awaitable[bool]]) -> None:
        self.config, self.once = config, once
        self.queue: asyncio.Queue[Alert] = asyncio.Queue(config.queue_size)
        self.seen: set[str] = set()
        self.version = 0
        """Counts the changes to ``seen``: what a reader remembers of it is stale when this moved."""
        self.sent: list[Alert] = []
        """The last alerts delivered by this process (for the admin API and tests), newest last."""
        self._task: asyncio.Task[None] | None = None
        self._session: Any = None

    def emit(self, alert: Alert) -> None:
        if alert.key in self.seen:  # this process already handed it on; skip the shared check
            return
        if len(self.seen) > 50_000:
            self.seen.clear()
            self.version += 1
        try:
            self.queue.put_nowait(alert)
            self.seen.add(alert.key)
            self.version += 1
        except asyncio.QueueFull:
            log.warning("alert queue full (%d); dropped: %s", self.config.queue_size, alert.text)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="costops-alerts")

    async def stop(self, drain_s: float = 2.0) -> None:
        if self._task is not None:
            try:
                await asyncio.wait_for(self.queue.join(), drain_s)
            except TimeoutError:
                log.warning("%d alerts undelivered at shutdown", self.queue.qsize())
            self._task.cancel()
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            alert = await self.queue.get()
            try:
                if await self.once(alert.key, alert.ttl_s):
                    await self.deliver(alert)
            except Exception:
                log.exception("alert %s failed", alert.key)
            finally:
                self.queue.task_done()

    async def deliver(self, alert: Alert) -> None:
        self.sent = [*self.sent[-99:], alert]
        await asyncio.gather(*(self._with_retries(sink, alert) for sink in self.config.sinks if sink.wants(alert)))

    async def _with_retries(self, sink: SinkConfig, alert: Alert) -> None:
        for attempt in range(self.config.retries + 1):
            try:
                await self._send(sink, alert)
                return
            except Exception as exc:
                if attempt == self.config.retries:
                    log.error("alert to %s sink failed after %d attempts: %s (%s)", sink.type, attempt + 1, exc, alert.text)
                    return
                await asyncio.sleep(self.config.backoff_s * 2**attempt)

    async def _send(self, sink: SinkConfig, alert: Alert) -> None:
        opts = sink.options
        if sink.type == "log":
            log.warning("budget alert [%s] %s", alert.event, alert.text)
            return
        if sink.type == "email":
            await asyncio.to_thread(_send_mail, opts, alert)
            return
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession()
        body = {"text": alert.text} if sink.type == "slack" else alert.payload()
        await _post(self._session, opts["url"], body, opts.get("headers") or {}, float(opts.get("timeout_s", 10)))
