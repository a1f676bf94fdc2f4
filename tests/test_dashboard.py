"""The dashboard end to end: served alone (``costops dashboard``'s app) and by the gateway, behind
the admin key, driven in headless Chromium (Debian's, through chromedriver) with the machine's
flags: the page logs in, every chart is drawn with data (datasets and painted pixels), a filter
changes the numbers, and a screenshot is kept for a person to look at.

CI installs chromium and chromium-driver (``.ci/services``); without them here the browser
tests fail under CI and are skipped elsewhere, like the PostgreSQL tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from costops.analysis.engine import open_engine
from costops.config import ServerConfig
from costops.control.budget_spec import parse_budgets
from costops.ledger.query import Filters
from costops.ledger.store import open_store
from costops.web.app import Dashboard
from tests.analytics_fixtures import fill
from tests.ledger_fixtures import DAY, T0

NOW = T0 + 21 * DAY + 3600  # an hour after the ledger's last day
KEY = "dash-key-0123456789"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


class Got:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, body
        self.text = body.decode()

    def json(self) -> dict:
        return orjson.loads(self.content)


def _get(url: str, headers: dict[str, str] | None = None) -> Got:
    """One GET, redirects not followed (the test checks them)."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            return Got(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Got(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


async def _asgi_get(app, path: str, headers: dict[str, str] | None = None) -> Got:  # type: ignore[no-untyped-def]
    path, _, query = path.partition("?")
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "scheme": "http",
             "server": ("127.0.0.1", 4000), "client": ("127.0.0.1", 5555), "http_version": "1.1",
             "headers": [(b"host", b"127.0.0.1:4000"), *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())]}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    head = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    return Got(sent[0]["status"], head, b"".join(m.get("body", b"") for m in sent[1:]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("dash") / "ledger.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    fill(store, n=1500)
    store.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def served(ledger_url: str) -> Iterator[tuple[str, object]]:
    """The standalone dashboard on a free loopback port, with an admin key and two budgets."""
    import uvicorn

    engine = open_engine(None, ledger_url)
    engine.sync()
    budgets = parse_budgets({"list": [
        {"name": "acme-monthly", "limit_usd": 5, "scope": {"tenant": "acme"}, "window": "monthly"},
        {"name": "all-weekly", "limit_usd": 20, "window": "weekly"},
    ]}).budgets
    port = _free_port()
    app = Dashboard(ServerConfig(port=port, admin_key=KEY), lambda: engine, budgets=lambda: budgets, clock=lambda: NOW)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine
    server.should_exit = True
    thread.join(10)
    engine.close()


def test_without_the_key_the_page_asks_for_it_and_the_data_is_refused(served) -> None:
    url, _ = served
    page = _get(f"{url}/dashboard")
    assert page.status_code == 401 and 'name="key"' not in page.text and "name=key" in page.text
    api = _get(f"{url}/dashboard/api/panels")
    assert api.status_code == 401 and "admin key" in api.json()["error"]["message"]
    wrong = _get(f"{url}/dashboard?key=nope")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    right = _get(f"{url}/dashboard?key={KEY}")
    assert right.status_code == 303 and right.headers["location"] == "/dashboard"
    assert "HttpOnly" in right.headers["set-cookie"] and "SameSite=Strict" in right.headers["set-cookie"]
    assert _get(f"{url}/dashboard/assets/chart.umd.min.js").text.startswith("/*!\n * Chart.js v4")


def test_the_data_matches_the_engine_and_bad_filters_are_named(served) -> None:
    url, engine = served
    auth = {"authorization": f"Bearer {KEY}"}
    data = _get(f"{url}/dashboard/api/panels?since=30d&tenant=acme", auth).json()
    expected = engine.totals(Filters(since=NOW - 30 * DAY, tenant="acme"))
    assert Decimal(data["totals"]["cost_usd"]) == Decimal(expected["cost_nanos"]) / 10**9
    assert data["totals"]["requests"] == expected["requests"]
    assert sum(Decimal(s["total_usd"]) for s in data["spend_over_time"]["series"]) == Decimal(data["totals"]["cost_usd"])
    assert [b["name"] for b in data["budgets"]] == ["acme-monthly", "all-weekly"]
    bad = _get(f"{url}/dashboard/api/panels?since=last+tuesday", auth)
    assert bad.status_code == 400 and "since/until" in bad.json()["error"]["message"]
    bad = _get(f"{url}/dashboard/api/panels?stack=colour", auth)
    assert bad.status_code == 400 and "stack by one of" in bad.json()["error"]["message"]


def test_a_dashboard_reachable_from_other_machines_needs_a_key(ledger_url: str) -> None:
    import asyncio

    app = Dashboard(ServerConfig(host="0.0.0.0"), lambda: None)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/dashboard/api/panels", "query_string": b"", "headers": []}
    asyncio.run(app(scope, None, send))
    assert sent[0]["status"] == 403 and b"server.admin_key" in sent[1]["body"]


def test_the_gateway_serves_the_dashboard_behind_its_admin_key(ledger_url: str) -> None:
    from costops.config import load_config
    from costops.gateway.app import create_app
    from tests.clock import Clock

    config = load_config(None, db=ledger_url, env={"COSTOPS_ADMIN_KEY": KEY})
    app = create_app(config, clock=Clock(NOW))

    async def go() -> tuple[Got, Got]:
        refused = await _asgi_get(app, "/dashboard/api/panels")
        ok = await _asgi_get(app, "/dashboard/api/panels", {"authorization": f"Bearer {KEY}"})
        return refused, ok

    import asyncio

    refused, ok = asyncio.run(go())
    assert refused.status_code == 401
    assert ok.status_code == 200 and ok.json()["totals"]["requests"] > 0


# -- in the browser -------------------------------------------------------------------------------


def _driver(tmp_path: Path):  # type: ignore[no-untyped-def]
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if not chromium or not chromedriver:
        why = "Debian's chromium, chromium-driver and the selenium package are needed (.ci/services installs them)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,3000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(chromedriver), options=options)


CHART_POINTS = """
return Object.fromEntries(Object.entries(window.costopsCharts).map(([id, c]) => {
  const points = c.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null && v !== 0).length, 0);
  const canvas = c.canvas, ctx = canvas.getContext('2d');
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
  return [id, {points, painted, width: canvas.width}];
}));
"""


def test_every_chart_renders_with_data_in_chromium(served, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, engine = served
    driver = _driver(tmp_path)
    try:
        driver.get(f"{url}/dashboard")
        driver.find_element(By.NAME, "key").send_keys(KEY)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        charts = driver.execute_script(CHART_POINTS)
        for chart in ("chart-spend", "chart-top", "chart-forecast", "chart-cache", "chart-rejections", "chart-routing",
                      "chart-experiments", "chart-budget-0", "chart-budget-1"):
            assert charts[chart]["points"] > 0, chart
            assert charts[chart]["painted"] > 2000, chart  # pixels drawn, not an empty canvas
        total = engine.totals(Filters(since=NOW - 30 * DAY))
        kpi = driver.find_element(By.CSS_SELECTOR, "#kpis .kpi b").text
        dollars = Decimal(total["cost_nanos"]) / 10**9
        assert kpi == (f"${dollars:,.4f}" if dollars < 100 else f"${dollars:,.2f}")
        first_kpi = kpi
        rows = driver.find_elements(By.CSS_SELECTOR, "#unit tr")
        assert len(rows) > 3  # a header and a row per feature
        month = Filters(since=NOW - 30 * DAY)
        assert _experiment_rows(driver) == _arms(engine, month, "cascade")  # the first tab: costops experiments' numbers
        _shot(driver, tmp_path, "dashboard.png")
        # a filter changes what every panel shows
        Select(driver.find_element(By.NAME, "tenant")).select_by_value("acme")
        driver.execute_script("document.body.dataset.ready = '0'")
        driver.find_element(By.CSS_SELECTOR, "#filters button").click()
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        acme = engine.totals(Filters(since=NOW - 30 * DAY, tenant="acme"))
        assert acme["cost_nanos"] < total["cost_nanos"]
        assert driver.find_element(By.CSS_SELECTOR, "#kpis .kpi b").text != first_kpi
        assert driver.execute_script(CHART_POINTS)["chart-spend"]["points"] > 0
        acme_arms = _arms(engine, replace(month, tenant="acme"), "cascade")
        assert _experiment_rows(driver) == acme_arms and acme_arms != _arms(engine, month, "cascade")
        assert driver.execute_script(CHART_POINTS)["chart-experiments"]["points"] > 0
        _shot(driver, tmp_path, "dashboard-acme.png")
    finally:
        driver.quit()


def _arms(engine, filters: Filters, policy: str) -> list[tuple[str, int, str, int]]:  # type: ignore[no-untyped-def]
    """What ``costops experiments`` says per arm of ``policy``: arm, requests, spend, scored."""
    from costops.analysis.experiments import build

    return [(a["arm"], a["requests"], a["spend_usd"], a["feedback_n"]) for a in build(engine.arms(filters))[policy]["arms"]]


def _experiment_rows(driver) -> list[tuple[str, int, str, int]]:  # type: ignore[no-untyped-def]
    """The experiments table as drawn: arm, requests, spend (the exact string the page printed
    from), scored; every quality cell a "mean [low, high]" interval or "-"."""
    import re

    from selenium.webdriver.common.by import By

    out = []
    data = driver.execute_script("return state.data.experiments[0].arms.map(a => a.spend_usd)")
    for i, tr in enumerate(driver.find_elements(By.CSS_SELECTOR, "#experiments tr")[1:]):
        cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        assert re.fullmatch(r"-|\d\.\d{3} \[-?\d\.\d{3}, \d\.\d{3}\]", cells[7]), cells
        assert cells[4].startswith("$") and "[" in cells[4], cells  # cost per request with its interval
        out.append((cells[0], int(re.sub(r"\D", "", cells[1])), data[i], int(re.sub(r"\D", "", cells[6]))))
    return out


def _shot(driver, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 20_000
    keep = os.environ.get("COSTOPS_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)


def test_costops_dashboard_refuses_a_public_bind_without_a_key(ledger_url: str) -> None:
    from click.testing import CliRunner

    from costops.cli import main

    out = CliRunner().invoke(main, ["dashboard", "--db", ledger_url, "--host", "0.0.0.0"], env={"COSTOPS_ADMIN_KEY": None})
    assert out.exit_code == 2 and "reachable from other machines: set --admin-key" in out.output
    missing = CliRunner().invoke(main, ["dashboard", "--db", "sqlite:///no/such/ledger.db"])
    assert missing.exit_code == 1 and "nothing has been recorded there yet" in missing.output
