"""Pool fixtures: the web world (two inbox partners, SMTP, both databases) with a pull policy."""

from __future__ import annotations

from tests.web.conftest import _no_projector_afterwards, smtp_server, world

__all__ = ["_no_projector_afterwards", "smtp_server", "world"]
