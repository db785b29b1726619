"""Security tests share the web world (two partners, an admin, a real SMTP server) and can serve
its app over a real socket (uvicorn in a thread on a free loopback port)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

from tests.web.conftest import (  # noqa: F401  (fixtures shared with the route tests)
    World,
    _free_port,
    smtp_server,
    world,
)


@contextmanager
def serve(app: FastAPI) -> Iterator[tuple[str, int]]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields (host, port)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live(world: World) -> Iterator[tuple[str, int]]:  # noqa: F811
    with serve(world.app) as address:
        yield address
