"""The Dynamics 365 connector: the connector verbs over one Dataverse environment, either side.

Rules:
- reads are incremental by keyset ``(modifiedon, leadid)``: ``$filter=modifiedon ge`` the checkpoint
  minus a lookback, ``$orderby=modifiedon asc,leadid asc``, pages of ``odata.maxpagesize`` along the
  absolute ``@odata.nextLink``, then ``after_checkpoint`` drops what was already taken in.
  ``modifiedon`` comes to the second, and Dataverse orders GUIDs as SQL Server does (not as text),
  so many rows share a stamp and server order is not keyset order — the lookback window and the
  checkpoint's ``recent`` keysets make that safe. A row changed again within the same second has
  the same keyset as its previous version: the connector remembers the ``versionnumber`` of each
  row it read inside the lookback window and hands such a row in again (BEHAVIOR.md);
- deletions come from change tracking: the first read of a connector takes a baseline
  (``Prefer: odata.track-changes``, ids only) and keeps the ``@odata.deltaLink``; each later read
  follows it and reports ``$deletedEntity`` rows as deletions (a baseline taken after a restart
  misses deletions made while leadbridge was down: BEHAVIOR.md);
- the manufacturer side reads leads matching ``qualification_filter`` (OData); the partner side
  reads only leads carrying our alternate key;
- writes are ``$batch``es of ``batch_size`` independent requests with ``odata.continue-on-error``:
  ``lead`` updates by id with ``If-Match: *`` (a PATCH without it would recreate a deleted lead),
  ``lead:upsert`` upserts on the alternate key with ``return=representation`` (201 created, 200
  updated; the key column stays out of the body), ``task`` creates a task regarding the lead,
  deletions DELETE by id (404 = already gone = done); each answer maps through the error table;
- a write-back whose outcome column says Won or Lost also closes the lead's open opportunities
  (``WinOpportunity``/``LoseOpportunity``) when ``close_opportunities`` is on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from leadbridge.connectors.dynamics import fields as F
from leadbridge.connectors.dynamics.client import BatchPart, DataverseClient, PartAnswer
from leadbridge.connectors.dynamics.config import DynamicsConfig
from leadbridge.connectors.dynamics.describe import attribute_metadata, remote_from_attributes
from leadbridge.connectors.dynamics.errors import error_of, item_rule
from leadbridge.core.errors import FatalConnectorError, LeadbridgeError, NotFound, SkipRecord
from leadbridge.core.model import Lead
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.ports import (
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

log = logging.getLogger("leadbridge.dynamics")
LEAD, LEADS, TASK = "lead", "leads", "task"
PAGE_SIZE = 5000  # the most odata.maxpagesize gives
LOOKBACK = timedelta(seconds=5)
ENTITY_SETS = {
    "lead": "leads",
    "contact": "contacts",
    "account": "accounts",
    "opportunity": "opportunities",
    "task": "tasks",
}
PRIMARY_IDS = {
    "leads": "leadid",
    "tasks": "activityid",
    "opportunities": "opportunityid",
    "contacts": "contactid",
    "accounts": "accountid",
}
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WON_STATUS, LOST_STATUS = 3, 4  # opportunity statuscode: Won; Canceled (org-specific reasons: BEHAVIOR.md)


def _wire(value: Any) -> Any:
    """A figure as the Web API takes it: date-times as ISO 8601 UTC, decimals as JSON numbers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return float(value)
    return value


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def with_query(path: str, params: Mapping[str, str]) -> str:
    """``path?…`` with the options URL-encoded: a ``$batch`` request line may not hold spaces."""
    return f"{path}?{urlencode(params, quote_via=quote, safe='$,()')}"


def literal(value: str) -> str:
    """An OData string literal, URL-safe inside a key segment."""
    return "'" + quote(value.replace("'", "''"), safe="") + "'"


class DynamicsConnector(PartnerSideFromFields):
    """A Dataverse environment seen through the connector verbs (module rules)."""

    def __init__(self, config: DynamicsConfig, client: DataverseClient, fields: F.LeadFields) -> None:
        self.config, self.client, self.fields = config, client, fields
        self.name = config.name
        self.lookback = config.lookback(LOOKBACK)
        self.page_size = config.page_size or PAGE_SIZE
        self.key = config.key_column
        self._delta_link: str | None = None
        self._tracking = True  # False once the table turned out not to track changes
        self._versions: dict[str, tuple[str, int]] = {}  # id -> (stamp, versionnumber) read lately

    @property
    def is_partner(self) -> bool:
        return self.config.role == "partner"

    # -- check / discover ----------------------------------------------------------------------
    def check(self) -> CheckResult:
        """Get a token, ask ``WhoAmI``, and confirm the lead columns and the alternate key exist."""
        try:
            me = self.client.get("WhoAmI", "WhoAmI")
            table = self.client.get("table", f"EntityDefinitions(LogicalName='{LEAD}')")
            columns = {a["LogicalName"] for a in self._attributes(LEAD)}
            keys = self.client.get("keys", f"EntityDefinitions(LogicalName='{LEAD}')/Keys").get("value", [])
        except LeadbridgeError as error:
            text = str(error)
            return CheckResult(False, text if self.name in text else f"{self.name}: {text}")
        wanted = (*self.fields.read_fields, *self.fields.writeback_names, self.key)
        missing = [name for name in dict.fromkeys(wanted) if name not in columns]
        active = [
            k
            for k in keys
            if k.get("KeyAttributes") == [self.key] and k.get("EntityKeyIndexStatus") == "Active"
        ]
        details = {
            "user_id": me.get("UserId"),
            "organization_id": me.get("OrganizationId"),
            "change_tracking": bool(table.get("ChangeTrackingEnabled")),
        }
        if missing:
            return CheckResult(
                False,
                f"{self.name}: the lead table lacks {', '.join(missing)}; "
                "run `leadbridge mappings check --fix` "
                "or ask the Dynamics admin to create them (BEHAVIOR.md lists their types)",
                details,
            )
        if not active:
            return CheckResult(
                False,
                f"{self.name}: the lead table has no active alternate key on {self.key}; "
                "ask the Dynamics admin "
                "to add one (Tables → Lead → Keys) and wait until its index is Active",
                details,
            )
        note = (
            ""
            if details["change_tracking"] or not self.config.track_deletions
            else "; the lead table has no change tracking, so deletions are not read (enable it)"
        )
        return CheckResult(
            True, f"{self.name}: connected as application user {me.get('UserId')}{note}", details
        )

    def discover(self) -> list[StreamInfo]:
        names = tuple(a["LogicalName"] for a in self._attributes(LEAD))
        return [StreamInfo(LEAD, "leadid", "modifiedon", names)]

    # -- describing ----------------------------------------------------------------------------
    def _attributes(self, logical: str) -> list[dict[str, Any]]:
        path = f"EntityDefinitions(LogicalName='{logical}')/Attributes"
        return list(self.client.get(f"describe {logical}", path).get("value", []))

    def describe(self, object_name: str) -> RemoteObject:
        logical = object_name.lower()
        return remote_from_attributes(logical, self._attributes(logical))

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        entity_set = ENTITY_SETS.get(object_name.lower(), object_name.lower() + "s")
        if not _GUID.fullmatch(external_id):
            raise NotFound(f"{object_name} {external_id} does not exist (not a Dataverse id)")
        try:
            data = dict(self.client.get("get record", f"{entity_set}({external_id})"))
        except SkipRecord:  # 404 0x80040217 in the error table
            raise NotFound(f"{object_name} {external_id} does not exist") from None
        return {k: v for k, v in data.items() if not k.startswith("@")}

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        """Create the columns through the metadata API (an alternate key is left to the admin)."""
        created, steps = [], []
        for spec in specs:
            self.client.request(
                f"create column {spec.name}",
                "POST",
                f"EntityDefinitions(LogicalName='{object_name.lower()}')/Attributes",
                body=attribute_metadata(spec),
            )
            created.append(spec.name)
            if spec.unique:
                steps.append(
                    f"Tables → {object_name} → Keys → New key on {spec.name} "
                    "(upserts need it; wait until Active)"
                )
        return FieldFix(created=tuple(created), instructions=tuple(steps))

    # -- reading -------------------------------------------------------------------------------
    def query(self, since: Checkpoint | None) -> dict[str, str]:
        """The query options of a keyset read (module rules)."""
        wanted = (*self.fields.read_fields, self.key, *(() if self.is_partner else F.LEADBRIDGE_OWNED))
        select = [c for c in dict.fromkeys(("leadid", *wanted, "modifiedon", "versionnumber")) if c]
        where = (
            [f"{self.key} ne null"]
            if self.is_partner
            else [f"({self.config.qualification_filter or F.DEFAULT_QUALIFICATION})"]
        )
        if since is not None:
            where.append(f"modifiedon ge {since.read_from(self.lookback)}")
        return {
            "$select": ",".join(select),
            "$filter": " and ".join(where),
            "$orderby": "modifiedon asc,leadid asc",
        }

    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        """Pages of lead changes not yet taken in (keyset order), then the deletions since the last read."""
        if stream.lower() != LEAD:  # the sync engine names the stream "Lead"
            raise ValueError(f"{self.name}: unknown stream {stream!r} (known: {LEAD})")
        lookback_from = since.read_from(self.lookback) if since else None
        top = since
        handed: set[str] = set()
        # The partner's answer is a choice: its label ("Accepted") is what people read in events.
        labels = (F.FORMATTED_VALUES,) if self.is_partner else ()
        for body in self.client.pages(LEADS, self.query(since), page_size=self.page_size, prefer=labels):
            changes = [self._change(row) for row in body.get("value", [])]
            kept = after_checkpoint(changes, since, lookback_from)
            kept_ids = {c.external_id for c in kept}
            again = [c for c in changes if c.external_id not in kept_ids and self._changed_since_read(c)]
            page = sorted(
                (c for c in [*kept, *again] if c.external_id not in handed),
                key=lambda c: (c.stamp, c.external_id),
            )
            if page:
                handed.update(c.external_id for c in page)
                self._remember(page)
                top = max(top, page[-1].keyset) if top else page[-1].keyset
                yield page
        self._forget_before(top)
        if self.config.track_deletions and self._tracking:
            deleted = self._deletions(top)
            if deleted:
                yield deleted

    def _deletions(self, top: Checkpoint | None) -> list[Change]:
        """Rows deleted since this connector's last read (change tracking; module rules)."""
        if self._delta_link is None:
            link = None
            for body in self.client.pages(
                LEADS, {"$select": "leadid"}, page_size=5000, prefer=("odata.track-changes",)
            ):
                link = body.get("@odata.deltaLink") or link
            if link is None:  # the preference was ignored: the table does not track changes
                log.warning(
                    "%s: the lead table has no change tracking (enable it in the table's properties); "
                    "deletions are not read",
                    self.name,
                )
                self._tracking = False
            self._delta_link = link
            return []
        try:
            body = self.client.get("changes of leads", self._delta_link)
        except (SkipRecord, FatalConnectorError) as error:  # e.g. a delta token past its expiry
            log.warning(
                "%s: the change-tracking link was refused (%s); taking a new baseline", self.name, error
            )
            self._delta_link = None
            return self._deletions(top)  # the baseline, now: deletions from here on come in
        self._delta_link = body.get("@odata.deltaLink") or self._delta_link
        # A deletion has no stamp of its own: it carries the newest stamp read, so it never moves
        # the checkpoint past a row not yet read.
        stamp = top.stamp if top else format_stamp(datetime.now(UTC))
        gone = [
            item
            for item in body.get("value", [])
            if str(item.get("@odata.context", "")).endswith("$deletedEntity")
        ]
        return [Change(LEAD, str(item["id"]), stamp, {"leadid": item["id"]}, deleted=True) for item in gone]

    def _changed_since_read(self, change: Change) -> bool:
        """A row read before at this very keyset whose ``versionnumber`` has moved since."""
        seen = self._versions.get(change.external_id)
        version = change.record.get("versionnumber")
        return seen is not None and seen[0] == change.stamp and version is not None and int(version) > seen[1]

    def _remember(self, page: Sequence[Change]) -> None:
        for change in page:
            version = change.record.get("versionnumber")
            if version is not None:
                self._versions[change.external_id] = (change.stamp, int(version))

    def _forget_before(self, top: Checkpoint | None) -> None:
        if top is None:
            return
        floor = top.read_from(self.lookback)
        self._versions = {key: seen for key, seen in self._versions.items() if seen[0] >= floor}

    def _change(self, row: Mapping[str, Any]) -> Change:
        plain = {key: value for key, value in row.items() if not key.startswith("@")}
        return Change(LEAD, str(row["leadid"]), format_stamp(parse_stamp(str(row["modifiedon"]))), plain)

    # -- writing -------------------------------------------------------------------------------
    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Write ``items`` in ``$batch``es (module rules); one result per item, in order."""
        if stream not in (LEAD, f"{LEAD}:upsert", TASK):
            raise ValueError(f"{self.name}: cannot write stream {stream!r}")
        results: list[WriteResult] = []
        for chunk in chunks(items, self.config.batch_size):
            parts = [self._part(stream, item) for item in chunk]
            answers = self.client.batch(parts)
            results += [
                self._result(stream, item, answer) for item, answer in zip(chunk, answers, strict=True)
            ]
        if stream == LEAD and self.config.close_opportunities and not self.is_partner:
            self._close_opportunities(items, results)
        return results

    # -- partner accounts (``AccountWriter``) -------------------------------------------------
    @property
    def performance(self) -> PerformanceSection | None:
        return self.fields.mapping.performance

    def write_accounts(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Update partner accounts by id in ``$batch``es (``PATCH accounts(id)`` with ``If-Match: *``,
        so an unknown id is a 404 for that item, never a new account)."""
        obj = self.performance.object if self.performance else "account"
        entity_set = ENTITY_SETS.get(obj.lower(), obj.lower() + "s")
        results: list[WriteResult] = []
        for chunk in chunks(items, self.config.batch_size):
            parts = [
                BatchPart(
                    "PATCH",
                    f"{entity_set}({item.external_id})",
                    {k: _wire(v) for k, v in item.fields.items()},
                    {"If-Match": "*"},
                )
                for item in chunk
            ]
            for item, answer in zip(chunk, self.client.batch(parts), strict=True):
                if answer.status < 300:
                    results.append(WriteResult(item.key, True, item.external_id))
                    continue
                code, message = error_of(answer.body)
                results.append(
                    WriteResult(
                        item.key,
                        False,
                        item.external_id,
                        error=f"{answer.status} {code or ''}: {message}".strip(),
                        action=item_rule(answer.status, answer.body).action,
                    )
                )
        return results

    def _part(self, stream: str, item: WriteItem) -> BatchPart:
        if item.op is WriteOp.DELETE:
            return BatchPart("DELETE", f"{LEADS}({item.external_id})")
        if stream == TASK:
            return BatchPart(
                "POST", "tasks?$select=activityid", dict(item.fields), {"Prefer": "return=representation"}
            )
        if stream == LEAD:
            return BatchPart("PATCH", f"{LEADS}({item.external_id})", dict(item.fields), {"If-Match": "*"})
        key = item.fields.get(self.key)
        if not key:
            raise ValueError(f"{self.name}: an upsert item needs {self.key} (item {item.key})")
        body = {name: value for name, value in item.fields.items() if name != self.key}
        return BatchPart(
            "PATCH",
            f"{LEADS}({self.key}={literal(str(key))})?$select=leadid",
            body,
            {"Prefer": "return=representation"},
        )

    def _result(self, stream: str, item: WriteItem, answer: PartAnswer) -> WriteResult:
        if answer.status < 300:
            return WriteResult(
                item.key, True, self._remote_id(stream, item, answer), created=answer.status == 201
            )
        if item.op is WriteOp.DELETE and answer.status == 404:  # deleting twice settles like once
            return WriteResult(item.key, True, item.external_id)
        code, message = error_of(answer.body)
        rule = item_rule(answer.status, answer.body)
        return WriteResult(
            item.key,
            False,
            item.external_id,
            error=f"{answer.status} {code or ''}: {message}".strip(),
            action=rule.action,
        )

    @staticmethod
    def _remote_id(stream: str, item: WriteItem, answer: PartAnswer) -> str | None:
        primary = PRIMARY_IDS["tasks" if stream == TASK else LEADS]
        if isinstance(answer.body, dict) and answer.body.get(primary):
            return str(answer.body[primary])
        found = _GUID.search(answer.headers.get("OData-EntityId", ""))
        return found.group(0) if found else item.external_id

    def _close_opportunities(self, items: Sequence[WriteItem], results: Sequence[WriteResult]) -> None:
        """Win or lose the open opportunities qualified from leads whose outcome was just written."""
        closing = {
            str(item.external_id): str(item.fields[F.OUTCOME_COLUMN])
            for item, result in zip(items, results, strict=True)
            if result.ok and item.op is WriteOp.WRITE and item.fields.get(F.OUTCOME_COLUMN) in ("Won", "Lost")
        }
        if not closing:
            return
        parts = [
            BatchPart(
                "GET",
                with_query(
                    "opportunities",
                    {
                        "$select": "opportunityid,_originatingleadid_value",
                        "$filter": f"_originatingleadid_value eq {lead_id} and statecode eq 0",
                    },
                ),
            )
            for lead_id in closing
        ]
        actions = []
        for (_lead, outcome), answer in zip(closing.items(), self.client.batch(parts), strict=True):
            for opportunity in (answer.body or {}).get("value", []) if answer.status == 200 else []:
                won = outcome == "Won"
                close = {
                    "subject": f"leadbridge: {outcome.lower()}",
                    "opportunityid@odata.bind": f"/opportunities({opportunity['opportunityid']})",
                }
                body = {"Status": WON_STATUS if won else LOST_STATUS, "OpportunityClose": close}
                actions.append(BatchPart("POST", "WinOpportunity" if won else "LoseOpportunity", body))
        if actions:
            self.client.batch(actions)

    # -- webhooks ------------------------------------------------------------------------------
    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        raise FatalConnectorError(
            f"{self.name}: Dynamics connections are polled (no webhooks capability); deliveries are not read"
        )

    # -- mapping -------------------------------------------------------------------------------
    update_stream, upsert_stream, task_stream = LEAD, f"{LEAD}:upsert", TASK
    writeback_owned = F.LEADBRIDGE_OWNED

    def lead_from(self, change: Change) -> Lead:
        return self.fields.lead_from_record(change.record, self.name)

    def writeback_fields(self, lead: Lead, status: LeadStatusRecord) -> dict[str, Any]:
        return self.fields.writeback_fields(lead, status)

    def task_fields(self, remote_id: str, subject: str, description: str) -> dict[str, Any]:
        return {
            "subject": subject[:200],
            "description": description[:2000],
            "regardingobjectid_lead_task@odata.bind": f"/{LEADS}({remote_id})",
        }
