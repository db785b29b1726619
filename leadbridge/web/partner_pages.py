"""Cockpit pages to create, edit and pause partners and manage their inbox users.

Routes (admins; every POST CSRF-checked and audited as ``save_partner`` / ``pause_partner`` /
``resume_partner`` / ``invite_partner_user`` / ``remove_partner_user``):
- ``GET/POST /cockpit/partners/new`` and ``GET/POST /cockpit/partners/{id}/edit``: the profile
  (capacity, holidays, business hours, territory, product lines, certifications, contacts) through
  ``core/partner_form.py`` and ``PartnerRepository.upsert`` — the domain model the CLI and API use.
  A bad field re-shows the form with every problem named and every value typed kept (status 400);
  nothing is saved;
- ``POST /cockpit/partners/{id}/pause`` (``until`` YYYY-MM-DD) and ``/resume``;
- ``POST /cockpit/partners/{id}/users`` (invite) and ``/users/{user_id}/remove``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core.errors import ConflictError
from leadbridge.core.partner import Tier
from leadbridge.core.partner_form import FormError, form_from_partner, partner_from_form, paused_until_from
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.sync.performance_push import kick_partner, push_status
from leadbridge.web.accounts import AdminPrincipal
from leadbridge.web.deps import AppSettings, CsrfChecked, CurrentAdmin, Db, Page
from leadbridge.web.partner_users import invite_user, remove_user, users_of
from leadbridge.web.privacy import audit_action

router = APIRouter(prefix="/cockpit/partners", include_in_schema=False)

NOTICES = {
    "saved": "Partner saved.",
    "created": "Partner created.",
    "paused": "Partner paused.",
    "resumed": "Partner takes leads again.",
    "invited": "User invited: a sign-in link is on its way.",
    "removed": "User removed; their sessions ended.",
}


async def partner_form(request: Request) -> dict[str, str]:
    """The submitted partner form as strings (the CSRF token left out)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


PartnerForm = Annotated[dict[str, str], Depends(partner_form)]


def _render(
    request: Request,
    admin: AdminPrincipal,
    db: Database,
    *,
    partner_id: str | None,
    form: dict[str, str],
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    users, performance = [], None
    if partner_id is not None:
        with db.transaction() as session:
            users = users_of(session, partner_id)
            performance = push_status(session, partner_id)
    context: dict[str, Any] = {
        "admin": admin,
        "partner_id": partner_id,
        "form": form,
        "tiers": [tier.value for tier in Tier],
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "users": users,
        "performance": performance,
        "error": error,
        "notice": notice,
    }
    return Page(request).render("cockpit/partner_edit.html", context, status_code=status_code)


@router.get("/new")
def new_partner(request: Request, admin: CurrentAdmin, db: Db) -> Response:
    form = {"tier": "registered", "active": "on", "hours_timezone": "Europe/Berlin"}
    form.update({f"hours_{day}": "on" for day in ("mon", "tue", "wed", "thu", "fri")})
    return _render(request, admin, db, partner_id=None, form=form)


@router.post("/new", dependencies=[CsrfChecked])
def create_partner(request: Request, admin: CurrentAdmin, db: Db, form: PartnerForm) -> Response:
    try:
        partner = partner_from_form(form)
        with db.transaction() as session:
            repository = PartnerRepository(session)
            if partner.external_id and repository.by_external_id(partner.external_id) is not None:
                raise FormError([f"external id: {partner.external_id} belongs to another partner already"])
            stored, _ = repository.upsert(partner)
            audit_action(
                session, actor=admin.actor, channel="cockpit", action="save_partner",
                detail={"partner_id": stored.id, "created": True},
            )  # fmt: skip
    except FormError as error:
        return _render(request, admin, db, partner_id=None, form=form, error=str(error), status_code=400)
    return RedirectResponse(f"/cockpit/partners/{stored.id}/edit?done=created", status_code=303)


@router.get("/{partner_id}/edit")
def edit_partner(
    request: Request, partner_id: str, admin: CurrentAdmin, db: Db, done: str | None = None
) -> Response:
    with db.transaction() as session:
        partner = PartnerRepository(session).get(partner_id)
    form = form_from_partner(partner)
    return _render(request, admin, db, partner_id=partner_id, form=form, notice=NOTICES.get(done or ""))


@router.post("/{partner_id}/edit", dependencies=[CsrfChecked])
def save_partner(
    request: Request, partner_id: str, admin: CurrentAdmin, db: Db, settings: AppSettings, form: PartnerForm
) -> Response:
    try:
        # A FormError raised inside the transaction rolls it back: nothing of a bad form is stored.
        with db.transaction() as session:
            repository = PartnerRepository(session)
            partner = partner_from_form(form, base=repository.get(partner_id))
            other = repository.by_external_id(partner.external_id) if partner.external_id else None
            if other is not None and other.id != partner_id:
                raise FormError(
                    [f"external id: {partner.external_id} belongs to partner {other.id} ({other.name})"]
                )
            # ``upsert`` finds a partner by external id first; the check above keeps that this one.
            before = repository.get(partner_id).home_account_id
            repository.upsert(partner.model_copy(update={"id": partner_id}))
            if partner.home_account_id and partner.home_account_id != before:
                kick_partner(session, settings, partner_id)  # its figures reach the new account soon
            audit_action(
                session, actor=admin.actor, channel="cockpit", action="save_partner",
                detail={"partner_id": partner_id},
            )  # fmt: skip
    except FormError as error:
        return _render(
            request, admin, db, partner_id=partner_id, form=form, error=str(error), status_code=400
        )
    return RedirectResponse(f"/cockpit/partners/{partner_id}/edit?done=saved", status_code=303)


@router.post("/{partner_id}/pause", dependencies=[CsrfChecked])
def pause_partner(
    partner_id: str, admin: CurrentAdmin, db: Db, until: Annotated[str, Form()] = ""
) -> Response:
    problems: list[str] = []
    paused_until = paused_until_from(until, problems)
    if problems or paused_until is None:
        raise ValueError(problems[0] if problems else "paused until: give the day the pause ends")
    with db.transaction() as session:
        repository = PartnerRepository(session)
        partner = repository.get(partner_id)
        availability = partner.availability.model_copy(update={"paused_until": paused_until})
        repository.upsert(partner.model_copy(update={"availability": availability}))
        audit_action(
            session, actor=admin.actor, channel="cockpit", action="pause_partner",
            detail={"partner_id": partner_id, "until": paused_until.date().isoformat()},
        )  # fmt: skip
    return RedirectResponse(f"/cockpit/partners/{partner_id}/edit?done=paused", status_code=303)


@router.post("/{partner_id}/resume", dependencies=[CsrfChecked])
def resume_partner(partner_id: str, admin: CurrentAdmin, db: Db) -> Response:
    with db.transaction() as session:
        repository = PartnerRepository(session)
        partner = repository.get(partner_id)
        availability = partner.availability.model_copy(update={"paused_until": None})
        repository.upsert(partner.model_copy(update={"availability": availability}))
        audit_action(
            session,
            actor=admin.actor,
            channel="cockpit",
            action="resume_partner",
            detail={"partner_id": partner_id},
        )
    return RedirectResponse(f"/cockpit/partners/{partner_id}/edit?done=resumed", status_code=303)


@router.post("/{partner_id}/users", dependencies=[CsrfChecked])
def invite_partner_user(
    request: Request,
    partner_id: str,
    admin: CurrentAdmin,
    db: Db,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "en",
) -> Response:
    state = request.app.state
    with db.transaction() as session:
        PartnerRepository(session).get(partner_id)  # an unknown partner is a 404, not a conflict
    try:
        mail_error = invite_user(
            db, state.settings, state.mailer, partner_id, email, name=name, language=language
        )
    except (ValueError, ConflictError) as error:
        with db.transaction() as session:
            form = form_from_partner(PartnerRepository(session).get(partner_id))
        return _render(
            request, admin, db, partner_id=partner_id, form=form, error=f"user: {error}", status_code=400
        )
    with db.transaction() as session:
        audit_action(
            session, actor=admin.actor, channel="cockpit", action="invite_partner_user",
            detail={"partner_id": partner_id, "mail_failed": mail_error is not None},
        )  # fmt: skip
    return RedirectResponse(f"/cockpit/partners/{partner_id}/edit?done=invited", status_code=303)


@router.post("/{partner_id}/users/{user_id}/remove", dependencies=[CsrfChecked])
def remove_partner_user(partner_id: str, user_id: str, admin: CurrentAdmin, db: Db) -> Response:
    with db.transaction() as session:
        remove_user(session, partner_id, user_id)
        audit_action(
            session, actor=admin.actor, channel="cockpit", action="remove_partner_user",
            detail={"partner_id": partner_id, "user_id": user_id},
        )  # fmt: skip
    return RedirectResponse(f"/cockpit/partners/{partner_id}/edit?done=removed", status_code=303)
