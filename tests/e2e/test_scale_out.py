"""Scale-out: `gsig feed` publishes to a real redis-server; app replicas show its quotes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import load_settings
from core.runtime import build_runtime
from core.store import Store
from tests.e2e.servers import ROOT, streamlit_server
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def _wait(cond, timeout: float = 10.0, what: str = "condition") -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"{what} not met within {timeout} s"
        time.sleep(0.05)


@pytest.fixture()
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def _gsig(env: dict[str, str], *args: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    full.update(env)
    return subprocess.Popen([sys.executable, "-m", "core.cli", "feed", *args], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture()
def feed(redis: RedisServer, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    data = tmp_path / "feed-data"
    proc = _gsig({"GS_REDIS_URL": redis.url, "GS_DATA_DIR": str(data), "GS_SIM_TICK_RATE": "20",
                  "GS_SIM_SEED": "3"}, "--report-every", "1")
    first = proc.stdout.readline()
    assert first.startswith("gsig feed: simulator (simulated) ->"), first
    yield proc, data
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_feed_process_publishes_and_stores_every_tick(feed, redis) -> None:  # noqa: ANN001
    proc, data = feed
    env = {"GS_REDIS_URL": redis.url, "GS_DATA_DIR": str(Path(data).parent / "app-data")}
    runtime = build_runtime(load_settings(env), role="app").start()
    try:
        assert runtime.replica
        hub = runtime.hub
        _wait(lambda: {"AAPL", "BTCUSDT"} <= set(hub.snapshot()), what="quotes at the replica")
        health = hub.health()
        assert health.simulated and health.state == "live"
        assert hub.add_symbol("TSLA") == "TSLA"
        _wait(lambda: "TSLA" in hub.snapshot(), what="TSLA from the feed process")
        first = hub.snapshot()["AAPL"].updated
        _wait(lambda: hub.snapshot()["AAPL"].updated > first, what="a newer AAPL quote")
    finally:
        runtime.stop()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "gsig feed stopped" in out
    published = int(out.strip().splitlines()[-1].split()[3].replace(",", ""))
    with Store.open(f"sqlite:///{data / 'goldensignals.db'}") as store:
        assert store.ticks.count() == published > 0


def test_app_replica_in_a_browser_shows_the_feed_quotes(feed, redis, page, tmp_path) -> None:  # noqa: ANN001
    with streamlit_server({"GS_REDIS_URL": redis.url, "GS_DATA_DIR": str(tmp_path / "app")},
                          tmp_path / "replica.log") as url:
        page.goto(url)
        page.get_by_text("Simulated market data").wait_for()
        page.get_by_text("via feed process").first.wait_for()
        cell = '[data-testid="stDataFrame"] [role="gridcell"]'
        page.locator(cell, has_text="ETHUSDT").first.wait_for(state="attached")
        page.get_by_role("textbox", name="Add a symbol").fill("TSLA")
        page.get_by_role("button", name="Add", exact=True).click()
        page.locator(cell, has_text="TSLA").first.wait_for(state="attached")
        assert "Traceback" not in page.content()


def test_replica_says_when_redis_is_gone(feed, redis, page, tmp_path) -> None:  # noqa: ANN001
    with streamlit_server({"GS_REDIS_URL": redis.url, "GS_DATA_DIR": str(tmp_path / "app")},
                          tmp_path / "replica.log") as url:
        page.goto(url)
        page.get_by_text("via feed process").first.wait_for()
        redis.stop()
        page.locator('[data-testid="stSidebar"]').get_by_text("down").first.wait_for(
            timeout=20_000)
        assert "Traceback" not in page.content()


def test_gsig_feed_without_redis_explains_itself(tmp_path: Path) -> None:
    proc = _gsig({"GS_DATA_DIR": str(tmp_path)})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "GS_REDIS_URL" in out and "Traceback" not in out
