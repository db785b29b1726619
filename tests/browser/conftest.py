"""Browser fixtures: a real ``uvicorn`` server on loopback and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.runtime import build_runtime
from leadbridge.web.app import create_app
from tests.builders import TEST_SECRET_KEY
from tests.web.conftest import (  # noqa: F401  (fixtures shared with the route tests)
    SmtpServer,
    _free_port,
    smtp_server,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    url: str
    settings: Settings
    database: Database


@pytest.fixture
def live_server(sqlite_url: str, smtp_server: SmtpServer) -> Iterator[LiveServer]:  # noqa: F811
    """The whole app served by uvicorn in a thread, mails going to the local SMTP server."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=sqlite_url,
        secret_key=SecretStr(TEST_SECRET_KEY),
        public_url=url,
        connections={"test": SalesforceConfig(name="test", role="manufacturer")},
    )
    database = Database(sqlite_url)
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
    rt = build_runtime(settings, mailer=mailer)
    database = rt.db
    app = create_app(rt)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url, settings, database)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Debian's chromium is required for browser tests: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
