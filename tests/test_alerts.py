"""Budget alerts delivered to receivers the tests run: a webhook (JSON), a Slack-compatible
webhook, an SMTP server; once per threshold per window, retried when the receiver fails, and
the forecast, spike and digest alerts driven by a controllable clock."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from costops.ledger.record import UsageRecord
from costops.ledger.store import open_store
from costops.pricing import CostBreakdown
from tests.clock import Clock, next_day, next_month, utc
from tests.test_budget_gateway import chat, client


class Receiver:
    """A webhook receiver on a real port; the first ``fail_first`` posts get HTTP 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(500)
                else:
                    receiver.posts.append((self.path, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [b for p, b in self.posts if p == path]

    def wait(self, path: str, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies(path)) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.bodies(path)


class Smtp:
    """Just enough SMTP to receive mail from smtplib (no TLS, no auth)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line.decode().strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250 test\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        smtp.messages.append("".join(data))
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_threshold_alerts_sent_once_each_with_retries(pinned_gateway):
    hook = Receiver(fail_first=1)  # the first delivery fails and is retried
    clock = Clock()
    gw = pinned_gateway(
        "alerts:\n  digest_at: null\n  backoff_s: 0.05\n  sinks:\n"
        f"    - {{type: webhook, url: '{hook.url}/hook'}}\n"
        f"    - {{type: slack, url: '{hook.url}/slack', events: [threshold, blocked]}}\n"
        "budgets:\n  list:\n    - {name: cap, limit_usd: 0.01, window: daily}\n",
        clock=clock,
    )
    c = client(gw, "x")
    statuses = [chat(c, model="gpt-4o", tokens=300)[0] for _ in range(6)]  # ~30% of the budget each
    assert statuses == [200, 200, 200, 429, 429, 429]
    alerts = hook.wait("/hook", 8)
    time.sleep(0.2)  # nothing more arrives
    alerts = hook.bodies("/hook")
    # every threshold, on settled spend; "projected" apart when only spend + holds reached it;
    # 100 % at the first refusal (admission stops short of it)
    assert [(a["event"], a.get("threshold")) for a in alerts] == [
        ("projected", 50), ("threshold", 50), ("projected", 75), ("projected", 90), ("threshold", 75),
        ("threshold", 90), ("threshold", 100), ("blocked", None)]
    first = next(a for a in alerts if a["event"] == "threshold")
    assert first["budget"] == "cap" and first["limit_usd"] == "0.01" and first["window"].startswith("d")
    assert "reached 50% of $0.01" in first["text"] and first["resets_at"] == next_day(clock())
    assert Decimal(first["spent_usd"]) >= Decimal("0.005") and first["basis"] == "settled"
    assert "is projected at 50%" in alerts[0]["text"] and alerts[0]["basis"] == "projected"
    assert "reached 100% of $0.01: it refuses requests" in alerts[6]["text"] and alerts[6]["basis"] == "refused"
    assert "budget 'cap' (global, daily) is exhausted" in alerts[7]["text"]
    slack = hook.bodies("/slack")
    assert [list(s) for s in slack] == [["text"]] * 5 and slack[0]["text"] == first["text"]


def test_forecast_alert_before_the_limit_is_reached(pinned_gateway):
    hook = Receiver()
    clock = Clock()
    clock.at("2026-11-03T00:00:00")  # two days into the month
    gw = pinned_gateway(
        f"alerts:\n  digest_at: null\n  sinks: [{{type: webhook, url: '{hook.url}/hook', events: [forecast]}}]\n"
        "budgets:\n  check_interval_s: 0.05\n  list:\n    - {name: monthly, limit_usd: 0.1}\n",
        clock=clock,
    )
    c = client(gw, "x")
    for _ in range(3):  # $0.009 in two days: $0.135 by the end of the month at this pace
        assert chat(c, model="gpt-4o", tokens=300)[0] == 200
    [alert] = hook.wait("/hook", 1)
    assert alert["event"] == "forecast" and Decimal(alert["forecast_usd"]) > Decimal("0.13")
    assert Decimal(alert["spent_usd"]) < Decimal("0.01")
    assert "is forecast to spend" in alert["text"] and f"by {next_month(clock())}" in alert["text"]
    time.sleep(0.2)
    assert len(hook.bodies("/hook")) == 1  # once per window


def test_spike_alert_against_the_ledger_baseline(pinned_gateway, tmp_path):
    db = f"sqlite:///{tmp_path}/history.db"
    store = open_store(db)
    store.migrate()
    clock = Clock()
    store.write([  # a quiet week: $0.001 a day
        UsageRecord(request_id=f"h{d}", ts=clock.t - d * 86400, endpoint="chat.completions", model_requested="gpt-4o",
                    model="gpt-4o", provider="openai", cost=CostBreakdown(output=Decimal("0.001")))
        for d in range(1, 8)
    ])
    store.close()
    hook = Receiver()
    gw = pinned_gateway(
        "alerts:\n  digest_at: null\n  spike_min_usd: 0.001\n"
        f"  sinks: [{{type: webhook, url: '{hook.url}/hook', events: [spike]}}]\n"
        "budgets:\n  check_interval_s: 0.05\n  list:\n    - {name: all, limit_usd: 100}\n",
        db=db, clock=clock,
    )
    assert chat(client(gw, "x"), model="gpt-4o", tokens=300)[0] == 200  # $0.003 in one hour: 70x the usual
    [alert] = hook.wait("/hook", 1)
    assert alert["event"] == "spike" and alert["budget"] == "all"
    assert Decimal(alert["hour_usd"]) > Decimal("0.003") and Decimal(alert["baseline_usd"]) < Decimal("0.0001")


def test_daily_digest_by_email(pinned_gateway):
    smtp = Smtp()
    clock = Clock()
    clock.at("2026-11-25T08:59:00")
    gw = pinned_gateway(
        "alerts:\n  digest_at: '09:00'\n  sinks:\n"
        f"    - {{type: email, host: 127.0.0.1, port: {smtp.port}, from: costops@example.com, to: [finops@example.com],"
        " events: [digest]}\n"
        "budgets:\n  check_interval_s: 0.05\n  list:\n    - {name: all, limit_usd: 5, window: daily}\n",
        clock=clock,
    )
    assert chat(client(gw, "x"))[0] == 200
    time.sleep(0.3)
    assert smtp.messages == []  # not yet nine
    clock.at("2026-11-25T09:00:30")
    deadline = time.monotonic() + 10
    while not smtp.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    [mail] = smtp.messages  # once a day, however often the check runs
    assert "Subject: [costops] digest: budgets" in mail and "To: finops@example.com" in mail
    assert f"costops daily budget digest, {utc(clock()).date()}:" in mail and "- all (global, daily): $0.0000" in mail
