"""Privacy in the web app: erasure and subject access (REST API and cockpit), the audit log page.

Routes (admins only):
- ``POST /api/v1/leads/{id}/erase`` (``{"reason": …}``) and the cockpit's *Erase* button (with a
  confirmation) erase a lead here and queue its erasure at every recipient (``sync/erasure.py``);
- ``POST /api/v1/subjects/export`` (``{"email": …}``; the address travels in the body, never in a
  URL that access logs keep) returns everything held about the person (``sync/subject.py``);
- ``POST /api/v1/leads/{id}/consent`` (``{"scope": {"share": …}}``) and the cockpit's *Withdraw
  consent* change the lead's consent scope (``core/privacy/withdrawal.py``);
- ``GET /api/v1/audit``, ``/cockpit/audit`` and ``/cockpit/audit.csv`` read the audit log;
- the cockpit's *Split and route* and *Merge* (and ``POST /api/v1/leads/{id}/merge``, ``{"into": …}``)
  undo or make a duplicate by hand (``core/dedup.py``).
Every erasure and export is audited; ``audit_view`` is the one call other routes make when they show
an identified lead, ``audit_list_view`` when they list identified leads, ``audit_action`` for any
other admin action (re-route, assign, retry dead letters, partner saved, leads exported).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadbridge.core.dedup import merge_duplicate, split_duplicate
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import utcnow
from leadbridge.core.privacy import audit
from leadbridge.core.privacy.consent import ConsentScope
from leadbridge.core.privacy.withdrawal import set_scope
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sync.erasure import ErasureReport, erase
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.subject import export_subject
from leadbridge.web.deps import AppSettings, CsrfChecked, CurrentAdmin, Db, Page, current_admin
from leadbridge.web.edge import EdgeCheckedRoute
from leadbridge.web.errors import API_ERROR_RESPONSES

api_router = APIRouter(
    prefix="/api/v1",
    tags=["privacy"],
    dependencies=[Depends(current_admin)],
    route_class=EdgeCheckedRoute,
    responses=API_ERROR_RESPONSES,
)
cockpit_router = APIRouter(prefix="/cockpit", include_in_schema=False)
ROUTERS = (api_router, cockpit_router)


def audit_action(
    session: Session,
    *,
    actor: str,
    channel: str,
    action: str,
    lead_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Log one admin action now (codes and ids only in ``detail``)."""
    audit.record(
        session, actor=actor, channel=channel, action=action, at=utcnow(), lead_id=lead_id, detail=detail
    )


def audit_list_view(
    session: Session, *, actor: str, channel: str, shown: Iterable[tuple[str, str]], via: str
) -> None:
    """Log that ``actor`` was shown the identified leads among ``shown`` (lead id, state) in a list."""
    ids = [lead_id for lead_id, state in shown if state != LeadState.ERASED.value]
    audit.record_views(session, actor=actor, channel=channel, lead_ids=ids, at=utcnow(), via=via)


def audit_view(session: Session, *, actor: str, channel: str, lead_id: str, state: str | None = None) -> None:
    """Log that ``actor`` was shown lead ``lead_id`` with its identity (not for an erased lead).
    A caller that read the lead's ``state`` already passes it (one query fewer)."""
    if state is None:
        row = session.get(LeadRow, lead_id)
        state = row.state if row is not None else LeadState.ERASED.value
    if state != LeadState.ERASED.value:
        audit.record(session, actor=actor, channel=channel, action="view_lead", at=utcnow(), lead_id=lead_id)


class EraseIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="why; write no personal data here")


class ExportIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class AuditOut(BaseModel):
    at: str
    actor: str
    channel: str
    action: str
    lead_id: str | None
    subject_ref: str | None
    detail: dict[str, Any]


def _erase(
    request: Request, db: Database, lead_id: str, actor: str, reason: str | None, channel: str
) -> ErasureReport:
    settings = request.app.state.settings
    rules = request.app.state.policy.privacy.erasure
    return erase(
        db,
        lead_id,
        actor=actor,
        reason=reason,
        rules=rules,
        targets=SyncTargets.from_settings(settings),
        now=utcnow(),
        channel=channel,
    )


@api_router.post("/leads/{lead_id}/erase")
def erase_lead(request: Request, lead_id: str, data: EraseIn, db: Db, admin: CurrentAdmin) -> dict[str, Any]:
    """Erase the lead's personal data (Art. 17); the report lists every recipient told."""
    return _erase(request, db, lead_id, admin.actor, data.reason, "api").as_dict()


@api_router.post("/subjects/export")
def export(data: ExportIn, db: Db, admin: CurrentAdmin) -> dict[str, Any]:
    """Everything held about one person (Art. 15)."""
    with db.transaction() as session:
        found = export_subject(session, data.email)
        audit.record(
            session,
            actor=admin.actor,
            channel="api",
            action="export_subject",
            at=utcnow(),
            subject=data.email,
            detail={"leads": len(found["leads"])},
        )
    return found


@api_router.get("/audit", response_model=list[AuditOut])
def audit_log(db: Db, lead_id: str | None = None, limit: int = 500) -> list[AuditOut]:
    with db.transaction() as session:
        rows = audit.entries(session, lead_id=lead_id, limit=min(limit, 5000))
        return [_out(row) for row in rows]


def _out(row: audit.AuditRow) -> AuditOut:
    return AuditOut(
        at=row.at.isoformat(),
        actor=row.actor,
        channel=row.channel,
        action=row.action,
        lead_id=row.lead_id,
        subject_ref=row.subject_ref,
        detail=row.detail,
    )


@cockpit_router.post("/leads/{lead_id}/erase", dependencies=[CsrfChecked])
def cockpit_erase(
    request: Request, lead_id: str, admin: CurrentAdmin, db: Db, reason: Annotated[str, Form()] = ""
) -> Response:
    _erase(request, db, lead_id, admin.actor, reason.strip() or None, "cockpit")
    return RedirectResponse(f"/cockpit/leads/{lead_id}?done=erased", status_code=303)


@cockpit_router.get("/audit")
def audit_page(request: Request, admin: CurrentAdmin, db: Db, lead_id: str | None = None) -> Response:
    with db.transaction() as session:
        rows = [_out(row) for row in audit.entries(session, lead_id=lead_id, limit=500)]
    return Page(request).render("cockpit/audit.html", {"admin": admin, "rows": rows, "lead_id": lead_id})


@cockpit_router.get("/audit.csv")
def audit_csv(admin: CurrentAdmin, db: Db, settings: AppSettings) -> Response:
    with db.transaction() as session:
        text = audit.as_csv(audit.entries(session, limit=100_000))
    headers = {"Content-Disposition": 'attachment; filename="leadbridge-audit.csv"'}
    return PlainTextResponse(text, media_type="text/csv", headers=headers)


class ConsentIn(BaseModel):
    """The lead's new consent scope (``share``: any, classes, partners or none)."""

    scope: ConsentScope


@api_router.post("/leads/{lead_id}/consent")
def consent(request: Request, lead_id: str, data: ConsentIn, db: Db, admin: CurrentAdmin) -> dict[str, Any]:
    """Replace the lead's consent scope; a narrower one withdraws it from partners it no longer covers."""
    gone = _consent(request, db, lead_id, data.scope, admin.actor, "api")
    return {"lead_id": lead_id, "scope": data.scope.describe(), "withdrawn_from": gone}


@cockpit_router.post("/leads/{lead_id}/consent/withdraw", dependencies=[CsrfChecked])
def cockpit_withdraw(request: Request, lead_id: str, admin: CurrentAdmin, db: Db) -> Response:
    _consent(request, db, lead_id, ConsentScope(share="none"), admin.actor, "cockpit")
    return RedirectResponse(f"/cockpit/leads/{lead_id}?done=consent+withdrawn", status_code=303)


def _consent(
    request: Request, db: Database, lead_id: str, scope: ConsentScope, actor: str, channel: str
) -> list[str]:
    how = request.app.state.policy.privacy.consent_withdrawal
    now = utcnow()
    with db.transaction() as session:
        gone = set_scope(session, lead_id, scope, actor=actor, how=how, now=now)
        detail = {"scope": scope.share, "withdrawn_from": len(gone)}
        audit.record(
            session, actor=actor, channel=channel, action="consent", at=now, lead_id=lead_id, detail=detail
        )
    return gone


@cockpit_router.post("/leads/{lead_id}/split", dependencies=[CsrfChecked])
def cockpit_split(lead_id: str, admin: CurrentAdmin, db: Db) -> Response:
    """Not a duplicate after all: the lead is qualified again and routed (``core/dedup.py``)."""
    now = utcnow()
    with db.transaction() as session:
        original = split_duplicate(session, lead_id, actor=admin.actor, now=now)
        detail = {"duplicate_of": original}
        audit.record(
            session,
            actor=admin.actor,
            channel="cockpit",
            action="split",
            at=now,
            lead_id=lead_id,
            detail=detail,
        )
    return RedirectResponse(f"/cockpit/leads/{lead_id}?done=split", status_code=303)


class MergeIn(BaseModel):
    """The lead this one duplicates (the same person)."""

    into: str = Field(min_length=1, max_length=40)


def _merge(db: Database, lead_id: str, into: str, actor: str, channel: str) -> None:
    now = utcnow()
    with db.transaction() as session:
        merge_duplicate(session, lead_id, into, actor=actor, now=now)
        detail = {"duplicate_of": into}
        audit.record(
            session, actor=actor, channel=channel, action="merge", at=now, lead_id=lead_id, detail=detail
        )


@api_router.post("/leads/{lead_id}/merge")
def merge(lead_id: str, data: MergeIn, db: Db, admin: CurrentAdmin) -> dict[str, Any]:
    """Merge the lead into ``into`` (the same person): it is attached to that lead, not routed."""
    _merge(db, lead_id, data.into.strip(), admin.actor, "api")
    return {"lead_id": lead_id, "state": LeadState.REJECTED.value, "duplicate_of": data.into.strip()}


@cockpit_router.post("/leads/{lead_id}/merge", dependencies=[CsrfChecked])
def cockpit_merge(lead_id: str, admin: CurrentAdmin, db: Db, into: Annotated[str, Form()]) -> Response:
    """The same person as ``into``: attached to it, not routed (``core/dedup.py``)."""
    _merge(db, lead_id, into.strip(), admin.actor, "cockpit")
    return RedirectResponse(f"/cockpit/leads/{lead_id}?done=merged", status_code=303)
