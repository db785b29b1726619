"""The one connector interface: the verbs every kind offers, and those the sync engine adds.

``Connector`` has the verbs every connector offers: ``check`` (an actionable message, never a
traceback), ``discover``, ``read_changes`` (records changed since a keyset checkpoint),
``write_batch`` (idempotent writes, one result per item), ``parse_webhook``, and ``describe`` /
``fetch_record`` / ``create_fields`` for ``mappings check`` and ``preview``. A verb outside the
kind's capabilities (``registry.Capability``) raises ``FatalConnectorError`` saying so.

``SyncedConnector`` is the same interface with the mapping side the sync engine needs
(``Capability.SYNCED``): leads from changes, fields for write-back and partner pushes. Business
code talks to these verbs only; the vendor client stays inside the connector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from leadbridge.core.model import Lead
from leadbridge.core.partner_status import PartnerStatus
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.ports.accounts import PerformanceSection
from leadbridge.ports.records import Change, Checkpoint, CheckResult, StreamInfo, WriteItem, WriteResult
from leadbridge.ports.remote import FieldFix, FieldSpec, RemoteObject


@runtime_checkable
class Connector(Protocol):
    """The verbs every connector offers (module docstring). ``runtime_checkable`` checks names
    only; mypy checks signatures."""

    @property
    def name(self) -> str: ...

    @property
    def lookback(self) -> timedelta:
        """How far before a checkpoint ``read_changes`` re-reads (rows committed late)."""
        ...

    def check(self) -> CheckResult: ...

    def discover(self) -> list[StreamInfo]: ...

    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterable[list[Change]]:
        """Pages of changes in keyset order strictly after ``since`` (each keyset once)."""
        ...

    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """One result per item, in order; ``WriteOp.DELETE`` items remove ``external_id``."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        """The changes a verified delivery announces (``WebhookRejected`` when it does not verify);
        ``uri`` is the URL the delivery was sent to, when the signature covers it."""
        ...

    def describe(self, object_name: str) -> RemoteObject:
        """The object's fields as the remote system describes them."""
        ...

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """One record's fields (``NotFound`` when there is no such record)."""
        ...

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        """Create the missing fields through the API (``Capability.CREATE_FIELDS``), or say what
        an admin must do where the API cannot."""
        ...


@runtime_checkable
class SyncedConnector(Connector, Protocol):
    """A connector the sync engine drives (``Capability.SYNCED``): the mapping side of pulls,
    write-back and partner pushes."""

    @property
    def update_stream(self) -> str: ...

    @property
    def upsert_stream(self) -> str: ...

    @property
    def task_stream(self) -> str: ...

    @property
    def writeback_owned(self) -> tuple[str, ...]:
        """Remote fields only leadbridge writes (a change by anyone else is a conflict)."""
        ...

    def lead_from(self, change: Change) -> Lead:
        """The lead a pulled change maps to (``RecordError`` when it cannot be mapped)."""
        ...

    def partner_status(self, change: Change) -> PartnerStatus: ...

    def partner_owned(self, change: Change) -> dict[str, Any]: ...

    def writeback_fields(self, lead: Lead, status: LeadStatusRecord) -> dict[str, Any]: ...

    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> dict[str, Any]: ...

    def task_fields(self, remote_id: str, subject: str, description: str) -> dict[str, Any]: ...

    def erasure_fields(self, lead_id: str, mark: str) -> dict[str, Any]: ...


@runtime_checkable
class AccountWriter(Protocol):
    """A home connector that writes partner figures onto the partners' account records
    (``Capability.ACCOUNTS``): the mapping's ``partner_performance`` section says which figures go
    into which fields of ``account_object``."""

    @property
    def performance(self) -> PerformanceSection | None:
        """The connection mapping's ``partner_performance`` section (None: nothing to write)."""
        ...

    def describe(self, object_name: str) -> RemoteObject: ...

    def write_accounts(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Update each item's account (``external_id``, the record id) with its remote fields, as
        typed values (int, Decimal, float, datetime) the connector puts in its wire format; one
        result per item, in order. An unknown account is that item's ``SKIP``."""
        ...


class PartnerFieldMap(Protocol):
    """A connector's field mapper for the partner side: what to push, what a partner's record says."""

    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> Mapping[str, Any]: ...

    def erasure_fields(self, lead_id: str, mark: str) -> Mapping[str, Any]: ...

    def partner_status(self, record: Mapping[str, Any]) -> dict[str, Any]: ...

    def partner_owned(self, record: Mapping[str, Any]) -> dict[str, Any]: ...


class PartnerSideFromFields:
    """The partner-side verbs of ``SyncedConnector`` for a connector whose field mapper
    (``self.fields``) does the work: the connector only hands it the record of a change."""

    fields: Any  # a PartnerFieldMap; Any, so each connector keeps its mapper's own type

    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> dict[str, Any]:
        mapper: PartnerFieldMap = self.fields
        return dict(
            mapper.partner_fields(lead, status, accepted=accepted, withdrawn=withdrawn, first_push=first_push)
        )

    def erasure_fields(self, lead_id: str, mark: str) -> dict[str, Any]:
        mapper: PartnerFieldMap = self.fields
        return dict(mapper.erasure_fields(lead_id, mark))

    def partner_status(self, change: Change) -> PartnerStatus:
        mapper: PartnerFieldMap = self.fields
        return PartnerStatus(**mapper.partner_status(change.record))

    def partner_owned(self, change: Change) -> dict[str, Any]:
        mapper: PartnerFieldMap = self.fields
        return mapper.partner_owned(change.record)
