"""The partner inbox's pool pages (mobile first): the pool, cherry-pick claims and "next lead".

Every route takes ``CurrentPartner`` and works through ``PartnerPool`` (``core/pool.py``), so a
partner only ever sees its own pool, blind. POSTs are CSRF-checked; a claim or pull that works
redirects to the claimed lead (post/redirect/get); one that cannot (taken by another partner, the
pool empty, a limit reached) shows the pool again with the reason, as 409 or 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core.errors import ConflictError, NotFound
from leadbridge.core.policy import PoolClaim
from leadbridge.core.pool import PartnerPool
from leadbridge.web.accounts import PartnerPrincipal
from leadbridge.web.deps import CsrfChecked, CurrentPartner, Db, Page
from leadbridge.web.pool_api import policy_of

router = APIRouter(prefix="/inbox/pool", include_in_schema=False)
PAGE_ITEMS = 50  # a phone shows the best 50; "next lead" reaches past them


def _page(
    request: Request, partner: PartnerPrincipal, db: Db, *, problem: str | None = None, status: int = 200
) -> Response:
    with db.transaction() as session:
        pool = PartnerPool(session, partner.partner_id, partner.actor, policy_of(request))
        items, limits = pool.items(PAGE_ITEMS), pool.limits()
    claim = pool.policy.distribution.pool.claim
    context = {
        "partner": partner,
        "items": items,
        "limits": limits,
        "can_pick": claim is not PoolClaim.BLIND_PULL and not limits.read_only,
        "can_pull": claim is not PoolClaim.CHERRY_PICK and not limits.read_only,
        "pull_only": claim is PoolClaim.BLIND_PULL,
        "problem": problem,
        "done": request.query_params.get("done"),
    }
    return Page(request).render("inbox/pool.html", context, language=partner.language, status_code=status)


@router.get("")
def pool(request: Request, partner: CurrentPartner, db: Db) -> Response:
    return _page(request, partner, db)


@router.post("/pull", dependencies=[CsrfChecked])
def pull(request: Request, partner: CurrentPartner, db: Db) -> Response:
    try:
        with db.transaction() as session:
            event = PartnerPool(session, partner.partner_id, partner.actor, policy_of(request)).pull()
    except NotFound as error:
        return _page(request, partner, db, problem=str(error), status=404)
    except ConflictError as error:
        return _page(request, partner, db, problem=str(error), status=409)
    return RedirectResponse(f"/inbox/leads/{event.lead_id}?done=claimed", status_code=303)


@router.post("/{lead_id}/claim", dependencies=[CsrfChecked])
def claim(request: Request, lead_id: str, partner: CurrentPartner, db: Db) -> Response:
    try:
        with db.transaction() as session:
            PartnerPool(session, partner.partner_id, partner.actor, policy_of(request)).claim(lead_id)
    except ConflictError as error:
        return _page(request, partner, db, problem=str(error), status=409)
    return RedirectResponse(f"/inbox/leads/{lead_id}?done=claimed", status_code=303)
