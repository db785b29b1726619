"""The HubSpot connector: the five verbs over one portal, either side (manufacturer or partner).

Rules:
- the object is the mapping's (``contacts`` by default, ``deals`` for a deal mapping); the sync
  engine's generic stream name ``Lead`` means that object;
- reads are incremental by keyset ``(last-modified stamp, id)`` through CRM search windows
  (``keyset.py``): ``>=`` the checkpoint minus a lookback (search is eventually consistent: a write
  can become searchable seconds after its stamp), paced to 5 searches/s, then ``after_checkpoint``
  and a per-read seen-set drop what was already taken in — rows sharing a stamp are never lost,
  never read twice;
- the manufacturer side reads contacts matching ``qualification_filter`` (default: lifecycle stage
  MQL or SQL) together with their primary company (associations v4 + a companies batch read); the
  partner side reads only records carrying ``leadbridge_id`` (the ones leadbridge delivered);
- writes are batches of at most 100 (update by id, or upsert on ``leadbridge_id``; ``writes.py``);
- HubSpot search never returns archived records: deletions arrive through webhooks only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from leadbridge.connectors.hubspot import fields as F
from leadbridge.connectors.hubspot.client import HubSpotClient
from leadbridge.connectors.hubspot.config import HubSpotConfig
from leadbridge.connectors.hubspot.describe import property_bodies, remote_from_properties
from leadbridge.connectors.hubspot.keyset import KeysetQuery, epoch_ms, keyset_pages
from leadbridge.connectors.hubspot.webhooks import WebhookParser, event_change
from leadbridge.connectors.hubspot.writes import write_chunk
from leadbridge.core.errors import ConfigError, FatalConnectorError, LeadbridgeError, NotFound
from leadbridge.core.model import Lead
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.mappings.apply import RecordError
from leadbridge.mappings.check import check_mapping
from leadbridge.mappings.fix import field_specs
from leadbridge.mappings.performance import check_performance, performance_specs
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

BATCH_LIMIT = 100
LOOKBACK = timedelta(seconds=10)  # > the search index lag ("a few seconds"); every key in it is kept
GENERIC_STREAM = "Lead"
DEFAULT_QUALIFICATION = "lifecyclestage IN marketingqualifiedlead,salesqualifiedlead"
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")  # fmt: skip
MAX_OWN_FILTERS = 4  # a group holds 6 filters; the keyset needs 2
PRIMARY_COMPANY = 1  # association type id of a contact's primary company


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_filter(text: str) -> tuple[dict[str, Any], ...]:
    """``"lifecyclestage IN a,b AND hs_lead_status NEQ BAD_TIMING"`` → search filters (ANDed)."""
    filters = []
    for clause in filter(None, (part.strip() for part in text.split(" AND "))):
        name, _, rest = clause.partition(" ")
        operator, _, value = rest.strip().partition(" ")
        operator = operator.upper()
        if not name or operator not in OPERATORS:
            raise ConfigError(f"qualification_filter: {clause!r} is not '<property> <OPERATOR> [value]'")
        item: dict[str, Any] = {"propertyName": name, "operator": operator}
        if operator in ("IN", "NOT_IN"):
            item["values"] = [v.strip() for v in value.split(",") if v.strip()]
        elif value:
            item["value"] = value.strip()
        filters.append(item)
    if len(filters) > MAX_OWN_FILTERS:
        raise ConfigError(
            f"qualification_filter: at most {MAX_OWN_FILTERS} conditions (HubSpot allows 6 per group)"
        )
    return tuple(filters)


def _stamp(record: Mapping[str, Any], stamp_property: str) -> str:
    """The record's last-modified stamp in checkpoint format (HubSpot sends ISO or epoch ms)."""
    value = str((record.get("properties") or {}).get(stamp_property) or record["updatedAt"])
    if value.isdigit():
        return format_stamp(datetime.fromtimestamp(int(value) / 1000, UTC))
    return format_stamp(parse_stamp(value))


class HubSpotConnector(PartnerSideFromFields):
    """A HubSpot portal seen through the connector verbs (module rules)."""

    def __init__(self, config: HubSpotConfig, client: HubSpotClient, fields: F.RecordFields) -> None:
        self.config = config
        self.client = client
        self.fields = fields
        self.name = config.name
        self.object = fields.object
        self.stamp_property = fields.mapping.stamp or "hs_lastmodifieddate"
        self.lookback = config.lookback(LOOKBACK)
        page_size = config.page_size or 200
        own = (
            ({"propertyName": F.EXTERNAL_ID, "operator": "HAS_PROPERTY"},)
            if self.is_partner
            else parse_filter(config.qualification_filter or DEFAULT_QUALIFICATION)
        )
        wanted = (*fields.read_fields, F.EXTERNAL_ID, self.stamp_property, *fields.leadbridge_owned)
        self.query = KeysetQuery(
            self.stamp_property,
            own,
            tuple(dict.fromkeys(wanted)),
            page_size=page_size,
            window_size=config.window_size or page_size,
            cap=config.search_cap,
        )
        secret = config.secret("client_secret")
        app_id = config.app_id
        self.webhooks = (
            WebhookParser(secret, app_id=str(app_id) if app_id else None, connection=self.name)
            if secret
            else None
        )
        self.update_stream, self.upsert_stream, self.task_stream = (
            self.object,
            f"{self.object}:upsert",
            "tasks",
        )
        self.writeback_owned = fields.leadbridge_owned
        self._page_leads: dict[tuple[str, str], Lead | RecordError] = {}

    @property
    def is_partner(self) -> bool:
        return self.config.role == "partner"

    def _stream(self, stream: str) -> str:
        if stream not in (self.object, GENERIC_STREAM):
            raise ValueError(f"{self.name}: unknown stream {stream!r} (known: {self.object})")
        return self.object

    # -- check / discover ----------------------------------------------------------------------
    def _missing(self) -> tuple[list[str], list[dict[str, Any]], Any]:
        properties = self.client.properties(self.object)
        remote = remote_from_properties(self.object, properties)
        findings = check_mapping(self.fields.mapping, remote)
        missing = [f.field for f in findings if f.kind == "missing"]
        for name in (
            F.EXTERNAL_ID,
            *((F.PUSH_STATUS,) if self.is_partner and self.object == "contacts" else ()),
        ):
            if remote.get(name) is None and name not in missing:
                missing.append(name)
        return missing, properties, findings

    def check(self) -> CheckResult:
        """Read the object's properties and confirm the ones leadbridge reads and writes exist."""
        try:
            missing, properties, _ = self._missing()
        except LeadbridgeError as error:
            text = str(error)
            return CheckResult(False, text if self.name in text else f"{self.name}: {text}")
        used, total = self.client.usage or (None, None)
        details = {"daily_used": used, "daily_limit": total, "properties": len(properties)}
        if missing:
            return CheckResult(
                False,
                f"{self.name}: the {self.object} object lacks {', '.join(missing)}; run "
                f"`leadbridge mappings check {self.name} --fix` to create them "
                f"({F.EXTERNAL_ID} must be unique)",
                details,
            )
        left = (
            f"; {total - used}/{total} API calls left today" if total is not None and used is not None else ""
        )
        return CheckResult(True, f"{self.name}: connected to HubSpot {self.object}{left}", details)

    def install_properties(self) -> list[str]:
        """Create the properties the mapping needs and the portal lacks (what ``mappings check --fix``
        does); returns their names."""
        _, _, findings = self._missing()
        created = list(self.create_fields(self.object, field_specs(findings)).created)
        section = self.performance
        if section is not None:  # the partner figures' company properties, when the mapping writes them
            found = check_performance(section, self.describe(section.object))
            created += self.create_fields(section.object, performance_specs(found)).created
        return created

    # -- describing (``mappings check`` / ``preview``) -----------------------------------------
    def describe(self, object_name: str) -> RemoteObject:
        """The object's property definitions."""
        return remote_from_properties(object_name, self.client.properties(object_name))

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """One record's properties (a batch read of one id: unknown ids come back as errors)."""
        found = self.client.batch_read(object_name, [external_id], list(fields)).get("results") or []
        if not found:
            raise NotFound(f"{object_name} {external_id} does not exist")
        return {"hs_object_id": found[0].get("id"), **(found[0].get("properties") or {})}

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        """Create each missing property through the properties API."""
        created = []
        for body in property_bodies(object_name, specs):
            self.client.create_property(object_name, body)
            created.append(body["name"])
        return FieldFix(created=tuple(created))

    def discover(self) -> list[StreamInfo]:
        names = tuple(p["name"] for p in self.client.properties(self.object))
        return [StreamInfo(self.object, "hs_object_id", self.stamp_property, names)]

    # -- reading -------------------------------------------------------------------------------
    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        """Pages of changes not yet taken in, in keyset order (module rules)."""
        obj = self._stream(stream)
        lookback_from = since.read_from(self.lookback) if since else None
        start = epoch_ms(lookback_from) if lookback_from else None
        taken: set[tuple[str, str]] = set()
        for results in keyset_pages(lambda body: self.client.search(obj, body), self.query, start):
            changes = [self._change(result) for result in results]
            page = [
                c
                for c in after_checkpoint(changes, since, lookback_from)
                if (c.stamp, c.external_id) not in taken
            ]
            floor = changes[0].stamp  # later windows never go below this page's first stamp
            taken = {key for key in taken if key[0] >= floor} | {(c.stamp, c.external_id) for c in page}
            if page:
                yield self._mapped(self._with_companies(page))

    def read_records(self, ids: Sequence[str]) -> list[Change]:
        """The current version of these records (e.g. named by webhook events), unknown ids left out."""
        changes: list[Change] = []
        for chunk in chunks(list(dict.fromkeys(ids)), BATCH_LIMIT):
            data = self.client.batch_read(self.object, list(chunk), list(self.query.properties))
            changes += [self._change(result) for result in data.get("results") or []]
        return (
            self._with_companies(sorted(changes, key=lambda c: (c.stamp, c.external_id))) if changes else []
        )

    def _mapped(self, page: list[Change]) -> list[Change]:
        """Map a manufacturer page at once (``lead_from`` then takes each lead from here)."""
        if not self.is_partner:
            leads = self.fields.leads_from_records([c.record for c in page], self.name)
            self._page_leads = {(c.external_id, c.stamp): lead for c, lead in zip(page, leads, strict=True)}
        return page

    def _change(self, result: Mapping[str, Any]) -> Change:
        record = {**(result.get("properties") or {}), "hs_object_id": str(result["id"])}
        return Change(self.object, str(result["id"]), _stamp(result, self.stamp_property), record)

    def _with_companies(self, page: list[Change]) -> list[Change]:
        if self.is_partner or self.object != "contacts" or self.fields.company_plan is None:
            return page
        links = self.client.associated("contacts", "companies", [c.external_id for c in page])
        chosen: dict[str, str] = {}
        for contact_id, targets in links.items():
            primary = [to_id for to_id, types in targets if PRIMARY_COMPANY in types]
            if primary or targets:
                chosen[contact_id] = (primary or [targets[0][0]])[0]
        companies: dict[str, dict[str, Any]] = {}
        for chunk in chunks(sorted(set(chosen.values())), BATCH_LIMIT):
            data = self.client.batch_read("companies", list(chunk), list(self.fields.company_fields))
            for result in data.get("results") or []:
                companies[str(result["id"])] = {
                    **(result.get("properties") or {}),
                    "hs_object_id": str(result["id"]),
                }
        enriched = []
        for change in page:
            company = companies.get(chosen.get(change.external_id, ""), {})
            extra = {f"{F.COMPANY_PREFIX}{k}": v for k, v in company.items()}
            enriched.append(
                Change(change.stream, change.external_id, change.stamp, {**change.record, **extra})
            )
        return enriched

    # -- writing -------------------------------------------------------------------------------
    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Write ``items`` in batches of 100: ``<object>`` updates by id, ``<object>:upsert`` upserts on
        ``leadbridge_id``. One result per item, in order."""
        if stream == self.task_stream:
            reason = (
                "HubSpot tasks are not written by leadbridge (set create_tasks: false for this connection)"
            )
            return [WriteResult(item.key, False, error=reason, action=Action.SKIP) for item in items]
        if stream not in (self.update_stream, self.upsert_stream):
            raise ValueError(f"{self.name}: cannot write stream {stream!r}")
        if any(item.op is WriteOp.DELETE for item in items):
            return self._archive(items)
        results: list[WriteResult] = []
        for chunk in chunks(items, BATCH_LIMIT):
            results += write_chunk(self.client, self.object, chunk, upsert=stream == self.upsert_stream)
        return results

    # -- partner accounts (``AccountWriter``) -------------------------------------------------
    @property
    def performance(self) -> PerformanceSection | None:
        return self.fields.mapping.performance

    def write_accounts(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Update partner companies by id (``batch/update``, 100 per call; values as HubSpot's text)."""
        obj = self.performance.object if self.performance else "companies"
        results: list[WriteResult] = []
        for chunk in chunks(items, BATCH_LIMIT):
            results += write_chunk(self.client, obj, chunk, upsert=False)
        return results

    def _archive(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Archive records by id in batches of 100; HubSpot answers 204 for the batch and ignores
        ids that are already gone, so every item of an accepted batch is done."""
        if not all(item.op is WriteOp.DELETE for item in items):
            raise ValueError(f"{self.name}: a batch either deletes or writes, not both")
        for chunk in chunks(items, BATCH_LIMIT):
            self.client.batch_write(self.object, "archive", [{"id": str(item.external_id)} for item in chunk])
        return [WriteResult(item.key, True, item.external_id) for item in items]

    # -- webhooks ------------------------------------------------------------------------------
    def check_webhook_headers(self, headers: Mapping[str, str]) -> None:
        """Refuse a delivery by its headers alone (signature present, timestamp fresh), before its
        body is read; ``FatalConnectorError`` when this connection is not set up to receive."""
        if self.webhooks is None:
            raise FatalConnectorError(
                f"connection {self.name}: set client_secret to receive HubSpot webhooks"
            )
        self.webhooks.check_headers(headers, int(time.time() * 1000))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        """A verified delivery's new events as changes (``webhooks.py``); ``uri`` defaults to the
        connection's ``webhook_url``."""
        target = uri or self.config.webhook_url
        if self.webhooks is None or not target:
            raise FatalConnectorError(
                f"connection {self.name}: set client_secret (the app's) and webhook_url to receive "
                "HubSpot webhooks"
            )
        return [event_change(event) for event in self.webhooks.events(headers, body, str(target))]

    # -- the sync engine's mapping side --------------------------------------------------------
    def lead_from(self, change: Change) -> Lead:
        """The lead of a pulled change (mapped with its page when it came from ``read_changes``);
        ``RecordError`` when the record cannot be mapped."""
        lead = self._page_leads.pop((change.external_id, change.stamp), None)
        if lead is None:
            return self.fields.lead_from_record(change.record, self.name)
        if isinstance(lead, RecordError):
            raise lead
        return lead

    def writeback_fields(self, lead: Lead, status: LeadStatusRecord) -> dict[str, Any]:
        owner = self.config.direct_sales_owner_id
        return self.fields.writeback_fields(lead, status, owner_id=str(owner) if owner else None)

    @staticmethod
    def task_fields(remote_id: str, subject: str, description: str) -> dict[str, Any]:
        return {"remote_id": remote_id, "subject": subject, "description": description}
