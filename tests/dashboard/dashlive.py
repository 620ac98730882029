"""Fixtures of the dashboard tests: a real ``wfc server`` process on a free
loopback port over a SQLite file, runs started with the real CLI, and the
page driven in Debian's Chromium by Playwright (``executable_path``: no
browser download). Screenshots go to the test's temporary folder, and to
``docs/screenshots`` when ``WFC_UPDATE_SCREENSHOTS=1`` (the README shows those).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CHROMIUM = os.environ.get("WFC_TEST_CHROMIUM", "/usr/bin/chromium")
WFC = [str(Path(sys.executable).with_name("wfc"))]

try:
    import httpx
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError as missing:  # pragma: no cover - the test extra has both
    pytest.skip(f"the dashboard tests need playwright and httpx (pip install -e '.[test]'): {missing}",
                allow_module_level=True)

if not Path(CHROMIUM).exists():  # pragma: no cover - .ci/run installs it
    pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or set WFC_TEST_CHROMIUM)",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    db: str
    token: str | None
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def wait_for(self, run_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.api("GET", f"/runs/{run_id}")
            if run["status"] in statuses:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} is {run['status']}, not {statuses}, after {timeout}s")
            time.sleep(0.2)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*WFC, *args, "--db", self.db], capture_output=True, text=True, cwd=ROOT, timeout=120)


def start_server(tmp_path: Path, *tasks: str, token: str | None = None) -> Iterator[Server]:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'dashboard.db'}"
    command = [*WFC, "server", "--db", db, "--port", str(port)]
    for module in tasks:
        command += ["--tasks", str(EXAMPLES / module)]
    if token:
        command += ["--token", token]
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", db, token, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"wfc server did not start:\n{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def checkout_server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path, "checkout_tasks.py", "order_fulfilment_tasks.py", "currency_exchange_tasks.py")


# Module scope, not session: Playwright's sync API keeps an event loop running
# in this thread while the browser is open, and later tests start their own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """Save a screenshot (and, with WFC_UPDATE_SCREENSHOTS=1, the README's copy)."""
    path = tmp_path / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("WFC_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / f"{name}.png")
    return path
