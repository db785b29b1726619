"""Dependencies every route shares: the database, the caller, CSRF, and page rendering.

``CurrentPartner`` is the one dependency that resolves the partner for every partner route: on
``/api`` paths from a partner API key (``Authorization: Bearer lbk_…``), elsewhere from the
partner session cookie. Cookies are never accepted on the API (so the API needs no CSRF tokens)
and API keys are never accepted on pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadbridge.core.roles import Scope
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.web_tables import AdminUserRow, ApiKeyRow
from leadbridge.notify.i18n import translator
from leadbridge.web.accounts import AdminPrincipal, PartnerPrincipal, api_key_for, scope_of
from leadbridge.web.limits import ApiKeyInfo
from leadbridge.web.role_guard import enforce
from leadbridge.web.security import csrf_token, csrf_valid, new_token
from leadbridge.web.session_cache import PartnerSessionCache
from leadbridge.web.sessions import cached_partner, partner_of_session, session_user

PARTNER_COOKIE = "lb_session"
ADMIN_COOKIE = "lb_admin"
ANON_COOKIE = "lb_csrf"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Templates ship with the package: no file-modification check (a stat per template) on every page.
templates.env.auto_reload = False


class NotSignedIn(Exception):
    """No valid session or key; pages redirect to sign-in, the API answers 401."""

    def __init__(self, area: str) -> None:
        super().__init__(area)
        self.area = area


class CsrfRejected(Exception):
    """A form arrived without the caller's CSRF token."""


class AdminKeyRequired(Exception):
    """An API route for admin tools was called with a partner's key."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


# The dependencies are ``async``: a plain read of the app state is not worth the hop to the thread
# pool that FastAPI makes for every sync dependency (two per request, measured).
async def _settings_dependency(request: Request) -> Settings:
    return get_settings(request)


async def _database_dependency(request: Request) -> Database:
    return get_database(request)


AppSettings = Annotated[Settings, Depends(_settings_dependency)]
Db = Annotated[Database, Depends(_database_dependency)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _api_key(request: Request, session: Session) -> ApiKeyInfo | None:
    """The request's API key: as the gate (``web/limits.py``) found it, else looked up here."""
    found = getattr(request.state, "api_key", None)
    if isinstance(found, ApiKeyInfo):
        return found
    raw = _bearer(request)
    row = api_key_for(session, raw) if raw else None
    return ApiKeyInfo(row.id, row.partner_id, row.name) if row is not None else None


def current_partner(request: Request, db: Db) -> PartnerPrincipal:
    """The partner acting in this request (see the module docstring); raises ``NotSignedIn``.

    A session cookie seen in the last seconds is answered from the app's ``PartnerSessionCache``
    (``web/session_cache.py``) without a transaction."""
    cache: PartnerSessionCache = request.app.state.session_cache
    is_api = request.url.path.startswith("/api/")
    if not is_api and (hit := cached_partner(cache, request.cookies.get(PARTNER_COOKIE))) is not None:
        return hit
    with db.transaction() as session:
        if is_api:
            key = _api_key(request, session)
            if key is None:
                raise NotSignedIn("api")
            if key.partner_id is None:
                raise AdminKeyRequired("this route is for partner keys; use a key issued to a partner")
            partner = session.get(PartnerRow, key.partner_id)
            if partner is None or not partner.active:
                raise NotSignedIn("api")
            return PartnerPrincipal(partner.id, partner.name, None, key.id, "en")
        principal = partner_of_session(session, request.cookies.get(PARTNER_COOKIE), cache)
        if principal is None:
            raise NotSignedIn("inbox")
        return principal


def current_admin(request: Request, db: Db) -> AdminPrincipal:
    """The admin of this request: an admin session on pages, an admin API key on ``/api``."""
    with db.transaction() as session:
        if request.url.path.startswith("/api/"):
            key = _api_key(request, session)
            if key is None:
                raise NotSignedIn("api")
            if key.partner_id is not None:
                raise AdminKeyRequired("this route needs an admin key, not a partner key")
            key_row = session.get(ApiKeyRow, key.id)
            scope = scope_of(key_row) if key_row is not None else Scope()
            enforce(session, scope, request.method, request.url.path)
            return AdminPrincipal(user_id=key.id, email=f"api-key:{key.name}", scope=scope)
        user_id = session_user(session, request.cookies.get(ADMIN_COOKIE), "admin")
        row = session.get(AdminUserRow, user_id) if user_id else None
        if row is None or not row.active:
            raise NotSignedIn("cockpit")
        enforce(session, scope_of(row), request.method, request.url.path)  # the role, on every route
        return AdminPrincipal(user_id=row.id, email=row.email, scope=scope_of(row))


CurrentPartner = Annotated[PartnerPrincipal, Depends(current_partner)]
CurrentAdmin = Annotated[AdminPrincipal, Depends(current_admin)]


def _binding(request: Request) -> str | None:
    """What this browser's CSRF token is bound to: its session in the area, else its anon cookie."""
    cookie = ADMIN_COOKIE if request.url.path.startswith("/cockpit") else PARTNER_COOKIE
    return request.cookies.get(cookie) or request.cookies.get(ANON_COOKIE)


async def verify_csrf(request: Request) -> None:
    """Refuse a form whose ``csrf_token`` does not match the caller (``CsrfRejected``)."""
    form = await request.form()
    submitted = form.get("csrf_token")
    secret = get_settings(request).signing_key()
    if not csrf_valid(secret, _binding(request), submitted if isinstance(submitted, str) else None):
        raise CsrfRejected()


CsrfChecked = Depends(verify_csrf)


@dataclass
class Page:
    """Renders a template with the request's translator, CSRF token and cookie flags."""

    request: Request

    def render(
        self, template: str, context: dict[str, Any], *, language: str = "en", status_code: int = 200
    ) -> Response:
        request = self.request
        settings = get_settings(request)
        anon = None
        binding = _binding(request)
        if binding is None:
            anon = binding = new_token()
        values = {
            "t": translator(language),
            "lang": language,
            "csrf_token": csrf_token(settings.signing_key(), binding),
            "request_id": new_token()[:22],
            **context,
        }
        response = templates.TemplateResponse(request, template, values, status_code=status_code)
        if anon is not None:
            set_cookie(response, settings, ANON_COOKIE, anon, max_age=12 * 3600)
        return response


def set_cookie(response: Response, settings: Settings, name: str, value: str, *, max_age: int) -> None:
    """Cookies are HttpOnly and SameSite=Lax always, Secure whenever we are served over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
        path="/",
    )
