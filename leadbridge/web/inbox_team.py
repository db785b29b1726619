"""Partner self-service in the inbox: a partner's users invite and remove colleagues of their own
company (pause, holidays and capacity are on ``/inbox/availability``, ``web/inbox_settings.py``).

Routes (a signed-in partner user; every POST CSRF-checked and audited with the partner's actor):
- ``GET /inbox/team``: the company's users (removed ones marked) and the invitation form;
- ``POST /inbox/team/users`` invites a colleague (a sign-in link by mail);
- ``POST /inbox/team/users/{id}/remove`` removes one and ends their sessions.
Only users of the partner's own company (``web/partner_users.py``): another partner's user id is a
404, another partner's address is refused without naming that partner, and nobody removes itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core.errors import ConflictError
from leadbridge.core.store.database import Database
from leadbridge.web.accounts import PartnerPrincipal
from leadbridge.web.deps import CsrfChecked, CurrentPartner, Db, Page
from leadbridge.web.partner_users import invite_user, remove_user, users_of
from leadbridge.web.privacy import audit_action

router = APIRouter(prefix="/inbox/team", include_in_schema=False)


def _render(
    request: Request,
    partner: PartnerPrincipal,
    db: Database,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    with db.transaction() as session:
        users = users_of(session, partner.partner_id)
    context: dict[str, Any] = {"partner": partner, "users": users, "error": error, "done": done}
    return Page(request).render(
        "inbox/team.html", context, language=partner.language, status_code=status_code
    )


@router.get("")
def team_page(request: Request, partner: CurrentPartner, db: Db, done: str | None = None) -> Response:
    return _render(request, partner, db, done=done)


@router.post("/users", dependencies=[CsrfChecked])
def invite_colleague(
    request: Request,
    partner: CurrentPartner,
    db: Db,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "de",
) -> Response:
    state = request.app.state
    try:
        invite_user(db, state.settings, state.mailer, partner.partner_id, email, name=name, language=language)
    except (ValueError, ConflictError) as error:
        # Another partner's address reads like any refusal: which company a person works for stays private.
        message = str(error) if isinstance(error, ValueError) else f"{email.strip()} cannot be invited here"
        return _render(request, partner, db, error=message, status_code=400)
    with db.transaction() as session:
        audit_action(
            session, actor=partner.actor, channel="inbox", action="invite_partner_user",
            detail={"partner_id": partner.partner_id},
        )  # fmt: skip
    return RedirectResponse("/inbox/team?done=invited", status_code=303)


@router.post("/users/{user_id}/remove", dependencies=[CsrfChecked])
def remove_colleague(user_id: str, partner: CurrentPartner, db: Db) -> Response:
    with db.transaction() as session:
        remove_user(session, partner.partner_id, user_id, acting_user=partner.user_id)
        audit_action(
            session, actor=partner.actor, channel="inbox", action="remove_partner_user",
            detail={"partner_id": partner.partner_id, "user_id": user_id},
        )  # fmt: skip
    return RedirectResponse("/inbox/team?done=removed", status_code=303)
