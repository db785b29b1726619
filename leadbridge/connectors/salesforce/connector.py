"""The Salesforce connector: the five verbs over one org, either side (manufacturer or partner).

Rules:
- reads are incremental by keyset ``(SystemModstamp, Id)``: ``queryAll`` (so deletions come in the
  same pass, ``IsDeleted = true``) with ``SystemModstamp >=`` the checkpoint minus a short lookback,
  ``ORDER BY SystemModstamp, Id``, pages of 2,000, then ``after_checkpoint`` drops what was already
  taken in — rows sharing a stamp are never lost, never read twice;
- the manufacturer side reads Leads matching ``qualification_filter``; the partner side reads only
  Leads that carry our external id (the ones leadbridge delivered);
- writes are sObject Collections of at most 200 records; the answer is 200 even when items fail, so
  each item is checked and mapped through the error table to a ``WriteResult``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from leadbridge.connectors.salesforce import fields as F
from leadbridge.connectors.salesforce.client import SalesforceClient
from leadbridge.connectors.salesforce.config import SalesforceConfig
from leadbridge.connectors.salesforce.describe import remote_from_describe, setup_instructions
from leadbridge.connectors.salesforce.errors import item_rule
from leadbridge.core.errors import LeadbridgeError, NotFound, SkipRecord
from leadbridge.core.model import Lead
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.ports import (
    Action,
    Change,
    Checkpoint,
    CheckResult,
    FieldFix,
    FieldSpec,
    RemoteObject,
    StreamInfo,
    WriteItem,
    WriteOp,
    WriteResult,
    after_checkpoint,
    format_stamp,
    parse_stamp,
)
from leadbridge.ports.accounts import PerformanceSection
from leadbridge.ports.connector import PartnerSideFromFields

COLLECTION_LIMIT = 200
PAGE_SIZE = 2000
LOOKBACK = timedelta(seconds=5)
LEAD = "Lead"
TASK = "Task"
ACCOUNT = "Account"
ALREADY_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SalesforceConnector(PartnerSideFromFields):
    """A Salesforce org seen through the connector verbs (module rules)."""

    def __init__(self, config: SalesforceConfig, client: SalesforceClient, fields: F.LeadFields) -> None:
        self.config = config
        self.client = client
        self.fields = fields
        self.name = config.name
        self.lookback = config.lookback(LOOKBACK)
        self.page_size = config.page_size or PAGE_SIZE

    @property
    def is_partner(self) -> bool:
        return self.config.role == "partner"

    # -- check / discover ----------------------------------------------------------------------
    def check(self) -> CheckResult:
        """Log in, read the limits, and confirm the Lead fields leadbridge needs exist."""
        try:
            limits = self.client.limits()
            described = self.client.describe(LEAD)
        except LeadbridgeError as error:
            text = str(error)
            return CheckResult(False, text if self.name in text else f"{self.name}: {text}")
        names = {f["name"].lower() for f in described.get("fields", [])}
        wanted = (*self.fields.read_fields, *self.fields.writeback_names, F.EXTERNAL_ID_FIELD)
        missing = [name for name in wanted if name.lower() not in names]
        api = limits.get("DailyApiRequests", {})
        details = {"api_remaining": api.get("Remaining"), "api_max": api.get("Max")}
        if missing:
            return CheckResult(
                False,
                f"{self.name}: the Lead object lacks {', '.join(missing)}; ask the Salesforce admin to "
                f"create them (see docs/sync.md for their types; {F.EXTERNAL_ID_FIELD} must be an "
                "External ID, unique)",
                details,
            )
        return CheckResult(
            True,
            f"{self.name}: connected; {api.get('Remaining')}/{api.get('Max')} API calls left today",
            details,
        )

    # -- describing (``mappings check`` / ``preview``) -----------------------------------------
    def describe(self, object_name: str) -> RemoteObject:
        """The sObject's describe."""
        return remote_from_describe(self.client.describe(object_name))

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """One record, every field (``GET sobjects/{object}/{id}``)."""
        try:
            data = dict(self.client.restful("get record", f"sobjects/{object_name}/{external_id}") or {})
        except SkipRecord:  # 404 NOT_FOUND in the error table
            raise NotFound(f"{object_name} {external_id} does not exist") from None
        data.pop("attributes", None)
        return data

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        """Custom fields are created in Setup, not through the data API: the steps for an admin."""
        return FieldFix(instructions=setup_instructions(object_name, specs))

    def discover(self) -> list[StreamInfo]:
        described = self.client.describe(LEAD)
        names = tuple(f["name"] for f in described.get("fields", []))
        return [StreamInfo(LEAD, "Id", "SystemModstamp", names)]

    # -- reading -------------------------------------------------------------------------------
    def soql(self, since: Checkpoint | None) -> str:
        fields = (
            *self.fields.read_fields,
            F.EXTERNAL_ID_FIELD,
            *(() if self.is_partner else F.LEADBRIDGE_OWNED),
        )
        where = [f"{F.EXTERNAL_ID_FIELD} != null"] if self.is_partner else []
        if not self.is_partner:
            where.append(f"({self.config.qualification_filter or F.DEFAULT_QUALIFICATION})")
        if since is not None:
            where.append(f"SystemModstamp >= {since.read_from(self.lookback)}")
        columns = ", ".join(dict.fromkeys(("Id", *fields, "SystemModstamp", "IsDeleted")))
        return f"SELECT {columns} FROM {LEAD} WHERE {' AND '.join(where)} ORDER BY SystemModstamp, Id"

    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        """Pages of Lead changes (deletions included) not yet taken in, in keyset order."""
        if stream != LEAD:
            raise ValueError(f"{self.name}: unknown stream {stream!r} (known: {LEAD})")
        lookback_from = since.read_from(self.lookback) if since else None
        for records in self.client.query_pages(
            self.soql(since), include_deleted=True, batch_size=self.page_size
        ):
            changes = [self._change(record) for record in records]
            page = after_checkpoint(changes, since, lookback_from)
            if page:
                yield page

    def _change(self, record: Mapping[str, Any]) -> Change:
        plain = {key: value for key, value in record.items() if key != "attributes"}
        return Change(
            LEAD,
            str(record["Id"]),
            format_stamp(parse_stamp(str(record["SystemModstamp"]))),
            plain,
            deleted=bool(record.get("IsDeleted")),
        )

    # -- writing -------------------------------------------------------------------------------
    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Write ``items`` in collections of 200: ``Lead`` updates by id, ``Lead:upsert`` upserts on
        our external id, ``Task`` creates; ``WriteOp.DELETE`` items are deleted by id. One result per
        item, in order."""
        results: list[WriteResult] = []
        for chunk in chunks(items, COLLECTION_LIMIT):
            deleting = [item.op is WriteOp.DELETE for item in chunk]
            if any(deleting) and not all(deleting):
                raise ValueError(f"{self.name}: a batch either deletes or writes, not both")
            results += self._delete_chunk(chunk) if any(deleting) else self._write_chunk(stream, chunk)
        return results

    def _delete_chunk(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        ids = ",".join(str(item.external_id) for item in items)
        answer = self.client.restful(
            "collections delete",
            "composite/sobjects",
            method="DELETE",
            params={"ids": ids, "allOrNone": "false"},
        )
        results = []
        for item, outcome in zip(items, answer or [], strict=True):
            codes = {str(error.get("statusCode")) for error in outcome.get("errors") or []}
            if codes & ALREADY_GONE:  # deleting twice settles the same way as once
                results.append(WriteResult(item.key, True, item.external_id))
            else:
                results.append(self._result(item, outcome))
        return results

    def _write_chunk(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        if stream == f"{LEAD}:upsert":
            records = [{"attributes": {"type": LEAD}, **item.fields} for item in items]
            path, method = f"composite/sobjects/{LEAD}/{F.EXTERNAL_ID_FIELD}", "PATCH"
        elif stream == LEAD:
            records = [
                {"attributes": {"type": LEAD}, "id": item.external_id, **item.fields} for item in items
            ]
            path, method = "composite/sobjects", "PATCH"
        elif stream == TASK:
            records = [{"attributes": {"type": TASK}, **item.fields} for item in items]
            path, method = "composite/sobjects", "POST"
        else:
            raise ValueError(f"{self.name}: cannot write stream {stream!r}")
        return self._collection(f"collections {stream}", path, method, items, records)

    def _collection(
        self, what: str, path: str, method: str, items: Sequence[WriteItem], records: list[dict[str, Any]]
    ) -> list[WriteResult]:
        """One sObject Collections call (``allOrNone`` false): one result per item, in order."""
        answer = self.client.restful(what, path, method=method, json={"allOrNone": False, "records": records})
        return [self._result(item, outcome) for item, outcome in zip(items, answer or [], strict=True)]

    # -- partner accounts (``AccountWriter``) -------------------------------------------------
    @property
    def performance(self) -> PerformanceSection | None:
        return self.fields.mapping.performance

    def write_accounts(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Update partner accounts by id in collections of 200 (``PATCH composite/sobjects``)."""
        obj = self.performance.object if self.performance else ACCOUNT
        results: list[WriteResult] = []
        for chunk in chunks(items, COLLECTION_LIMIT):
            records = [
                {
                    "attributes": {"type": obj},
                    "id": item.external_id,
                    **{k: _wire(v) for k, v in item.fields.items()},
                }
                for item in chunk
            ]
            results += self._collection(f"collections {obj}", "composite/sobjects", "PATCH", chunk, records)
        return results

    @staticmethod
    def _result(item: WriteItem, outcome: Mapping[str, Any]) -> WriteResult:
        if outcome.get("success"):
            return WriteResult(item.key, True, outcome.get("id"), bool(outcome.get("created")))
        errors = list(outcome.get("errors") or [])
        rule = item_rule(errors)
        detail = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "unknown error"
        return WriteResult(item.key, False, outcome.get("id"), error=detail, action=rule.action)

    # -- webhooks ------------------------------------------------------------------------------
    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        """An Outbound Message (SOAP ``notifications``) as changes; rows without a stamp are skipped."""
        root = ET.fromstring(body)
        changes = []
        for element in root.iter():
            if not element.tag.endswith("sObject"):
                continue
            record = {child.tag.rsplit("}", 1)[-1]: child.text for child in element}
            if record.get("Id") and record.get("SystemModstamp"):
                changes.append(self._change(record))
        return after_checkpoint(changes, None)

    # -- mapping (one place to swap for the mappings module's compiled plans) -----------------
    update_stream, upsert_stream, task_stream = LEAD, f"{LEAD}:upsert", TASK
    writeback_owned = F.LEADBRIDGE_OWNED

    def lead_from(self, change: Change) -> Lead:
        return self.fields.lead_from_record(change.record, self.name)

    def writeback_fields(self, lead: Lead, status: LeadStatusRecord) -> dict[str, Any]:
        owner = self.config.direct_sales_owner_id
        return self.fields.writeback_fields(lead, status, owner_id=owner)

    @staticmethod
    def task_fields(remote_id: str, subject: str, description: str) -> dict[str, Any]:
        return {
            "WhoId": remote_id,
            "Subject": subject[:255],
            "Description": description,
            "Status": "Completed",
        }


def _wire(value: Any) -> Any:
    """A figure as Salesforce's JSON takes it (date-times in its stamp format, decimals as numbers)."""
    if isinstance(value, datetime):
        return format_stamp(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def retryable(result: WriteResult) -> bool:
    return not result.ok and result.action in (Action.RETRY, Action.REFRESH_SESSION)
