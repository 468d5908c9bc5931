"""README command 1 as a user meets it: `hotline demo` in a subprocess, real headless Chromium
logs in with every printed demo account and sees that role's navigation."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from hotline.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from hotline.web.nav import NAV
from tests.conftest import browser_login


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    log = open(data / "demo.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline", "demo", "--data-dir", str(data), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("demo did not start:\n" + (data / "demo.log").read_text())
            time.sleep(0.2)
    yield url, data / "demo.log"
    # A desk left open keeps a screen-pop stream; the demo must still stop within seconds.
    desk = open_desk_stream(url, "agent1", DEMO_PASSWORD)
    started = time.monotonic()
    proc.terminate()
    try:
        proc.wait(10)
    finally:
        desk.close()
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - started
    text = (data / "demo.log").read_text()
    assert took < 5, f"the demo took {took:.1f} s to stop"
    assert proc.returncode == 0, text[-2000:]
    assert "Traceback" not in text and " ERROR " not in text, text[-4000:]


def open_desk_stream(url: str, username: str, password: str) -> Any:
    """Logs in with a plain HTTP client and opens the desk's screen-pop stream (read to its
    first event, then left open as a browser tab would)."""
    import http.client
    from http.cookiejar import CookieJar
    from urllib.parse import urlencode, urlsplit

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    opener.open(
        url + "/login",
        data=urlencode({"username": username, "password": password, "_csrf": csrf}).encode(),
        timeout=10,
    ).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(
        "GET", "/api/v1/calls/pops", headers={"Cookie": cookie, "Accept": "text/event-stream"}
    )
    resp = conn.getresponse()
    assert resp.status == 200 and resp.readline().startswith(b"event: status")
    return conn


def test_demo_prints_every_account(demo_server):
    _, log = demo_server
    text = log.read_text()
    assert DEMO_PASSWORD in text
    for acc in DEMO_ACCOUNTS:
        assert re.search(rf"^\s+{acc.username}\s", text, re.M), acc.username


async def test_every_demo_account_logs_in_and_sees_its_navigation(demo_server, browser, tmp_path):
    url, _ = demo_server
    for acc in DEMO_ACCOUNTS:
        page = await browser_login(browser, url, acc.username, DEMO_PASSWORD)
        assert page.url == url + NAV[acc.role][0][0]
        links = await page.locator("nav a").all_inner_texts()
        assert links == [label for _, label in NAV[acc.role]], acc.username
        assert acc.display_name in await page.inner_text("[data-testid=whoami]")
        if acc.username == "admin":
            await page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
        await page.click("text=退出")
        await page.wait_for_url(re.compile(r".*/login$"))
        await page.context.close()


async def test_demo_shows_live_calls_from_its_embedded_pbx(demo_server, browser):
    """The demo's replayed PBX: the manager's live board lists the three queue members and is
    connected; call figures fill in as the replayed calls finish."""
    from playwright.async_api import expect

    url, log = demo_server
    assert "embedded demo PBX" in log.read_text()
    page = await browser_login(browser, url, "manager", DEMO_PASSWORD)
    assert page.url == url + "/dashboard"
    await expect(page.locator("[data-testid=board-status]")).to_contain_text(
        "已连接", timeout=15000
    )
    await expect(page.locator("[data-testid=agents] tr")).to_have_count(3, timeout=15000)
    names = await page.locator("[data-testid=agents] tr td:first-child").all_inner_texts()
    assert sorted(names) == ["坐席1", "坐席2", "坐席3"]
    await expect(page.locator("[data-testid=metrics-summary] tr")).to_have_count(3, timeout=15000)
    await page.context.close()
