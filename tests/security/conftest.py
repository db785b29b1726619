"""Security tests share the web world (two partners, an admin, a real SMTP server)."""

from __future__ import annotations

from tests.web.conftest import (  # noqa: F401  (fixtures shared with the route tests)
    _no_projector_afterwards,
    smtp_server,
    world,
)
