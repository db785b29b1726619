"""The ports: what the domain owns about talking to external systems.

``records``: changes, keyset checkpoints, write items/results and the vendor error table;
``remote``: how an object's fields are described; ``connector``: the one connector interface;
``registry``: connector kinds (settings model, factory, capabilities). Imports only the stdlib,
pydantic and ``core``; connectors implement these, ``sync`` and the entry points use them.
"""

from leadbridge.ports.connector import Connector, SyncedConnector
from leadbridge.ports.records import (
    STAMP_FORMAT,
    Action,
    Change,
    Checkpoint,
    CheckResult,
    ErrorRule,
    ErrorTable,
    StreamInfo,
    WebhookMalformed,
    WebhookRejected,
    WriteItem,
    WriteOp,
    WriteResult,
    advance,
    after_checkpoint,
    format_stamp,
    parse_stamp,
)
from leadbridge.ports.registry import ROLE_CAPABILITY, Capability, ConnectorDeps, ConnectorRegistry, Kind
from leadbridge.ports.remote import (
    BOOLEAN,
    DATE,
    DATETIME,
    MULTI,
    NUMBER,
    TEXT,
    FieldFix,
    FieldSpec,
    RemoteField,
    RemoteObject,
)

__all__ = [
    "BOOLEAN",
    "DATE",
    "DATETIME",
    "MULTI",
    "NUMBER",
    "ROLE_CAPABILITY",
    "STAMP_FORMAT",
    "TEXT",
    "Action",
    "Capability",
    "Change",
    "CheckResult",
    "Checkpoint",
    "Connector",
    "ConnectorDeps",
    "ConnectorRegistry",
    "ErrorRule",
    "ErrorTable",
    "FieldFix",
    "FieldSpec",
    "Kind",
    "RemoteField",
    "RemoteObject",
    "StreamInfo",
    "SyncedConnector",
    "WebhookMalformed",
    "WebhookRejected",
    "WriteItem",
    "WriteOp",
    "WriteResult",
    "advance",
    "after_checkpoint",
    "format_stamp",
    "parse_stamp",
]
