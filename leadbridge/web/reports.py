"""Reports in the cockpit and the API, and the cockpit's lead download.

- ``/cockpit/reports/{name}`` (``TITLES``): a filter form (range, campaign, country, partner),
  server-rendered charts (``charts.py``), the table, and a CSV of the same rows;
- ``/api/v1/reports/{name}``: the rows as JSON (admin key); ``core/reports/tables.py`` makes them;
- ``/cockpit/export/leads.csv|.xlsx``: the lead listing written as it is read
  (``ops/lead_export.py``: formula cells neutralised).
Routes are thin: the figures and their rules live in ``core/reports``.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from leadbridge.core.model import utcnow
from leadbridge.core.reports.scorecard import partner_scorecard
from leadbridge.core.reports.tables import REPORTS, Rows
from leadbridge.core.reports.window import ReportFilter, day_start
from leadbridge.core.store.database import Database
from leadbridge.ops.lead_export import LeadSelection, neutralise, stream_leads, write_csv, write_xlsx
from leadbridge.web.charts import bar_chart
from leadbridge.web.deps import CurrentAdmin, CurrentPartner, Db, Page, current_admin
from leadbridge.web.edge import EdgeCheckedRoute
from leadbridge.web.errors import API_ERROR_RESPONSES
from leadbridge.web.privacy import audit_action

cockpit_router = APIRouter(prefix="/cockpit", include_in_schema=False)
api_router = APIRouter(
    prefix="/api/v1",
    tags=["reports"],
    dependencies=[Depends(current_admin)],
    route_class=EdgeCheckedRoute,
    responses=API_ERROR_RESPONSES,
)
inbox_router = APIRouter(prefix="/inbox", include_in_schema=False)
ROUTERS = (api_router, cockpit_router, inbox_router)
# What a partner sees of its own scorecard: rates and times, not other partners' figures.
PARTNER_FIGURES = (
    ("acceptance_rate", "Acceptance rate", "%"),
    ("median_accept_hours", "Median hours to accept", " h"),
    ("median_contact_hours", "Median hours to first contact", " h"),
    ("conversion", "Conversion", "%"),
    ("win_rate", "Win rate", "%"),
    ("sla_compliance", "SLA compliance", "%"),
    ("average_rating", "Average lead rating (1–5)", ""),
)
TITLES = {
    "partners": "Partner scorecard",
    "campaigns": "Campaign ROI",
    "regions": "Regions",
    "products": "Product lines",
    "quality": "Lead quality",
    "weekly": "Scorecard per week",
    "monthly": "Scorecard per month",
}


def report_filter(
    since: Annotated[date | None, Query(description="first day (UTC)")] = None,
    until: Annotated[date | None, Query(description="day after the last (UTC)")] = None,
    campaign: Annotated[str | None, Query(max_length=255)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,  # an empty form field: none
    partner: Annotated[str | None, Query(max_length=40)] = None,
) -> ReportFilter:
    """The report filter from the query string (empty form fields mean no filter)."""
    return ReportFilter(
        day_start(since), day_start(until), campaign or None, country or None, partner or None
    )


Filter = Annotated[ReportFilter, Depends(report_filter)]


def _rows(db: Database, name: str, flt: ReportFilter) -> Rows:
    if name not in REPORTS:
        raise HTTPException(404, f"no report {name!r}; reports: {', '.join(REPORTS)}")
    with db.transaction() as session:
        return REPORTS[name](session, flt)


@inbox_router.get("/scorecard")
def partner_own_scorecard(request: Request, partner: CurrentPartner, db: Db) -> Response:
    """The signed-in partner's own scorecard for the last 90 days beside the network median."""
    now = utcnow()
    with db.transaction() as session:
        card = partner_scorecard(session, ReportFilter(since=now - timedelta(days=90), until=now))
    own = next((r for r in card.rows if r.partner_id == partner.partner_id), None)
    mine = own.as_dict() if own else dict.fromkeys((k for k, _, _ in PARTNER_FIGURES), None)
    context = {"partner": partner, "mine": mine, "network": card.network, "figures": PARTNER_FIGURES}
    return Page(request).render("inbox/scorecard.html", context, language=partner.language)


@api_router.get("/reports/{name}")
def report_api(name: str, db: Db, flt: Filter) -> list[dict[str, Any]]:
    """One report's rows (partners, campaigns, regions, products) for the range and filters."""
    return _rows(db, name, flt)


def _csv(rows: Rows, filename: str) -> Response:
    out = io.StringIO()
    if rows:
        fields = list(rows[0])
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(fields)
        writer.writerows([[neutralise("" if r[f] is None else r[f]) for f in fields] for r in rows])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _scorecard_charts(rows: Rows) -> list[Any]:
    partners = [r for r in rows if r["offers"]]  # the network median line has no offers
    names = [str(r["name"]) for r in partners]
    acceptance = [round(100 * (r["acceptance_rate"] or 0), 1) for r in partners]
    hours = [round(r["median_accept_hours"] or 0, 1) for r in partners]
    return [
        bar_chart("Acceptance rate", list(zip(names, acceptance, strict=True)), unit=" %"),
        bar_chart("Median hours to accept", list(zip(names, hours, strict=True)), unit=" h"),
        bar_chart(
            "Median hours to first contact",
            [(n, round(r["median_contact_hours"] or 0, 1)) for n, r in zip(names, partners, strict=True)],
            unit=" h",
        ),
        bar_chart("Revenue won", [(n, float(r["revenue"])) for n, r in zip(names, partners, strict=True)]),
    ]


def _trend_charts(rows: Rows) -> list[Any]:
    label = [str(r["period"]) for r in rows]
    return [
        bar_chart("Offers", [(k, r["offers"]) for k, r in zip(label, rows, strict=True)]),
        bar_chart(
            "Acceptance rate",
            [(k, round(100 * (r["acceptance_rate"] or 0), 1)) for k, r in zip(label, rows, strict=True)],
            unit=" %",
        ),
        bar_chart(
            "Median hours to first contact",
            [(k, round(r["median_contact_hours"] or 0, 1)) for k, r in zip(label, rows, strict=True)],
            unit=" h",
        ),
        bar_chart("Revenue won", [(k, float(r["revenue"])) for k, r in zip(label, rows, strict=True)]),
    ]


def _charts(name: str, rows: Rows) -> list[Any]:
    if name in ("weekly", "monthly"):
        return _trend_charts(rows)
    if name == "quality":
        label = [str(r["campaign"] or "(none)") for r in rows]
        return [
            bar_chart(
                "Average lead rating (1–5)",
                [(k, round(r["average_rating"] or 0, 2)) for k, r in zip(label, rows, strict=True)],
            ),
            bar_chart(
                "Not a lead (share of offers)",
                [(k, round(100 * (r["not_a_lead_rate"] or 0), 1)) for k, r in zip(label, rows, strict=True)],
                unit=" %",
            ),
        ]
    if name == "campaigns":
        totals = [r for r in rows if r["partner_name"] == "all"]
        label = [str(r["campaign"] or "(none)") for r in totals]
        return [
            bar_chart("Revenue won", [(k, float(r["revenue"])) for k, r in zip(label, totals, strict=True)]),
            bar_chart("Cost", [(k, float(r["cost"])) for k, r in zip(label, totals, strict=True)]),
            bar_chart(
                "ROI",
                [(k, round(100 * (r["roi"] or 0), 1)) for k, r in zip(label, totals, strict=True)],
                unit=" %",
            ),
        ]
    key = "region" if name == "regions" else "product"
    return [
        bar_chart("Leads", [(str(r[key] or "(none)"), r["leads"]) for r in rows]),
        bar_chart("Revenue won", [(str(r[key] or "(none)"), float(r["revenue"])) for r in rows]),
    ]


# before the page route: "{name}" alone would take "partners.csv"
@cockpit_router.get("/reports/{name}.csv")
def report_csv(name: str, admin: CurrentAdmin, db: Db, flt: Filter) -> Response:
    return _csv(_rows(db, name, flt), f"{name}.csv")


@cockpit_router.get("/reports/{name}")
def report_page(request: Request, name: str, admin: CurrentAdmin, db: Db, flt: Filter) -> Response:
    if name not in TITLES:
        raise HTTPException(404, f"no report {name!r}")
    with db.transaction() as session:
        rows = REPORTS[name](session, flt)
    charts = _scorecard_charts(rows) if name == "partners" else _charts(name, rows)
    query = request.url.query
    context = {
        "admin": admin,
        "name": name,
        "title": TITLES[name],
        "titles": TITLES,
        "rows": rows,
        "columns": list(rows[0]) if rows else [],
        "charts": charts,
        "flt": flt,
        "csv_link": f"/cockpit/reports/{name}.csv" + (f"?{query}" if query else ""),
    }
    return Page(request).render("cockpit/report.html", context)


def lead_selection(
    state: Annotated[str | None, Query(max_length=20)] = None,
    partner: Annotated[str | None, Query(max_length=40)] = None,
    campaign: Annotated[str | None, Query(max_length=255)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    search: Annotated[str | None, Query(max_length=255)] = None,
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
) -> LeadSelection:
    return LeadSelection(
        states=(state,) if state else (),
        partner_id=partner or None,
        campaign=campaign or None,
        country=country or None,
        search=search or None,
        since=day_start(since),
        until=day_start(until),
    )


Selection = Annotated[LeadSelection, Depends(lead_selection)]


class _Lines(io.StringIO):
    """A text sink whose written chunks are taken as they come (a streamed CSV)."""

    def take(self) -> str:
        text = self.getvalue()
        self.seek(0)
        self.truncate()
        return text


def _csv_chunks(db: Database, selection: LeadSelection) -> Iterator[bytes]:
    sink = _Lines()
    with db.transaction() as session:
        items = stream_leads(session, selection)
        sink.write("\ufeff")  # Excel reads UTF-8 only with the byte order mark
        for number, chunk in enumerate(_batched(items, 500)):
            write_csv(chunk, sink, header=number == 0)
            yield sink.take().encode()


def _batched(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    yield batch


def _audit_export(db: Database, actor: str, file_format: str) -> None:
    """An export of identified leads is an admin action in the audit log (``core/privacy/audit.py``)."""
    with db.transaction() as session:
        audit_action(
            session, actor=actor, channel="cockpit", action="export_leads", detail={"format": file_format}
        )


@cockpit_router.get("/export/leads.csv")
def export_csv(admin: CurrentAdmin, db: Db, selection: Selection) -> Response:
    """The selected leads as CSV, sent as they are read."""
    _audit_export(db, admin.actor, "csv")
    headers = {"Content-Disposition": 'attachment; filename="leads.csv"'}
    return StreamingResponse(
        _csv_chunks(db, selection), media_type="text/csv; charset=utf-8", headers=headers
    )


@cockpit_router.get("/export/leads.xlsx")
def export_xlsx(admin: CurrentAdmin, db: Db, selection: Selection) -> Response:
    """The selected leads as an XLSX workbook (built in a temporary file, then sent)."""
    _audit_export(db, admin.actor, "xlsx")
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the stream
    with db.transaction() as session:
        write_xlsx(stream_leads(session, selection), spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    headers = {"Content-Disposition": 'attachment; filename="leads.xlsx"'}
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return StreamingResponse(chunks(), media_type=media, headers=headers)
