"""The Web API's handlers under ``/api/data/v9.2``: entity sets, single rows by id or alternate
key, ``WhoAmI``, metadata, the Win/Lose actions, change tracking. ``$batch`` lives in ``batch.py``
and calls ``WebApi.dispatch`` for each of its parts.

Write rules (as Dataverse applies them):
- ``POST`` creates: 204 + ``OData-EntityId``, or 201 + the row with ``Prefer: return=representation``;
- ``PATCH`` is an upsert unless ``If-Match: *`` (update only, 404 when missing) or ``If-None-Match: *``
  (create only, 412 when present); both answer 204 (``OData-EntityId`` in key form for a key
  upsert), or 201 created / 200 updated with ``return=representation``; an ``If-Match: W/"v"``
  that is not the row's version is 412;
- on a key upsert that updates, key columns in the body are dropped; on one that creates, body
  values win over the URL's (Microsoft's documented oddity).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from leadbridge.sandbox.dynamics.catalogue import LEADBRIDGE_KEY, OPPORTUNITY_STATUSES, Column, Table
from leadbridge.sandbox.dynamics.odata import QueryError, compile_filter, order_key, tokenize
from leadbridge.sandbox.dynamics.org import DataverseError, DataverseOrg, not_found
from leadbridge.sandbox.dynamics.wire import columns_of, etag, prefer, render, wants_formatted
from leadbridge.sandbox.server import Request, Response, empty_response, json_response

API = "/api/data/v9.2"
MAX_PAGE = 5000
_ROW = re.compile(r"(?P<set>[A-Za-z_]+)\((?P<key>[^()]*)\)")
_ENTITY_DEF = re.compile(r"EntityDefinitions\(LogicalName='(?P<logical>[a-z_]+)'\)(?P<rest>/.*)?")
ATTRIBUTE_TYPES = {
    "String": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
    "Memo": "Microsoft.Dynamics.CRM.MemoAttributeMetadata",
    "Integer": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
    "Money": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
    "Double": "Microsoft.Dynamics.CRM.DoubleAttributeMetadata",
    "Decimal": "Microsoft.Dynamics.CRM.DecimalAttributeMetadata",
    "Boolean": "Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
    "DateTime": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
    "Picklist": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
}


def base_url(request: Request) -> str:
    """``https://<Host>``: absolute links use the host the client called."""
    return f"https://{request.header('Host') or '127.0.0.1'}"


def parse_key(table: Table, text: str) -> tuple[str | None, dict[str, Any]]:
    """``(<guid>)`` → (id, {}); ``(k='v',n=2)`` → (None, {k: v, n: 2})."""
    if "=" not in text:
        try:
            [(kind, value)] = tokenize(text)
        except (QueryError, ValueError):
            raise DataverseError(
                400, "0x80060888", f"Bad Request - Error in query syntax: '{text}'."
            ) from None
        if kind != "guid":
            raise DataverseError(400, "0x80060888", f"Bad Request - Error in query syntax: '{text}'.")
        return str(value), {}
    key: dict[str, Any] = {}
    for part in re.split(r",(?=[A-Za-z_]+=)", text):
        name, _, literal = part.partition("=")
        try:
            [(_, value)] = tokenize(literal)
        except (QueryError, ValueError):
            raise DataverseError(
                400, "0x80060888", f"Bad Request - Error in query syntax: '{text}'."
            ) from None
        key[name.strip()] = value
    return None, key


def key_text(key: dict[str, Any]) -> str:
    def literal(value: Any) -> str:
        return "'" + str(value).replace("'", "''") + "'" if isinstance(value, str) else str(value)

    return ",".join(f"{name}={literal(value)}" for name, value in key.items())


class WebApi:
    """One environment's Web API (entity sets, rows, metadata, actions)."""

    def __init__(self, org: DataverseOrg) -> None:
        self.org = org

    # -- routing inside /api/data/v9.2 -------------------------------------------------------------
    def endpoint(self, method: str, rest: str) -> tuple[str, Callable[[Request], Response]]:
        """The endpoint name (counters, faults) and handler of ``rest`` (the path after the API root)."""
        if rest == "WhoAmI" and method == "GET":
            return "WhoAmI", self.who_am_i
        if rest in ("WinOpportunity", "LoseOpportunity") and method == "POST":
            return rest, self.close_opportunity
        if _ENTITY_DEF.fullmatch(rest):
            return "EntityDefinitions", self.metadata
        row = _ROW.fullmatch(rest)
        if row and method in ("GET", "PATCH", "DELETE"):
            return f"{row['set']}.row", self.row
        if re.fullmatch(r"[A-Za-z_]+", rest) and method in ("GET", "POST"):
            return f"{rest}.{'query' if method == 'GET' else 'create'}", self.collection
        raise DataverseError(
            404 if method == "GET" else 405, "0x8006088a", f"Resource not found for the segment '{rest}'."
        )

    def dispatch(self, request: Request, rest: str) -> Response:
        _, handler = self.endpoint(request.method, rest)
        request.context["rest"] = rest
        return handler(request)

    # -- WhoAmI and metadata -----------------------------------------------------------------------
    def who_am_i(self, request: Request) -> Response:
        org = self.org
        return json_response(
            {
                "@odata.context": f"{base_url(request)}{API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": org.business_unit_id,
                "UserId": org.user_id,
                "OrganizationId": org.organization_id,
            }
        )

    def metadata(self, request: Request) -> Response:
        match = _ENTITY_DEF.fullmatch(request.context["rest"])
        assert match is not None
        table = self.org.table_by_logical(match["logical"])
        rest = match["rest"] or ""
        if rest == "" and request.method == "GET":
            return json_response(
                {
                    "LogicalName": table.logical,
                    "EntitySetName": table.entity_set,
                    "PrimaryIdAttribute": table.primary_id,
                    "PrimaryNameAttribute": table.primary_name,
                    "ChangeTrackingEnabled": table.change_tracking,
                    "IsOptimisticConcurrencyEnabled": True,
                    "MetadataId": str(hash(table.logical) & 0xFFFFFFFF),
                }
            )
        if rest == "/Attributes" and request.method == "GET":
            return json_response({"value": [_attribute(c) for c in table.columns.values()]})
        if rest == "/Attributes" and request.method == "POST":
            return self.create_attribute(request, table)
        if rest == "/Keys" and request.method == "GET":
            keys = [
                {
                    "LogicalName": name,
                    "SchemaName": name,
                    "KeyAttributes": list(cols),
                    "EntityKeyIndexStatus": "Active",
                }
                for name, cols in table.keys.items()
            ]
            return json_response({"value": keys})
        raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{rest.strip('/')}'.")

    def create_attribute(self, request: Request, table: Table) -> Response:
        body = request.json() or {}
        odata_type = str(body.get("@odata.type", ""))
        kinds = {f"#{v}": k for k, v in ATTRIBUTE_TYPES.items()} | {v: k for k, v in ATTRIBUTE_TYPES.items()}
        kind = kinds.get(odata_type)
        schema = str(body.get("SchemaName") or "")
        if kind is None or not schema:
            raise DataverseError(
                400, "0x80044150", f"Unsupported or missing attribute metadata type '{odata_type}'."
            )
        name = schema.lower()
        if not name.startswith("new_"):
            raise DataverseError(
                400, "0x80044150", f"The custom attribute '{schema}' must start with a publisher prefix."
            )
        if name in table.columns:
            raise DataverseError(
                400, "0x80044363", f"An attribute with the specified name {schema} already exists."
            )
        length = body.get("MaxLength") if kind in ("String", "Memo") else None
        date_only = kind == "DateTime" and body.get("Format") == "DateOnly"
        size = int(length or 100) if length or kind == "String" else None
        self.org.add_column(table.logical, Column(name, kind, size, custom=True, date_only=date_only))
        response = empty_response(204)
        return response.with_header(
            "OData-EntityId",
            f"{base_url(request)}{API}/EntityDefinitions(LogicalName='{table.logical}')/Attributes(LogicalName='{name}')",
        )

    # -- collections -------------------------------------------------------------------------------
    def collection(self, request: Request) -> Response:
        table = self.org.table(request.context["rest"])
        if request.method == "POST":
            return self.create(request, table)
        return self.query(request, table)

    def create(self, request: Request, table: Table) -> Response:
        body = _json_object(request)
        row = self.org.create(table.entity_set, body)
        return self._written(request, table, row, created=True, key=None)

    def query(self, request: Request, table: Table) -> Response:
        preferences = prefer(request.header("Prefer"))
        delta = request.param("$deltatoken")
        # A table without change tracking ignores the preference (no Preference-Applied, no deltaLink).
        tracking = table.change_tracking and ("odata.track-changes" in preferences or delta is not None)
        if tracking:
            for option in ("$filter", "$orderby", "$expand", "$top"):
                if request.param(option) is not None:
                    raise DataverseError(
                        400,
                        "0x80060888",
                        f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.',
                    )
        types = {name: column.kind for name, column in table.columns.items()}
        columns = _select(table, request.param("$select"))
        formatted = wants_formatted(preferences)
        with self.org.lock:
            if delta is not None:
                return self._delta(request, table, columns, delta, formatted)
            rows = list(self.org.rows[table.entity_set].values())
            version = self.org.version
        if request.param("$filter"):
            try:
                predicate = compile_filter(request.param("$filter") or "", types)
            except QueryError as error:
                raise DataverseError(400, "0x80060888", str(error)) from None
            rows = [row for row in rows if predicate(row)]
        try:
            rows.sort(key=order_key(request.param("$orderby"), table.primary_id, types))
        except QueryError as error:
            raise DataverseError(400, "0x80060888", str(error)) from None
        size = _page_size(preferences)
        top = request.param("$top")
        if top is not None and "odata.maxpagesize" not in preferences:  # $top is ignored with maxpagesize
            rows = rows[: int(top)]
        page = int(_cookie_page(request.param("$skiptoken")) or 1)
        chunk = rows[(page - 1) * size : page * size]
        body: dict[str, Any] = {
            "@odata.context": f"{base_url(request)}{API}/$metadata#{table.entity_set}({','.join(columns)})",
            "value": [render(table, row, columns, formatted=formatted) for row in chunk],
        }
        if page * size < len(rows):
            body["@odata.nextLink"] = self._next_link(request, page + 1)
        elif tracking:
            body["@odata.deltaLink"] = self._delta_link(request, version)
        response = json_response(body)
        applied = [p for p in ("odata.track-changes",) if tracking and p in preferences]
        if "odata.maxpagesize" in preferences:
            applied.append(f"odata.maxpagesize={size}")
        if formatted:
            applied.append(f'odata.include-annotations="{preferences["odata.include-annotations"]}"')
        if applied:
            response.with_header("Preference-Applied", ",".join(applied))
        return response

    def _next_link(self, request: Request, page: int) -> str:
        params = {k: v[0] for k, v in request.query.items() if k != "$skiptoken"}
        cookie = f'<cookie pagenumber="{page}" pagingcookie="" istracking="False" />'
        params["$skiptoken"] = cookie
        return f"{base_url(request)}{request.path}?{urlencode(params, quote_via=quote, safe='$,')}"

    def _delta_link(self, request: Request, version: int) -> str:
        params = {k: v[0] for k, v in request.query.items() if k not in ("$skiptoken", "$deltatoken")}
        now = datetime.now(UTC).strftime("%m/%d/%Y %H:%M:%S")
        params["$deltatoken"] = f"{version}!{now}"
        return f"{base_url(request)}{request.path}?{urlencode(params, quote_via=quote, safe='$,')}"

    def _delta(
        self, request: Request, table: Table, columns: list[str], token: str, formatted: bool
    ) -> Response:
        version_text = token.split("!", 1)[0]
        if not version_text.isdigit():
            raise DataverseError(400, "0x80044352", "The delta token is not valid.")
        since = int(version_text)
        changed = [row for row in self.org.rows[table.entity_set].values() if row["versionnumber"] > since]
        changed.sort(key=lambda row: row["versionnumber"])
        base = f"{base_url(request)}{API}/$metadata#{table.entity_set}"
        value: list[dict[str, Any]] = [render(table, row, columns, formatted=formatted) for row in changed]
        value += [
            {"@odata.context": f"{base}/$deletedEntity", "id": row_id, "reason": "deleted"}
            for version, row_id in self.org.tombstones[table.entity_set]
            if version > since
        ]
        return json_response(
            {
                "@odata.context": f"{base}({','.join(columns)})/$delta",
                "value": value,
                "@odata.deltaLink": self._delta_link(request, self.org.version),
            }
        )

    # -- single rows -------------------------------------------------------------------------------
    def row(self, request: Request) -> Response:
        match = _ROW.fullmatch(request.context["rest"])
        assert match is not None
        table = self.org.table(match["set"])
        row_id, key = parse_key(table, match["key"])
        with self.org.lock:
            row = self._find(table, row_id, key)
            if request.method == "GET":
                if row is None:
                    raise not_found(table, row_id or key_text(key))
                return self._get(request, table, row)
            if request.method == "DELETE":
                if row is None:
                    raise not_found(table, row_id or key_text(key))
                self._check_if_match(request, row)
                self.org.delete(table.entity_set, row[table.primary_id])
                return empty_response(204)
            return self._patch(request, table, row, row_id, key)

    def _find(self, table: Table, row_id: str | None, key: dict[str, Any]) -> dict[str, Any] | None:
        if row_id is not None:
            return self.org.rows[table.entity_set].get(row_id)
        return self.org.find_by_key(table.entity_set, key)

    def _get(self, request: Request, table: Table, row: dict[str, Any]) -> Response:
        preferences = prefer(request.header("Prefer"))
        if request.header("If-None-Match") == etag(row) and not wants_formatted(preferences):
            return empty_response(304)
        columns = _select(table, request.param("$select"))
        body = {
            "@odata.context": f"{base_url(request)}{API}/$metadata#{table.entity_set}"
            f"({','.join(columns)})/$entity",
            **render(table, row, columns, formatted=wants_formatted(preferences)),
        }
        return json_response(body)

    @staticmethod
    def _check_if_match(request: Request, row: dict[str, Any]) -> None:
        wanted = request.header("If-Match")
        if wanted and wanted != "*" and wanted != etag(row):
            raise DataverseError(
                412,
                "0x80060882",
                "The version of the existing record doesn't match the RowVersion property provided.",
            )

    def _patch(
        self,
        request: Request,
        table: Table,
        row: dict[str, Any] | None,
        row_id: str | None,
        key: dict[str, Any],
    ) -> Response:
        body = _json_object(request)
        if request.header("If-Match") and row is None:
            raise not_found(table, row_id or key_text(key))
        if request.header("If-None-Match") == "*" and row is not None:
            raise DataverseError(412, "0x80040237", "A record with matching key values already exists.")
        if row is not None:
            self._check_if_match(request, row)
            data = {k: v for k, v in body.items() if k not in key}  # key columns are dropped on update
            written = self.org.update(table.entity_set, row[table.primary_id], data)
            return self._written(request, table, written, created=False, key=key or None)
        data = {**key, **body}  # on create, body values win over the URL's key values
        created = self.org.create(table.entity_set, data, row_id=row_id)
        return self._written(request, table, created, created=True, key=key or None)

    def _written(
        self,
        request: Request,
        table: Table,
        row: dict[str, Any],
        *,
        created: bool,
        key: dict[str, Any] | None,
    ) -> Response:
        preferences = prefer(request.header("Prefer"))
        if preferences.get("return") == "representation":
            columns = _select(table, request.param("$select"))
            body = {
                "@odata.context": f"{base_url(request)}{API}/$metadata#{table.entity_set}/$entity",
                **render(table, row, columns, formatted=wants_formatted(preferences)),
            }
            response = json_response(body, 201 if created else 200)
            return response.with_header("Preference-Applied", "return=representation")
        where = key_text(key) if key else row[table.primary_id]
        response = empty_response(204)
        return response.with_header("OData-EntityId", f"{base_url(request)}{API}/{table.entity_set}({where})")

    # -- actions -------------------------------------------------------------------------------------
    def close_opportunity(self, request: Request) -> Response:
        body = _json_object(request)
        won = request.context["rest"] == "WinOpportunity"
        close = body.get("OpportunityClose")
        status = body.get("Status")
        if not isinstance(close, dict) or not isinstance(status, int):
            raise DataverseError(400, "0x80040203", "OpportunityClose and Status are required.")
        reference = str(close.get("opportunityid@odata.bind") or "")
        match = re.fullmatch(r"/?opportunities\((?P<id>[0-9a-fA-F-]{36})\)", reference)
        if match is None:
            raise DataverseError(400, "0x80040203", "OpportunityClose must bind opportunityid.")
        state = 1 if won else 2
        if status not in {value for value, _ in OPPORTUNITY_STATUSES[state]}:
            raise DataverseError(
                400,
                "0x80048408",
                f"{status} is not a valid status code for state code "
                f"OpportunityState.{'Won' if won else 'Lost'}",
            )
        with self.org.lock:
            row = self.org.rows["opportunities"].get(match["id"])
            if row is None:
                raise not_found(self.org.tables["opportunities"], match["id"])
            if row.get("statecode") != 0:
                raise DataverseError(400, "0x80040203", "The opportunity is already closed.")
            changes: dict[str, Any] = {"statecode": state, "statuscode": status}
            if close.get("actualrevenue") is not None:
                changes["actualvalue"] = close["actualrevenue"]
            changes["actualclosedate"] = close.get("actualend") or datetime.now(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            self.org.update("opportunities", match["id"], changes)
        return empty_response(204)


def _attribute(column: Column) -> dict[str, Any]:
    return {
        "@odata.type": f"#{ATTRIBUTE_TYPES.get(column.kind, 'Microsoft.Dynamics.CRM.AttributeMetadata')}",
        "LogicalName": column.name,
        "SchemaName": column.name,
        "AttributeType": column.kind,
        "IsCustomAttribute": column.custom,
        "MaxLength": column.max_length,
        "IsValidForCreate": not column.read_only,
        "IsValidForUpdate": not column.read_only,
        "RequiredLevel": {"Value": "SystemRequired" if column.required else "None"},
        **(
            {
                "Format": "DateOnly" if column.date_only else "DateAndTime",
                "DateTimeBehavior": {"Value": "DateOnly" if column.date_only else "UserLocal"},
            }
            if column.kind == "DateTime"
            else {}
        ),
        "OptionSet": {
            "Options": [
                {"Value": v, "Label": {"LocalizedLabels": [{"Label": label, "LanguageCode": 1033}]}}
                for v, label in column.options
            ]
        }
        if column.options
        else None,
    }


def _select(table: Table, select: str | None) -> list[str]:
    try:
        return columns_of(table, select)
    except QueryError as error:
        raise DataverseError(400, "0x80060888", str(error)) from None


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise DataverseError(400, "0x80060891", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise DataverseError(400, "0x80060891", "An object was expected in the request body.")
    return body


def _page_size(preferences: dict[str, str]) -> int:
    text = preferences.get("odata.maxpagesize")
    if text is None:
        return MAX_PAGE
    if not text.isdigit() or int(text) < 1:
        raise DataverseError(400, "0x80060888", f"Invalid odata.maxpagesize '{text}'.")
    return min(int(text), MAX_PAGE)


def _cookie_page(token: str | None) -> str | None:
    if not token:
        return None
    match = re.search(r'pagenumber="(\d+)"', token)
    if match is None:
        raise DataverseError(400, "0x80060888", "The $skiptoken is not valid.")
    return match.group(1)


__all__ = ["API", "LEADBRIDGE_KEY", "WebApi"]
