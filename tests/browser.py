"""What the browser tests share: Debian's Chromium, and the real uvicorn server they drive it against."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def need_chromium() -> None:
    """Fail in CI, skip loudly elsewhere, when Debian's Chromium is not installed (Playwright's own
    browser download is never used)."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (the browser tests drive Debian's Chromium)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(f"!!! browser tests SKIPPED: {message} !!!")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(folder: Path, database_url: str, environment: Mapping[str, str] | None = None) -> Iterator[str]:
    """The web application served by uvicorn on a free port over this database, its log in
    ``folder/server.log``; yields its base URL once the sign-in page answers, stops it after."""
    port = free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "equicover.api.server:app", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **(environment or {}), "EQUICOVER_DATABASE_URL": database_url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log_text = (folder / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the web server did not start: {log_text}") from None
                time.sleep(0.3)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@contextmanager
def chromium(*args: str) -> Iterator[object]:
    """Debian's Chromium driven by Playwright, with these switches besides the sandbox and GPU ones."""
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", *args]
        )
        try:
            yield launched
        finally:
            launched.close()
