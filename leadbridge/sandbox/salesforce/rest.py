"""REST routes of one org: versions, limits, describe, query/queryAll/queryMore, sObject CRUD and
upsert by external id, getUpdated/getDeleted. Collections live in ``collections.py``.

Every handler receives a ``Request`` whose ``context["user_id"]`` the service filled after
authenticating the session; handlers raise ``SalesforceApiError`` for error answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from leadbridge.sandbox.salesforce import collections
from leadbridge.sandbox.salesforce.auth import oauth_token, soap_login
from leadbridge.sandbox.salesforce.bulk2 import Bulk2
from leadbridge.sandbox.salesforce.composite import composite_handler
from leadbridge.sandbox.salesforce.errors import SalesforceApiError, not_found
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sandbox.salesforce.query import batch_size
from leadbridge.sandbox.salesforce.records import Record
from leadbridge.sandbox.salesforce.schema import ObjectDef
from leadbridge.sandbox.salesforce.shapes import attributes, describe_object, record_json
from leadbridge.sandbox.salesforce.values import format_datetime, parse_datetime
from leadbridge.sandbox.server import Request, Response, Router, empty_response, json_response

B = r"/services/data/v(?P<version>\d+\.\d+)"
UPDATED_WINDOW = timedelta(days=30)
DELETED_WINDOW = timedelta(days=15)
VERSIONS = [f"{v}.0" for v in range(55, 63)]
# The documented ``/limits`` keys beside DailyApiRequests (REST API guide, "List Org Limits").
LIMITS = {
    "ActiveScratchOrgs": 3,
    "AnalyticsExternalDataSizeMB": 40960,
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentEinsteinDataInsightsStoryCreation": 5,
    "ConcurrentEinsteinDiscoveryStoryCreation": 2,
    "ConcurrentSyncReportRuns": 20,
    "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAnalyticsUploadedFilesSizeMB": 51200,
    "DailyAsyncApexExecutions": 250000,
    "DailyAsyncApexTests": 500,
    "DailyBulkApiBatches": 15000,
    "DailyBulkApiRequests": 15000,
    "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyEinsteinDataInsightsStoryCreation": 1000,
    "DailyEinsteinDiscoveryPredictAPICalls": 50000,
    "DailyEinsteinDiscoveryPredictionsByCDC": 500000,
    "DailyEinsteinDiscoveryStoryCreation": 100,
    "DailyFunctionsApiCallLimit": 235000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyScratchOrgs": 6,
    "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 1000,
    "DataStorageMB": 1024,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 1024,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyLongTermIdMapping": 100000,
    "HourlyManagedContentPublicRequests": 50000,
    "HourlyODataCallout": 10000,
    "HourlyPublishedPlatformEvents": 50000,
    "HourlyPublishedStandardVolumePlatformEvents": 100000,
    "HourlyShortTermIdMapping": 100000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 1000,
    "MassEmail": 5000,
    "MonthlyEinsteinDiscoveryStoryCreation": 500,
    "MonthlyPlatformEventsUsageEntitlement": 300000,
    "Package2VersionCreates": 6,
    "Package2VersionCreatesWithoutValidation": 500,
    "PermissionSets": 1500,
    "PrivateConnectOutboundCalloutHourlyLimitMB": 0,
    "SingleEmail": 5000,
    "StreamingApiConcurrentClients": 20,
}


def _minute(moment: datetime) -> datetime:
    """Rounded down to the minute: replication windows and their dates ignore seconds."""
    return moment.replace(second=0, microsecond=0)


def body_dict(request: Request) -> dict[str, Any]:
    """The JSON object body; JSON_PARSER_ERROR for anything else."""
    try:
        data = request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return data


class SalesforceRest:
    """The handlers of one org, bound into a ``Router``."""

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self.router = Router()
        add = self.router.add
        add(
            "POST",
            r"/services/Soap/u/(?P<version>\d+\.\d+)(?:/.*)?",
            "login.soap",
            lambda r: soap_login(org, r),
        )
        add("POST", r"/services/oauth2/token", "oauth.token", lambda r: oauth_token(org, r))
        add("GET", r"/services/data/?", "versions", self.versions)
        add("GET", B + r"/?", "resources", self.resources)
        add("GET", B + r"/limits/?", "limits", self.limits)
        add("GET", B + r"/sobjects/?", "describe.global", self.describe_global)
        add("GET", B + r"/query/?", "query", lambda r: self.query(r, include_deleted=False))
        add("GET", B + r"/queryAll/?", "queryAll", lambda r: self.query(r, include_deleted=True))
        add("GET", B + r"/(?:query|queryAll)/(?P<locator>[^/]+)", "query.more", self.query_more)
        collections.register(self.router, org, B)
        obj = B + r"/sobjects/(?P<sobject>\w+)"
        add("GET", obj + r"/?", "sobject.metadata", self.metadata)
        add("POST", obj + r"/?", "sobject.create", self.create)
        add("GET", obj + r"/describe/?", "sobject.describe", self.describe)
        add("GET", obj + r"/updated/?", "sobject.updated", self.updated)
        add("GET", obj + r"/deleted/?", "sobject.deleted", self.deleted)
        add("GET", obj + r"/(?P<record_id>[^/]+)/?", "sobject.get", self.get)
        add("PATCH", obj + r"/(?P<record_id>[^/]+)/?", "sobject.update", self.update)
        add("DELETE", obj + r"/(?P<record_id>[^/]+)/?", "sobject.delete", self.delete)
        ext = obj + r"/(?P<field>\w+)/(?P<value>[^/]+)/?"
        add("GET", ext, "sobject.get_by_external_id", self.get_by_external_id)
        add("PATCH", ext, "sobject.upsert", self.upsert)
        add("DELETE", ext, "sobject.delete_by_external_id", self.delete_by_external_id)
        add("POST", B + r"/composite/?", "composite", composite_handler(org, self.router))
        Bulk2(org).register(self.router, B)

    # -- helpers ------------------------------------------------------------------------------
    def _obj(self, request: Request) -> ObjectDef:
        """The sObject the URL names; an unknown one is a resource that does not exist: 404
        ``NOT_FOUND``, as Salesforce answers (a SOQL ``FROM`` or a body's type: 400 ``INVALID_TYPE``)."""
        obj = self.org.schema.get(request.params["sobject"])
        if obj is None:
            raise not_found()
        return obj

    @staticmethod
    def _user(request: Request) -> str | None:
        return request.context.get("user_id")

    # -- org-level ----------------------------------------------------------------------------
    def versions(self, request: Request) -> Response:
        """``GET /services/data/``: the API versions offered (no session needed)."""
        return json_response(
            [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in VERSIONS]
        )

    def resources(self, request: Request) -> Response:
        """``GET {B}``: the resource directory of one version."""
        base = f"/services/data/v{request.params['version']}"
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return json_response({name: f"{base}/{name}" for name in names})

    def limits(self, request: Request) -> Response:
        """``GET {B}/limits/``: DailyApiRequests from the org's quota, the other documented limits
        static (an Enterprise Edition org's values; ``LIMITS``)."""
        quota = self.org.faults.quota
        limit = quota.limit if quota.limit is not None else 5_000_000
        data: dict[str, Any] = {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - quota.used)}}
        data.update({name: {"Max": value, "Remaining": value} for name, value in LIMITS.items()})
        return json_response(dict(sorted(data.items())))

    def describe_global(self, request: Request) -> Response:
        """``GET {B}/sobjects``: every object, without fields."""
        version = request.params["version"]
        sobjects = [describe_object(o, version, with_fields=False) for o in self.org.schema.objects.values()]
        return json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    # -- query ----------------------------------------------------------------------------------
    def query(self, request: Request, *, include_deleted: bool) -> Response:
        """``GET {B}/query|queryAll?q=``: the first page (``Sforce-Query-Options: batchSize``)."""
        page = self.org.queries.execute(
            request.param("q") or "",
            include_deleted=include_deleted,
            batch=batch_size(request.header("Sforce-Query-Options")),
            version=request.params["version"],
        )
        return json_response(page)

    def query_more(self, request: Request) -> Response:
        """``GET {B}/query/<locator>-<offset>``: a later page of a query."""
        return json_response(
            self.org.queries.more(request.params["locator"], version=request.params["version"])
        )

    # -- sObjects -------------------------------------------------------------------------------
    def metadata(self, request: Request) -> Response:
        """``GET …/sobjects/{Obj}/``: the short describe and recent items."""
        obj, version = self._obj(request), request.params["version"]
        recent = self.org.records(obj.name)[-3:]
        return json_response(
            {
                "objectDescribe": describe_object(obj, version, with_fields=False),
                "recentItems": [
                    {"attributes": attributes(obj.name, r["Id"], version), "Id": r["Id"]} for r in recent
                ],
            }
        )

    def describe(self, request: Request) -> Response:
        """``GET …/sobjects/{Obj}/describe``: the full describe with fields."""
        return json_response(describe_object(self._obj(request), request.params["version"]))

    def create(self, request: Request) -> Response:
        """``POST …/sobjects/{Obj}/``: 201 ``{id, success, errors}``."""
        record_id = self.org.store.create(self._obj(request), body_dict(request), user_id=self._user(request))
        return json_response({"id": record_id, "success": True, "errors": []}, 201)

    def get(self, request: Request) -> Response:
        """``GET …/sobjects/{Obj}/{id}``: every field (or ``?fields=``), nulls included."""
        obj = self._obj(request)
        record = self.org.store.get(obj, request.params["record_id"])
        wanted = request.param("fields")
        fields = [f.strip().lower() for f in wanted.split(",")] if wanted else None
        return json_response(record_json(obj, record, request.params["version"], fields))

    def update(self, request: Request) -> Response:
        """``PATCH …/sobjects/{Obj}/{id}``: 204."""
        self.org.store.update(
            self._obj(request), request.params["record_id"], body_dict(request), user_id=self._user(request)
        )
        return empty_response(204)

    def delete(self, request: Request) -> Response:
        """``DELETE …/sobjects/{Obj}/{id}``: 204; the record stays for queryAll/getDeleted."""
        self.org.store.delete(self._obj(request), request.params["record_id"])
        return empty_response(204)

    def _by_external_id(self, request: Request) -> tuple[ObjectDef, Record]:
        obj = self._obj(request)
        field = self.org.store.external_id_field(obj, request.params["field"])
        matches = self.org.store.find(obj, field, unquote(request.params["value"]))
        if not matches:
            raise not_found()
        if len(matches) > 1:
            raise SalesforceApiError(300, "MULTIPLE_CHOICES", "more than one record found")
        return obj, self.org.store.get(obj, matches[0])

    def get_by_external_id(self, request: Request) -> Response:
        """``GET …/sobjects/{Obj}/{Field}/{value}``: 200, 404, or 300 when ambiguous."""
        obj, record = self._by_external_id(request)
        return json_response(record_json(obj, record, request.params["version"]))

    def delete_by_external_id(self, request: Request) -> Response:
        """``DELETE …/sobjects/{Obj}/{Field}/{value}``: 204."""
        obj, record = self._by_external_id(request)
        self.org.store.delete(obj, record["Id"])
        return empty_response(204)

    def upsert(self, request: Request) -> Response:
        """201 created, 200/204 updated (by API version, or ``org.upsert_update_status``), 300 ambiguous."""
        obj, version = self._obj(request), request.params["version"]
        field, value = request.params["field"], unquote(request.params["value"])
        try:
            record_id, created = self.org.store.upsert(
                obj,
                field,
                value,
                body_dict(request),
                user_id=self._user(request),
                update_only=(request.param("updateOnly") or "").lower() == "true",
            )
        except SalesforceApiError as error:
            if error.status != 300:
                raise
            definition = self.org.store.external_id_field(obj, field)
            ids = self.org.store.find(obj, definition, value)
            return json_response([f"/services/data/v{version}/sobjects/{obj.name}/{i}" for i in ids], 300)
        result = {"id": record_id, "success": True, "errors": [], "created": created}
        if created:
            return json_response(result, 201)
        status = self.org.upsert_update_status or (200 if float(version) >= 46 else 204)
        return json_response(result, 200) if status == 200 else empty_response(204)

    # -- replication ------------------------------------------------------------------------
    def _window(self, request: Request, limit: timedelta) -> tuple[datetime, datetime]:
        def moment(name: str) -> datetime:
            # A '+' in an offset arrives as ' ' when the client did not percent-encode it.
            raw = (request.param(name) or "").replace(" ", "+")
            parsed = parse_datetime(raw)
            if parsed is None:
                raise SalesforceApiError(
                    400, "INVALID_REPLICATION_DATE", f"{name}: invalid date-time {raw!r}"
                )
            return parsed

        start, end = _minute(moment("start")), _minute(moment("end"))
        if end < start:
            raise SalesforceApiError(
                400, "INVALID_REPLICATION_DATE", "endDate must chronologically follow startDate"
            )
        if start < _minute(self.org.clock.now() - limit):
            raise SalesforceApiError(
                400, "INVALID_REPLICATION_DATE", f"startDate cannot be more than {limit.days} days ago"
            )
        return start, end

    def updated(self, request: Request) -> Response:
        """``GET …/{Obj}/updated/?start&end``: ids whose SystemModstamp is in the window (≤ 30 days)."""
        obj = self._obj(request)
        start, end = self._window(request, UPDATED_WINDOW)
        ids = [r["Id"] for r in self.org.records(obj.name) if start <= r["SystemModstamp"] <= end]
        covered = _minute(min(end, self.org.clock.now()))
        return json_response({"ids": ids, "latestDateCovered": format_datetime(covered)})

    def deleted(self, request: Request) -> Response:
        """``GET …/{Obj}/deleted/?start&end``: records deleted in the window (≤ 15 days)."""
        obj = self._obj(request)
        start, end = self._window(request, DELETED_WINDOW)
        deleted_at = self.org.store.deleted_at
        gone = [r for r in self.org.records(obj.name, include_deleted=True) if r["IsDeleted"]]
        rows = [
            {"id": r["Id"], "deletedDate": format_datetime(deleted_at[r["Id"]])}
            for r in gone
            if start <= deleted_at[r["Id"]] <= end
        ]
        # The purge horizon: deletions before it are gone for good (here: the 15-day window), so it
        # is never later than a window start the call accepts.
        horizon = _minute(self.org.clock.now() - DELETED_WINDOW)
        return json_response(
            {
                "deletedRecords": rows,
                "earliestDateAvailable": format_datetime(min(horizon, start)),
                "latestDateCovered": format_datetime(_minute(min(end, self.org.clock.now()))),
            }
        )
