"""Signing in and out: partner magic links, one-tap offer links, admin passwords.

Rules: requesting a magic link answers the same, equally fast, whether or not the address is known
and whether or not mail can be sent (the mail goes out after the response); opening a magic link
shows a button (mail scanners prefetch links) and the POST redeems it once; an unknown admin address
costs the same one password check as a known one; both are throttled per client and address with an
exponential delay (``sessions.throttle_wait``) — never a lock-out an attacker could hold — plus a
ceiling per client; the client is the peer or, behind a trusted proxy, the forwarded address
(``clients.py``); sign-out ends the session server-side.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.notify.links import OfferLink, read_offer_link
from leadbridge.notify.mailer import Mailer
from leadbridge.notify.messages import Recipient, signin_mail
from leadbridge.web.accounts import active_partner_user, authenticate_admin, partner_user_by_email
from leadbridge.web.clients import client_address
from leadbridge.web.deps import (
    ADMIN_COOKIE,
    PARTNER_COOKIE,
    AppSettings,
    CsrfChecked,
    Db,
    Page,
    get_settings,
    set_cookie,
)
from leadbridge.web.security import token_hash
from leadbridge.web.sessions import (
    SESSION_TTL,
    LinkProblem,
    LinkRefused,
    Throttle,
    allow_attempt,
    claim_link_signin,
    clear_hits,
    end_session,
    issue_magic_link,
    partner_of_session,
    record_hit,
    redeem_magic_link,
    start_session,
    throttle_wait,
)

log = logging.getLogger("leadbridge.web.auth")
router = APIRouter(include_in_schema=False)

# One client and one address: 3 free tries, then 1 s, 2 s, 4 s … between tries, at most 15 minutes.
THROTTLE = Throttle(free=3, window=timedelta(hours=1), cap=timedelta(minutes=15))


def _now(request: Request) -> datetime:
    """The runtime's clock: throttling delays are measured on it (a test freezes it)."""
    clock: Callable[[], datetime] = request.app.state.runtime.clock
    return clock()


MAGIC_PER_CLIENT = (20, timedelta(minutes=15))  # across addresses: slows one client spraying many
LOGIN_PER_CLIENT = (30, timedelta(minutes=5))


def _client(request: Request) -> str:
    return client_address(request, get_settings(request))


def _bucket(kind: str, request: Request, address: str) -> str:
    # The address is hashed: rate-limit rows need no personal data.
    return f"{kind}:{_client(request)}:{token_hash(address)[:32]}"


def _too_many(wait: float) -> HTTPException:
    return HTTPException(429, headers={"Retry-After": str(max(1, math.ceil(wait)))})


def _lang(request: Request) -> str:
    return request.cookies.get("lb_lang", "en")


def _signed_in(response: Response, settings: AppSettings, cookie: str, token: str, kind: str) -> Response:
    set_cookie(response, settings, cookie, token, max_age=int(SESSION_TTL[kind].total_seconds()))
    return response


@router.get("/inbox/signin")
def signin_form(request: Request) -> Response:
    return Page(request).render("inbox/signin.html", {"sent": False}, language=_lang(request))


@router.post("/inbox/signin", dependencies=[CsrfChecked])
def request_link(
    request: Request, db: Db, settings: AppSettings, tasks: BackgroundTasks, email: Annotated[str, Form()]
) -> Response:
    """Mail a magic link to a known, active partner user. The answer is the same page at the same
    speed for every address — known or not, SMTP up or down — since looking the user up and
    mailing happen after the response (``_mail_signin_link``)."""
    address = email.strip().lower()[:320]
    bucket = _bucket("magic", request, address)
    now = _now(request)
    with db.transaction() as session:
        wait = throttle_wait(session, bucket, THROTTLE, now=now)
        if wait == 0 and not allow_attempt(
            session, f"magic:client:{_client(request)}", limit=MAGIC_PER_CLIENT[0], window=MAGIC_PER_CLIENT[1]
        ):
            wait = MAGIC_PER_CLIENT[1].total_seconds()
        if wait == 0:
            record_hit(session, bucket, now=now)
    if wait > 0:
        raise _too_many(wait)
    tasks.add_task(_mail_signin_link, db, settings, request.app.state.mailer, address)
    return Page(request).render("inbox/signin.html", {"sent": True}, language=_lang(request))


def _mail_signin_link(db: Database, settings: Settings, mailer: Mailer, address: str) -> None:
    """After the response: issue and mail a link if ``address`` is an active partner user."""
    try:
        with db.transaction() as session:
            user = partner_user_by_email(session, address)
            user = active_partner_user(session, user.id) if user else None
            if user is None:
                return
            token = issue_magic_link(session, user)
            url = f"{settings.public_url.rstrip('/')}/inbox/signin/{token}"
            mail = signin_mail(Recipient(user.email, user.language, user.id), url)
        mailer.send_many([mail])
    except Exception as error:  # after the response nobody is waiting: log it, the person asks again
        log.error("sign-in mail could not be sent: %s", error)


@router.get("/inbox/signin/{token}")
def confirm_link(request: Request, token: str, db: Db) -> Response:
    """The button that redeems a sign-in link; a browser signed in already is told that continuing
    signs it out of that account (never switched silently)."""
    with db.transaction() as session:
        current = partner_of_session(session, request.cookies.get(PARTNER_COOKIE))
    context = {"action": f"/inbox/signin/{token}", "signed_in_as": current.partner_name if current else None}
    return Page(request).render("inbox/confirm.html", context, language=_lang(request))


@router.post("/inbox/signin/{token}", dependencies=[CsrfChecked])
def redeem_link(request: Request, token: str, db: Db, settings: AppSettings) -> Response:
    try:
        with db.transaction() as session:
            user, next_path = redeem_magic_link(session, token)
            end_session(session, request.cookies.get(PARTNER_COOKIE))  # the account it leaves (shown)
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
    """Admin password login, throttled per client and address (``THROTTLE``): never a lock-out."""
    address = email.strip().lower()[:320]
    bucket = _bucket("login", request, address)
    now = _now(request)
    with db.transaction() as session:
        wait = throttle_wait(session, bucket, THROTTLE, now=now)
        if wait == 0 and not allow_attempt(
            session, f"login:client:{_client(request)}", limit=LOGIN_PER_CLIENT[0], window=LOGIN_PER_CLIENT[1]
        ):
            wait = LOGIN_PER_CLIENT[1].total_seconds()
    if wait > 0:
        raise _too_many(wait)
    with db.transaction() as session:
        admin = authenticate_admin(session, address, password)
        if admin is None:
            record_hit(session, bucket, now=now)
            raw = None
        else:
            clear_hits(session, bucket)
            raw = start_session(session, "admin", admin.id)
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
