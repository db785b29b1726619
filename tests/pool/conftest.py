"""Pool fixtures: the web world (two inbox partners, SMTP, both databases) with a pull policy."""

from __future__ import annotations

from tests.web.conftest import smtp_server, world

__all__ = ["smtp_server", "world"]
