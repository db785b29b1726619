"""Signing in and out: partner magic links, one-tap offer links, admin passwords.

Rules: requesting a magic link answers the same whether or not the address is known (no account
probing) and is rate-limited per address and per client; opening a magic link shows a button (mail
scanners prefetch links) and the POST redeems it once; admin login is rate-limited per client and
per address; sign-out ends the session server-side.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.model import utcnow
from leadbridge.notify.links import OfferLink, read_offer_link
from leadbridge.notify.messages import Recipient, signin_mail
from leadbridge.web.accounts import active_partner_user, authenticate_admin, partner_user_by_email
from leadbridge.web.deps import ADMIN_COOKIE, PARTNER_COOKIE, AppSettings, CsrfChecked, Db, Page, set_cookie
from leadbridge.web.sessions import (
    SESSION_TTL,
    LinkProblem,
    LinkRefused,
    allow_attempt,
    claim_link_signin,
    end_session,
    issue_magic_link,
    partner_of_session,
    redeem_magic_link,
    start_session,
)

log = logging.getLogger("leadbridge.web.auth")
router = APIRouter(include_in_schema=False)

MAGIC_PER_ADDRESS = (3, timedelta(minutes=15))
MAGIC_PER_CLIENT = (10, timedelta(minutes=15))
LOGIN_PER_CLIENT = (10, timedelta(minutes=5))
LOGIN_PER_ADDRESS = (5, timedelta(minutes=5))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _lang(request: Request) -> str:
    return request.cookies.get("lb_lang", "en")


def _signed_in(response: Response, settings: AppSettings, cookie: str, token: str, kind: str) -> Response:
    set_cookie(response, settings, cookie, token, max_age=int(SESSION_TTL[kind].total_seconds()))
    return response


@router.get("/inbox/signin")
def signin_form(request: Request) -> Response:
    return Page(request).render("inbox/signin.html", {"sent": False}, language=_lang(request))


@router.post("/inbox/signin", dependencies=[CsrfChecked])
def request_link(request: Request, db: Db, settings: AppSettings, email: Annotated[str, Form()]) -> Response:
    """E-mail a magic link to a known, active partner user; the answer never says which it was."""
    address = email.strip().lower()
    with db.transaction() as session:
        allowed = allow_attempt(
            session, f"magic:client:{_client(request)}", limit=MAGIC_PER_CLIENT[0], window=MAGIC_PER_CLIENT[1]
        )
        allowed = allowed and allow_attempt(
            session, f"magic:address:{address}", limit=MAGIC_PER_ADDRESS[0], window=MAGIC_PER_ADDRESS[1]
        )
    if not allowed:
        raise HTTPException(429)
    with db.transaction() as session:
        user = partner_user_by_email(session, address)
        user = active_partner_user(session, user.id) if user else None
        mail = None
        if user is not None:
            token = issue_magic_link(session, user)
            url = f"{settings.public_url.rstrip('/')}/inbox/signin/{token}"
            mail = signin_mail(Recipient(user.email, user.language, user.id), url)
    if mail is not None:
        try:
            request.app.state.mailer.send_many([mail])
        except LeadbridgeError as error:
            log.error("sign-in mail to partner user could not be sent: %s", error)
            raise HTTPException(503, "mail could not be sent") from error
    return Page(request).render("inbox/signin.html", {"sent": True}, language=_lang(request))


@router.get("/inbox/signin/{token}")
def confirm_link(request: Request, token: str) -> Response:
    action = f"/inbox/signin/{token}"
    return Page(request).render("inbox/confirm.html", {"action": action}, language=_lang(request))


@router.post("/inbox/signin/{token}", dependencies=[CsrfChecked])
def redeem_link(request: Request, token: str, db: Db, settings: AppSettings) -> Response:
    try:
        with db.transaction() as session:
            user, next_path = redeem_magic_link(session, token)
            raw = start_session(session, "partner", user.id)
            language = user.language
    except LinkRefused as refused:
        status = 410 if refused.problem in (LinkProblem.EXPIRED, LinkProblem.USED) else 404
        return Page(request).render(
            "inbox/signin.html",
            {"sent": False, "problem": f"link_{refused.problem.value}"},
            language=_lang(request),
            status_code=status,
        )
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(response, settings, "lb_lang", language, max_age=365 * 86400)
    return _signed_in(response, settings, PARTNER_COOKIE, raw, "partner")


def _link_problem(request: Request, problem: str, status: int) -> Response:
    return Page(request).render(
        "inbox/signin.html", {"sent": False, "problem": problem}, language=_lang(request), status_code=status
    )


def _offer_target(link: OfferLink) -> str:
    return f"/inbox/offers/{link.offer_id}" + (f"?do={link.action}" if link.action != "view" else "")


@router.get("/inbox/o/{token}")
def offer_link(request: Request, token: str, db: Db, settings: AppSettings) -> Response:
    """A one-tap link from an offer mail: open the offer, action pre-selected.

    It decides nothing by itself. A browser signed in as the link's user goes straight to the offer;
    one signed in as somebody else is never switched silently (409, sign out first); otherwise a
    page with a button signs in — by POST, so a mail scanner's prefetch uses up nothing.
    """
    link = read_offer_link(settings.signing_key(), token, now=utcnow())
    if link is None:
        return _link_problem(request, "link_expired", 410)
    with db.transaction() as session:
        current = partner_of_session(session, request.cookies.get(PARTNER_COOKIE))
    if current is not None:
        if current.user_id == link.user_id:
            return RedirectResponse(_offer_target(link), status_code=303)
        return _link_problem(request, "link_other_account", 409)
    return Page(request).render(
        "inbox/confirm.html", {"action": f"/inbox/o/{token}"}, language=_lang(request)
    )


@router.post("/inbox/o/{token}", dependencies=[CsrfChecked])
def offer_link_signin(request: Request, token: str, db: Db, settings: AppSettings) -> Response:
    """Sign in from a one-tap link: once per link; the user must still be active (module rules)."""
    link = read_offer_link(settings.signing_key(), token, now=utcnow())
    if link is None:
        return _link_problem(request, "link_expired", 410)
    target = _offer_target(link)
    with db.transaction() as session:
        current = partner_of_session(session, request.cookies.get(PARTNER_COOKIE))
        if current is not None:
            if current.user_id == link.user_id:
                return RedirectResponse(target, status_code=303)
            return _link_problem(request, "link_other_account", 409)
        user = active_partner_user(session, link.user_id)
        if user is None:
            return _link_problem(request, "link_revoked", 403)
        if not claim_link_signin(session, user.id, link.nonce, target, link.expires_at):
            return _link_problem(request, "link_signin_used", 410)
        raw = start_session(session, "partner", user.id)
        language = user.language
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, settings, "lb_lang", language, max_age=365 * 86400)
    return _signed_in(response, settings, PARTNER_COOKIE, raw, "partner")


@router.post("/inbox/signout", dependencies=[CsrfChecked])
def signout(request: Request, db: Db) -> Response:
    with db.transaction() as session:
        end_session(session, request.cookies.get(PARTNER_COOKIE))
    response = RedirectResponse("/inbox/signin", status_code=303)
    response.delete_cookie(PARTNER_COOKIE, path="/")
    return response


@router.get("/cockpit/login")
def login_form(request: Request) -> Response:
    return Page(request).render("cockpit/login.html", {"failed": False})


@router.post("/cockpit/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    db: Db,
    settings: AppSettings,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    address = email.strip().lower()
    with db.transaction() as session:
        allowed = allow_attempt(
            session, f"login:client:{_client(request)}", limit=LOGIN_PER_CLIENT[0], window=LOGIN_PER_CLIENT[1]
        )
        allowed = allowed and allow_attempt(
            session, f"login:address:{address}", limit=LOGIN_PER_ADDRESS[0], window=LOGIN_PER_ADDRESS[1]
        )
    if not allowed:
        raise HTTPException(429)
    with db.transaction() as session:
        admin = authenticate_admin(session, address, password)
        raw = start_session(session, "admin", admin.id) if admin else None
    if raw is None:
        log.warning("failed admin login for %s from %s", address, _client(request))
        return Page(request).render("cockpit/login.html", {"failed": True}, status_code=401)
    return _signed_in(RedirectResponse("/cockpit", status_code=303), settings, ADMIN_COOKIE, raw, "admin")


@router.post("/cockpit/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: Db) -> Response:
    with db.transaction() as session:
        end_session(session, request.cookies.get(ADMIN_COOKIE))
    response = RedirectResponse("/cockpit/login", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response
