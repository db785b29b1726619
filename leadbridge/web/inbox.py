"""The partner inbox pages (mobile first): offers, blind previews, held leads and their actions.

Every route takes ``CurrentPartner``; every lookup goes through the partner-scoped views and
``PartnerInbox`` (``connectors/inbox``), so another partner's ids are 404 everywhere. Every POST is
CSRF-checked and answers with a redirect (post/redirect/get), carrying a ``done`` notice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy import update
from starlette.responses import Response

from leadbridge.connectors.inbox import PartnerInbox
from leadbridge.connectors.inbox.inputs import (
    ContactInput,
    DeclineInput,
    LoseInput,
    NoteInput,
    RatingInput,
    ReturnInput,
    StatusInput,
    WinInput,
)
from leadbridge.connectors.inbox.views import held_lead_detail, held_leads, offer_preview, open_offers
from leadbridge.core.errors import NotFound
from leadbridge.core.model import LeadEvent
from leadbridge.core.reasons import ReasonCatalog, ReasonKind
from leadbridge.core.store.web_tables import PartnerUserRow
from leadbridge.notify.i18n import LANGUAGES
from leadbridge.web.deps import AppSettings, CsrfChecked, CurrentPartner, Db, Page, set_cookie
from leadbridge.web.privacy import audit_list_view, audit_view

router = APIRouter(prefix="/inbox", include_in_schema=False)
REASONS = ReasonCatalog()


async def form_data(request: Request) -> dict[str, str]:
    """The submitted form as plain strings, without empty fields and the CSRF/request ids."""
    form = await request.form()
    skip = {"csrf_token", "request_id"}
    return {k: v for k, v in form.items() if isinstance(v, str) and v.strip() and k not in skip}


async def request_id(request: Request) -> str | None:
    value = (await request.form()).get("request_id")
    return value if isinstance(value, str) and value else None


FormData = Annotated[dict[str, str], Depends(form_data)]
RequestId = Annotated[str | None, Depends(request_id)]


def _reasons(kind: ReasonKind, language: str) -> list[tuple[str, str]]:
    return [(code, REASONS.label(code, language)) for code in REASONS.codes(kind)]


@router.get("")
def home(request: Request, partner: CurrentPartner, db: Db, done: str | None = None) -> Response:
    with db.transaction() as session:
        offers = open_offers(session, partner.partner_id)
        leads = held_leads(session, partner.partner_id)
        shown = [(line.lead_id, line.state) for line in leads if line.identified]
        audit_list_view(session, actor=partner.actor, channel="inbox", shown=shown, via="inbox:leads")
    context = {"partner": partner, "offers": offers, "leads": leads, "done": done}
    return Page(request).render("inbox/home.html", context, language=partner.language)


@router.get("/offers/{offer_id}")
def offer(
    request: Request, offer_id: str, partner: CurrentPartner, db: Db, do: str | None = None
) -> Response:
    with db.transaction() as session:
        preview = offer_preview(session, offer_id, partner.partner_id, partner.actor)
    context = {
        "partner": partner,
        "preview": preview,
        "intent": do,
        "decline_reasons": _reasons(ReasonKind.DECLINE, partner.language),
    }
    return Page(request).render("inbox/offer.html", context, language=partner.language)


@router.post("/offers/{offer_id}/accept", dependencies=[CsrfChecked])
def accept(request: Request, offer_id: str, partner: CurrentPartner, db: Db) -> Response:
    policy = request.app.state.policy  # pool listings are claimed under the pool's rules
    with db.transaction() as session:
        event = PartnerInbox(session, partner.partner_id, partner.actor).accept(offer_id, policy=policy)
    return RedirectResponse(f"/inbox/leads/{event.lead_id}?done=accepted", status_code=303)


@router.post("/offers/{offer_id}/decline", dependencies=[CsrfChecked])
def decline(offer_id: str, partner: CurrentPartner, db: Db, form: FormData) -> Response:
    data = DeclineInput.model_validate(form)
    with db.transaction() as session:
        PartnerInbox(session, partner.partner_id, partner.actor).decline(offer_id, data)
    return RedirectResponse("/inbox?done=declined", status_code=303)


@router.get("/leads/{lead_id}")
def lead(
    request: Request, lead_id: str, partner: CurrentPartner, db: Db, done: str | None = None
) -> Response:
    with db.transaction() as session:
        detail = held_lead_detail(session, lead_id, partner.partner_id, partner.actor)
        audit_view(session, actor=partner.actor, channel="inbox", lead_id=lead_id, state=detail.state)
    context = {
        "partner": partner,
        "detail": detail,
        "done": done,
        "lost_reasons": _reasons(ReasonKind.LOST, partner.language),
        "return_reasons": _reasons(ReasonKind.RETURN, partner.language),
    }
    return Page(request).render("inbox/lead.html", context, language=partner.language)


# action name -> (input model, PartnerInbox method, notice shown afterwards)
LeadAction = Callable[[PartnerInbox, str, Any, str | None], LeadEvent]
LEAD_ACTIONS: dict[str, tuple[type[BaseModel], LeadAction, str]] = {
    "status": (StatusInput, PartnerInbox.update_status, "saved"),
    "contact": (ContactInput, PartnerInbox.log_contact, "saved"),
    "note": (NoteInput, PartnerInbox.add_note, "saved"),
    "win": (WinInput, PartnerInbox.win, "saved"),
    "lose": (LoseInput, PartnerInbox.lose, "saved"),
    "return": (ReturnInput, PartnerInbox.return_lead, "returned"),
    "rate": (RatingInput, PartnerInbox.rate, "saved"),
}


@router.post("/leads/{lead_id}/{action}", dependencies=[CsrfChecked])
def lead_action(
    lead_id: str, action: str, partner: CurrentPartner, db: Db, form: FormData, rid: RequestId
) -> Response:
    """Status, contact attempt, note, win, loss, return or rating on a held lead."""
    if action not in LEAD_ACTIONS:
        raise NotFound(f"no action {action!r}")
    model, perform, notice = LEAD_ACTIONS[action]
    if model is ContactInput:
        form = {**form, "reached": "true" if form.get("reached") else "false"}
    data = model.model_validate(form)
    with db.transaction() as session:
        perform(PartnerInbox(session, partner.partner_id, partner.actor), lead_id, data, rid)
    target = "/inbox" if action == "return" else f"/inbox/leads/{lead_id}"
    return RedirectResponse(f"{target}?done={notice}", status_code=303)


@router.post("/language", dependencies=[CsrfChecked])
def language(partner: CurrentPartner, db: Db, settings: AppSettings, form: FormData) -> Response:
    """The partner user's language for pages and mails (German or English)."""
    chosen = form.get("language", "en")
    if chosen not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    if partner.user_id is not None:
        with db.transaction() as session:
            session.execute(
                update(PartnerUserRow).where(PartnerUserRow.id == partner.user_id).values(language=chosen)
            )
    back = form.get("back", "/inbox")
    response = RedirectResponse(back if back.startswith("/inbox") else "/inbox", status_code=303)
    set_cookie(response, settings, "lb_lang", chosen, max_age=365 * 86400)
    return response
