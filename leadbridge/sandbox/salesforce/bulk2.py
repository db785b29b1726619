"""Bulk API 2.0 as ``sf.bulk2.<Obj>`` drives it: ingest jobs (insert, update, upsert, delete,
hardDelete) and query jobs (query, queryAll) with CSV in and out.

Rules applied: a job is created ``Open`` (ingest) or ``UploadComplete`` (query); uploading CSV
answers **201**; closing with ``UploadComplete`` processes the rows at once, so the next poll
reads ``JobComplete`` with ``numberRecordsProcessed``/``numberRecordsFailed``. An empty CSV cell
leaves the field alone and ``#N/A`` sets it to null, as in Salesforce. Row errors read
``CODE:message:fields --`` in ``failedResults``. Query results are pages of CSV with
``Sforce-NumberOfRecords`` and ``Sforce-Locator`` (``null`` on the last page).
"""

from __future__ import annotations

import csv
import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leadbridge.sandbox.salesforce.errors import SalesforceApiError, not_found
from leadbridge.sandbox.salesforce.query import Column
from leadbridge.sandbox.salesforce.records import Record
from leadbridge.sandbox.salesforce.values import to_json
from leadbridge.sandbox.server import Request, Response, Router, empty_response, json_response

if TYPE_CHECKING:
    from leadbridge.sandbox.salesforce.org import SalesforceOrg

INGEST_OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
QUERY_OPERATIONS = frozenset({"query", "queryAll"})
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
RECORD_FAULTS = "bulk2.record"
_CSV = "text/csv;charset=UTF-8"


@dataclass
class Job:
    """One Bulk 2.0 job and everything it produced."""

    id: str
    operation: str
    object: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id: str | None = None
    query: str | None = None
    state: str = "Open"
    data: list[bytes] = field(default_factory=list)
    processed: int = 0
    failed: int = 0
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    rows: list[Record] = field(default_factory=list)

    @property
    def is_query(self) -> bool:
        return self.operation in QUERY_OPERATIONS

    def info(self, version: str) -> dict[str, Any]:
        """The job as ``GET …/jobs/{ingest|query}/{id}`` answers it."""
        data: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "jobType": "V2Query" if self.is_query else "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
            "numberRecordsProcessed": self.processed,
            "numberRecordsFailed": self.failed,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if self.external_id:
            data["externalIdFieldName"] = self.external_id
        if not self.is_query and self.state == "Open":
            data["contentUrl"] = f"services/data/v{version}/jobs/ingest/{self.id}/batches"
        return data


def _cell(value: Any) -> str:
    """A stored value as a Bulk CSV cell (null → empty, datetimes in ``…Z`` form)."""
    value = to_json(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.endswith("+0000"):
        return value[:-5] + "Z"
    return str(value)


class Bulk2:
    """The Bulk 2.0 jobs of one org."""

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def register(self, router: Router, base: str) -> None:
        jobs = base + r"/jobs/(?P<kind>ingest|query)"
        job = jobs + r"/(?P<job_id>750\w+)"
        router.add("POST", jobs + r"/?", "bulk2.create", self.create)
        router.add("GET", jobs + r"/?", "bulk2.list", self.list_jobs)
        router.add("PUT", job + r"/batches/?", "bulk2.upload", self.upload)
        router.add("GET", job + r"/?", "bulk2.get", self.get)
        router.add("PATCH", job + r"/?", "bulk2.state", self.set_state)
        router.add("DELETE", job + r"/?", "bulk2.delete", self.delete)
        router.add("GET", job + r"/results/?", "bulk2.results", self.results)
        router.add(
            "GET",
            job + r"/(?i:(?P<which>successfulResults|failedResults|unprocessedRecords))/?",
            "bulk2.ingest_results",
            self.ingest_results,
        )

    # -- handlers -------------------------------------------------------------------------------
    def _job(self, request: Request) -> Job:
        job = self.jobs.get(request.params["job_id"])
        if job is None or job.is_query != (request.params["kind"] == "query"):
            raise not_found()
        return job

    def create(self, request: Request) -> Response:
        """``POST …/jobs/ingest|query``: 200 with the job (Open / UploadComplete)."""
        data = request.json() if request.body else {}
        if not isinstance(data, dict):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = str(data.get("operation", ""))
        is_query = request.params["kind"] == "query"
        if operation not in (QUERY_OPERATIONS if is_query else INGEST_OPERATIONS):
            raise SalesforceApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        delimiter, line_ending = str(data.get("columnDelimiter", "COMMA")), str(data.get("lineEnding", "LF"))
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise SalesforceApiError(400, "INVALIDJOB", "InvalidJob : Invalid columnDelimiter or lineEnding")
        with self._lock:
            job_id = f"7505{next(self._numbers):011d}AAA"
        if is_query:
            job = self._run_query(job_id, operation, str(data.get("query") or ""), delimiter, line_ending)
        else:
            obj = self.org.store.object(str(data.get("object", "")))
            external = data.get("externalIdFieldName")
            if operation == "upsert":
                external = self.org.store.external_id_field(obj, str(external or "")).name
            job = Job(job_id, operation, obj.name, delimiter, line_ending, external)
        self.jobs[job_id] = job
        return json_response(job.info(request.params["version"]))

    def list_jobs(self, request: Request) -> Response:
        """``GET …/jobs/ingest|query``: every job of that kind."""
        kind_is_query = request.params["kind"] == "query"
        records = [
            j.info(request.params["version"]) for j in self.jobs.values() if j.is_query == kind_is_query
        ]
        return json_response({"done": True, "records": records, "nextRecordsUrl": None})

    def upload(self, request: Request) -> Response:
        """``PUT …/ingest/{id}/batches``: 201; only while the job is Open."""
        job = self._job(request)
        if job.state != "Open":
            raise SalesforceApiError(
                409, "INVALIDJOBSTATE", f"Job is in state {job.state}; data not accepted"
            )
        job.data.append(request.body)
        return empty_response(201)

    def get(self, request: Request) -> Response:
        """``GET …/jobs/{kind}/{id}``: state and record counts."""
        return json_response(self._job(request).info(request.params["version"]))

    def set_state(self, request: Request) -> Response:
        """``PATCH …/{id}`` ``{"state": "UploadComplete"|"Aborted"}``; UploadComplete processes the rows."""
        job = self._job(request)
        state = (request.json() or {}).get("state")
        if state == "Aborted" and job.state not in ("JobComplete", "Failed"):
            job.state = "Aborted"
        elif state == "UploadComplete" and job.state == "Open" and not job.is_query:
            job.state = "UploadComplete"
            self._process(job, request.context.get("user_id"))
        else:
            raise SalesforceApiError(
                400, "INVALIDJOBSTATE", f"Cannot change state from {job.state} to {state}"
            )
        return json_response(job.info(request.params["version"]))

    def delete(self, request: Request) -> Response:
        """``DELETE …/{id}``: 204."""
        self.jobs.pop(self._job(request).id, None)
        return empty_response(204)

    def ingest_results(self, request: Request) -> Response:
        """``successfulResults`` / ``failedResults`` / ``unprocessedRecords`` as CSV."""
        job = self._job(request)
        which = request.params["which"].lower()
        if which == "successfulresults":
            header, rows = ["sf__Id", "sf__Created", *job.header], job.successes
        elif which == "failedresults":
            header, rows = ["sf__Id", "sf__Error", *job.header], job.failures
        else:
            header, rows = job.header, [] if job.state == "JobComplete" else self._rows_of(job)[1]
        return Response(200, self._csv(job, header, rows).encode(), [("Content-Type", _CSV)])

    def results(self, request: Request) -> Response:
        """``GET …/query/{id}/results?maxRecords&locator``: a CSV page plus the locator headers."""
        job = self._job(request)
        if job.state != "JobComplete":
            raise SalesforceApiError(400, "INVALIDJOBSTATE", f"Job is in state {job.state}")
        start = int(request.param("locator") or 0) if (request.param("locator") or "0").isdigit() else -1
        if start < 0:
            raise SalesforceApiError(400, "INVALIDLOCATOR", "invalid locator")
        size = int(request.param("maxRecords") or 50_000)
        chunk = job.rows[start : start + size]
        rows = [[_cell(c.get(r)) for c in job.columns] for r in chunk]
        end = start + len(chunk)
        locator = str(end) if end < len(job.rows) else "null"
        headers = [
            ("Content-Type", _CSV),
            ("Sforce-NumberOfRecords", str(len(chunk))),
            ("Sforce-Locator", locator),
        ]
        return Response(200, self._csv(job, job.paths, rows).encode(), headers)

    # -- work -------------------------------------------------------------------------------------
    def _run_query(self, job_id: str, operation: str, soql: str, delimiter: str, line_ending: str) -> Job:
        """Run the query now (the first poll then reads JobComplete); rows are a snapshot."""
        obj, columns, rows, query = self.org.queries.select(soql, include_deleted=operation == "queryAll")
        if query.count_only:
            raise SalesforceApiError(400, "INVALIDJOB", "InvalidJob : Aggregate queries are not supported")
        job = Job(job_id, operation, obj.name, delimiter, line_ending, query=soql)
        job.columns, job.rows, job.paths = columns, rows, list(query.fields)
        job.processed, job.state = len(rows), "JobComplete"
        return job

    @staticmethod
    def _csv(job: Job, header: list[str], rows: list[list[str]]) -> str:
        out = io.StringIO()
        writer = csv.writer(
            out, delimiter=DELIMITERS[job.delimiter], lineterminator=LINE_ENDINGS[job.line_ending]
        )
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()

    @staticmethod
    def _rows_of(job: Job) -> tuple[list[str], list[list[str]]]:
        text = b"".join(job.data).decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter])
        rows = [row for row in reader if row]
        return (rows[0], rows[1:]) if rows else ([], [])

    def _process(self, job: Job, user_id: str | None) -> None:
        job.header, rows = self._rows_of(job)
        store = self.org.store
        obj = store.object(job.object)
        for row in rows:
            values = dict(zip(job.header, row, strict=False))
            record_id, created = "", False
            try:
                if self.org.faults.decide(RECORD_FAULTS).error:
                    raise SalesforceApiError(
                        400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"
                    )
                data = {k: (None if v == "#N/A" else v) for k, v in values.items() if v != ""}
                if job.operation == "insert":
                    record_id, created = store.create(obj, data, user_id=user_id), True
                elif job.operation == "upsert":
                    key = next(
                        (v for k, v in data.items() if k.lower() == (job.external_id or "").lower()), ""
                    )
                    record_id, created = store.upsert(
                        obj, job.external_id or "", str(key or ""), data, user_id=user_id
                    )
                else:
                    record_id = next((v for k, v in values.items() if k.lower() == "id"), "")
                    if not record_id:
                        raise SalesforceApiError(400, "MISSING_ARGUMENT", "Id not specified", ["Id"])
                    body = {k: v for k, v in data.items() if k.lower() != "id"}
                    if job.operation == "update":
                        record_id = store.update(obj, record_id, body, user_id=user_id)
                    else:
                        record_id = store.delete(obj, record_id)
                job.successes.append([record_id, "true" if created else "false", *row])
            except SalesforceApiError as error:
                job.failed += 1
                message = f"{error.code}:{error.message}:{','.join(error.fields)} --"
                job.failures.append([record_id, message, *row])
            job.processed += 1
        job.state = "JobComplete"
