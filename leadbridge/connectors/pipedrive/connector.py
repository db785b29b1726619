"""The Pipedrive connector: a partner's company, where offers land as deals (``plan.py``).

Rules:
- reads are incremental through ``GET /api/v2/deals`` sorted by ``update_time`` with
  ``updated_since`` (≥, whole seconds) = the checkpoint minus the lookback, following cursors;
  ``status=open,won,lost,deleted`` so a deletion comes in as a change (Pipedrive keeps deleted deals
  listable for 30 days). Only deals carrying ``leadbridge_id`` are ours; ``after_checkpoint`` drops
  what was taken in already;
- writes: ``deals:upsert`` finds the deal by ``leadbridge_id`` (remembered; for a batch of unknown
  ids one listing of the company's deals while that is cheaper; else one exact search on the
  custom field) and PATCHes it, or creates it — Pipedrive has no upsert; ``deals`` updates by
  id (erasure) or deletes (``WriteOp.DELETE``; a deal already gone counts as deleted). One result
  per item; a refused item fails alone with Pipedrive's reason;
- the ``leadbridge_id`` field and the four labels are created on the first write when missing
  (``schema.ensure``); ``check`` only reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from leadbridge.connectors.pipedrive import plan
from leadbridge.connectors.pipedrive.client import PipedriveClient
from leadbridge.connectors.pipedrive.config import PipedriveConfig
from leadbridge.connectors.pipedrive.schema import EXTERNAL_ID, Schema, ensure, read_schema
from leadbridge.connectors.pipedrive.webhooks import WebhookParser
from leadbridge.core.errors import FatalConnectorError, LeadbridgeError, NotFound, SkipRecord
from leadbridge.core.model import Lead
from leadbridge.core.partner_status import PartnerStatus
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

STREAM = "deals"
GENERIC_STREAM = "Lead"
LOOKBACK = timedelta(seconds=5)  # stamps are whole seconds; a write committed late keeps its second
STATUSES = "open,won,lost,deleted"


def _rfc3339(stamp: str) -> str:
    return parse_stamp(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")  # v2 takes seconds; ≥ that second


class PipedriveConnector:
    """A partner's Pipedrive company seen through the connector verbs (module rules)."""

    update_stream = STREAM
    upsert_stream = f"{STREAM}:upsert"
    task_stream = "tasks"
    writeback_owned: tuple[str, ...] = ()

    def __init__(self, config: PipedriveConfig, client: PipedriveClient) -> None:
        self.config, self.client = config, client
        self.name = config.name
        self.lookback = config.lookback(LOOKBACK)
        self.page_size = min(config.page_size or 100, 500)
        self._schema: Schema | None = None
        self._ready = False
        self._known: dict[str, str] = {}  # leadbridge_id → deal id (found or created)
        self._absent: set[str] = set()  # lead ids of this batch proven to have no deal yet
        user, password = config.webhook_user, config.secret("webhook_password")
        self.webhooks = WebhookParser(user, password, connection=self.name) if user and password else None

    # -- schema ------------------------------------------------------------------------------
    def schema(self) -> Schema:
        """The company's field key and labels, cached — but a schema *without* our field is read
        again: another worker (or connector) may have created it since, with the first offer."""
        if self._schema is None or self._schema.external_key is None:
            self._schema = read_schema(self.client)
        return self._schema

    def install(self) -> list[str]:
        """Create the ``leadbridge_id`` field and the labels the company lacks; what was created."""
        labels = [self.config.label(k) for k in ("offered", "accepted", "declined", "withdrawn")]
        self._schema, created = ensure(self.client, self.schema(), labels)
        self._ready = True
        return created

    # -- check / discover / describe -------------------------------------------------------------
    def check(self) -> CheckResult:
        """Who the token is, and whether the field and labels exist (created on the first write)."""
        try:
            me = self.client.call("GET", "v1/users/me", what="check the credentials").data or {}
            self._schema = read_schema(self.client)
        except LeadbridgeError as error:
            text = str(error)
            return CheckResult(False, text if self.name in text else f"{self.name}: {text}")
        schema = self._schema
        missing = [EXTERNAL_ID] if schema.external_key is None else []
        missing += [
            f"label {self.config.label(k)}" for k in ("offered", "accepted", "declined", "withdrawn")
            if self.config.label(k) not in schema.labels
        ]  # fmt: skip
        details = {
            "user": me.get("email"),
            "company": me.get("company_domain"),
            "rate": dict(self.client.rate),
        }
        note = f"; will create {', '.join(missing)} on the first offer" if missing else ""
        return CheckResult(True, f"{self.name}: connected to Pipedrive as {me.get('email')}{note}", details)

    def discover(self) -> list[StreamInfo]:
        return [
            StreamInfo(STREAM, "id", "update_time", ("title", "status", "label_ids", "value", EXTERNAL_ID))
        ]

    def describe(self, object_name: str) -> RemoteObject:
        raise FatalConnectorError(f"{self.name}: Pipedrive connections use a fixed field plan (no mapping)")

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """One deal, as the flat record ``read_changes`` gives (``NotFound`` for no deal)."""
        try:
            deal = self.client.call("GET", f"v2/deals/{int(external_id)}", what="read a deal").data
        except (SkipRecord, ValueError) as error:
            raise NotFound(f"deal {external_id} does not exist ({error})") from None
        record = plan.record_of(deal, self.schema(), self.config)
        return {name: record.get(name) for name in fields} if fields else record

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        return FieldFix(created=tuple(self.install()))

    # -- reading -------------------------------------------------------------------------------
    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        """Pages of changed leadbridge deals not yet taken in (module rules)."""
        if stream not in (STREAM, GENERIC_STREAM):
            raise ValueError(f"{self.name}: unknown stream {stream!r} (known: {STREAM})")
        schema = self.schema()
        if schema.external_key is None:
            return  # no field yet, so no deal of ours
        lookback_from = since.read_from(self.lookback) if since else None
        params: dict[str, Any] = {"sort_by": "update_time", "sort_direction": "asc", "status": STATUSES,
                                  "limit": self.page_size}  # fmt: skip
        if lookback_from:
            params["updated_since"] = _rfc3339(lookback_from)
        if self.config.pipeline_id:
            params["pipeline_id"] = self.config.pipeline_id
        for deals in self.client.pages("v2/deals", params, what="read changed deals"):
            known = set(schema.labels.values())
            if any(i not in known for deal in deals for i in deal.get("label_ids") or []):
                schema = self._schema = read_schema(self.client)  # labels added since: read them
            changes = [self._change(deal, schema) for deal in deals]
            page = after_checkpoint([c for c in changes if c.record.get(EXTERNAL_ID)], since, lookback_from)
            for change in page:
                self._known[str(change.record[EXTERNAL_ID])] = change.external_id
            if page:
                yield page

    def _change(self, deal: Mapping[str, Any], schema: Schema) -> Change:
        record = plan.record_of(deal, schema, self.config)
        stamp = format_stamp(parse_stamp(str(deal["update_time"])))
        return Change(STREAM, str(deal["id"]), stamp, record, deleted=record["status"] == "deleted")

    # -- writing -------------------------------------------------------------------------------
    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        if stream == self.task_stream:
            reason = "Pipedrive tasks are not written by leadbridge (set create_tasks: false)"
            return [WriteResult(item.key, False, error=reason, action=Action.SKIP) for item in items]
        if stream not in (self.update_stream, self.upsert_stream):
            raise ValueError(f"{self.name}: cannot write stream {stream!r}")
        if not self._ready:
            self.install()
        if stream == self.upsert_stream:
            self._look_up([str(i.fields.get(EXTERNAL_ID) or "") for i in items if i.op is WriteOp.WRITE])
        results = []
        for item in items:
            try:
                if item.op is WriteOp.DELETE:
                    results.append(self._delete(item))
                elif stream == self.upsert_stream:
                    results.append(self._upsert(item))
                else:
                    results.append(self._update(item))
            except SkipRecord as error:
                results.append(WriteResult(item.key, False, error=str(error), action=Action.SKIP))
        return results

    def _look_up(self, lead_ids: Sequence[str]) -> None:
        """Find the deals of many unknown lead ids with one listing instead of a search each: list
        the company's deals (pages of 500) while that costs fewer calls than the searches would;
        a listing read to its end proves the rest have no deal yet (``_absent``: created without a
        search). This batch's outbox rows are leased to this worker, so nobody else creates them
        meanwhile."""
        unknown = {lead_id for lead_id in lead_ids if lead_id and lead_id not in self._known}
        self._absent = set()
        if len(unknown) < 2:
            return
        key = self.schema().external_key
        params: dict[str, Any] = {"status": "open,won,lost", "limit": 500, "sort_by": "id"}
        if self.config.pipeline_id:
            params["pipeline_id"] = self.config.pipeline_id
        cursor: str | None = None
        for _ in range(len(unknown) - 1):  # beyond that, a search per id is cheaper
            answer = self.client.call(
                "GET", "v2/deals", params={**params, **({"cursor": cursor} if cursor else {})},
                what="list deals to find offers",
            )  # fmt: skip
            for deal in answer.data or []:
                found = (deal.get("custom_fields") or {}).get(key)
                if found:
                    self._known[str(found)] = str(deal["id"])
            cursor = answer.additional.get("next_cursor")
            if not cursor:
                break
        if cursor:
            return  # not read to its end: the listing proves no absence
        self._absent = {lead_id for lead_id in unknown if lead_id not in self._known}

    def _find(self, lead_id: str) -> str | None:
        if lead_id in self._known:
            return self._known[lead_id]
        if lead_id in self._absent:
            return None
        key = self.schema().external_key
        answer = self.client.call(
            "GET", "v2/deals/search",
            params={"term": lead_id, "fields": "custom_fields", "exact_match": "true", "limit": 10},
            what="find the deal of a lead",
        )  # fmt: skip
        for hit in (answer.data or {}).get("items") or []:
            item = hit.get("item") or {}
            if lead_id in (item.get("custom_fields") or []):
                deal = self.client.call("GET", f"v2/deals/{item['id']}", what="read a deal").data
                if (deal.get("custom_fields") or {}).get(key) == lead_id:
                    self._known[lead_id] = str(deal["id"])
                    return str(deal["id"])
        return None

    def _body(
        self, fields: Mapping[str, Any], *, create: bool, deal: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        schema = self.schema()
        body: dict[str, Any] = {}
        if fields.get("title") is not None:
            body["title"] = fields["title"]
        if create:
            body["custom_fields"] = {schema.external_key: str(fields[EXTERNAL_ID])}
            if self.config.pipeline_id:
                body["pipeline_id"] = self.config.pipeline_id
            if self.config.stage_id:
                body["stage_id"] = self.config.stage_id
        label = fields.get("label")
        if label is not None:
            body["label_ids"] = [schema.labels[self.config.label(label)]]
        if fields.get("status") and create:
            body["status"] = fields["status"]
        person, org = fields.get("person"), fields.get("organization")
        if org and not (deal or {}).get("org_id"):
            body["org_id"] = self._organization(org)
        if person and not (deal or {}).get("person_id"):
            body["person_id"] = self._person(person, body.get("org_id") or (deal or {}).get("org_id"))
        for name in ("person_id", "org_id"):  # erasure unlinks
            if name in fields and fields[name] is None:
                body[name] = None
        return body

    def _person(self, person: Mapping[str, Any], org_id: Any) -> int:
        """The partner's person with this e-mail, else a new one."""
        email = person.get("email")
        if email:
            answer = self.client.call(
                "GET", "v2/persons/search",
                params={"term": email, "fields": "email", "exact_match": "true", "limit": 1},
                what="find a person by e-mail",
            )  # fmt: skip
            items = (answer.data or {}).get("items") or []
            if items:
                return int(items[0]["item"]["id"])
        body: dict[str, Any] = {"name": person["name"]}
        if email:
            body["emails"] = [{"value": email, "primary": True, "label": "work"}]
        if person.get("phone"):
            body["phones"] = [{"value": person["phone"], "primary": True, "label": "work"}]
        if org_id:
            body["org_id"] = org_id
        return int(self.client.call("POST", "v2/persons", body=body, what="create a person").data["id"])

    def _organization(self, org: Mapping[str, Any]) -> int:
        body: dict[str, Any] = {"name": org["name"]}
        if org.get("address"):
            body["address"] = {"value": org["address"]}
        return int(
            self.client.call("POST", "v2/organizations", body=body, what="create an organization").data["id"]
        )

    def _upsert(self, item: WriteItem) -> WriteResult:
        lead_id = str(item.fields.get(EXTERNAL_ID) or "")
        if not lead_id:
            return WriteResult(item.key, False, error=f"no {EXTERNAL_ID} in the item", action=Action.SKIP)
        deal_id = self._find(lead_id)
        if deal_id is None:
            body = self._body(item.fields, create=True, deal=None)
            created = self.client.call("POST", "v2/deals", body=body, what="create the deal of an offer").data
            self._known[lead_id] = str(created["id"])
            return WriteResult(item.key, True, str(created["id"]), created=True)
        current = None
        if item.fields.get("person") or item.fields.get("organization"):
            current = self.client.call("GET", f"v2/deals/{deal_id}", what="read a deal").data
        body = self._body(item.fields, create=False, deal=current)
        if body:
            self.client.call("PATCH", f"v2/deals/{deal_id}", body=body, what="update the deal of an offer")
        return WriteResult(item.key, True, deal_id)

    def _update(self, item: WriteItem) -> WriteResult:
        if not item.external_id:
            return WriteResult(item.key, False, error="no deal id to update", action=Action.SKIP)
        body = self._body(item.fields, create=False, deal=None)
        if body:
            self.client.call("PATCH", f"v2/deals/{int(item.external_id)}", body=body, what="update a deal")
        return WriteResult(item.key, True, item.external_id)

    def _delete(self, item: WriteItem) -> WriteResult:
        try:
            self.client.call("DELETE", f"v2/deals/{int(str(item.external_id))}", what="delete a deal")
        except SkipRecord as error:
            if error.status != 404:  # a deal already gone counts as deleted
                raise
        return WriteResult(item.key, True, item.external_id)

    # -- webhooks ------------------------------------------------------------------------------
    def _parser(self) -> WebhookParser:
        if self.webhooks is None:
            raise FatalConnectorError(
                f"connection {self.name}: set webhook_user and webhook_password to receive Pipedrive webhooks"
            )
        return self.webhooks

    def check_webhook_headers(self, headers: Mapping[str, str]) -> None:
        self._parser().check_headers(headers)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        """A verified delivery's new deal events as changes (``webhooks.py``)."""
        return self._parser().changes(headers, body)

    def subscribe_webhooks(self, url: str) -> dict[str, Any]:
        """Subscribe ``url`` to every deal event (v2, Basic auth), unless it already is."""
        self._parser()  # the Basic credentials the subscription will carry must be configured
        for hook in self.client.call("GET", "v1/webhooks", what="list webhooks").data or []:
            if hook.get("subscription_url") == url and hook.get("event_object") in ("deal", "*"):
                return dict(hook)
        body = {"subscription_url": url, "event_action": "*", "event_object": "deal", "version": "2.0",
                "name": f"leadbridge {self.name}", "http_auth_user": self.config.webhook_user,
                "http_auth_password": self.config.secret("webhook_password")}  # fmt: skip
        return dict(self.client.call("POST", "v1/webhooks", body=body, what="subscribe to deal events").data)

    # -- the sync engine's mapping side --------------------------------------------------------
    def lead_from(self, change: Change) -> Lead:
        raise SkipRecord(f"{self.name}: Pipedrive connections are partner-side only")

    def writeback_fields(self, lead: Lead, status: LeadStatusRecord) -> dict[str, Any]:
        raise SkipRecord(f"{self.name}: Pipedrive connections are partner-side only")

    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> dict[str, Any]:
        return plan.partner_fields(
            self.config, lead, accepted=accepted, withdrawn=withdrawn, first_push=first_push
        )

    def partner_status(self, change: Change) -> PartnerStatus:
        return plan.partner_status(change.record)

    def partner_owned(self, change: Change) -> dict[str, Any]:
        return plan.partner_owned(change.record)

    def erasure_fields(self, lead_id: str, mark: str) -> dict[str, Any]:
        """The deal keeps our id and loses what named the person: a neutral title, no person or
        organization linked (the partner's own person record is the partner's to erase)."""
        return {"title": mark, "person_id": None, "org_id": None}

    @staticmethod
    def task_fields(remote_id: str, subject: str, description: str) -> dict[str, Any]:
        return {"remote_id": remote_id, "subject": subject, "description": description}
