"""The inbox as a connection kind (``kind: inbox``): partners without a CRM use leadbridge's pages."""

from __future__ import annotations

from typing import Literal

from leadbridge.core.settings import ConnectionConfig
from leadbridge.ports import Capability, Kind


class InboxConfig(ConnectionConfig):
    """The hosted inbox has no keys of its own: it is leadbridge's own web app."""

    kind: Literal["inbox"] = "inbox"
    role: Literal["partner"] = "partner"


# No factory: partner actions reach leads through ``PartnerInbox`` in the web app, not the sync
# engine; nothing polls, writes to or describes the inbox.
KIND = Kind(
    name="inbox",
    config=InboxConfig,
    factory=None,
    capabilities=frozenset({Capability.PARTNER}),
    summary="the hosted partner inbox (leadbridge's own pages, e-mail links and REST API)",
)
