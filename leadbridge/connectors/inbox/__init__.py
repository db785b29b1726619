"""The hosted inbox: a connector whose "remote system" is leadbridge's own partner pages.

``PartnerInbox`` is the only way partner actions (from the inbox pages, the REST API or one-tap
mail links) reach leads and offers: it is scoped to one partner, turns each action into a lead
event and queues its write-back.
"""

from leadbridge.connectors.inbox.actions import PartnerInbox
from leadbridge.connectors.inbox.kind import KIND, InboxConfig
from leadbridge.connectors.inbox.preview import BlindPreview, blind_preview

__all__ = ["KIND", "BlindPreview", "InboxConfig", "PartnerInbox", "blind_preview"]
