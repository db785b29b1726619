"""How failures answer: one JSON shape on the API and webhooks, a page in the inbox and cockpit.

Rules:
- machine callers (``/api``, ``/webhooks``, operations endpoints) get ``{"detail": str, "error": str
  | null}`` (``ErrorOut``: what went wrong, then the specific reason or a short code such as
  ``body_too_large``) for every error, 422 validation errors ``{"detail": [{loc, msg, type}]}``
  (the submitted input is never echoed: it may be huge, or not even valid JSON, e.g. ``NaN``);
- people (``/inbox``, ``/cockpit``) get the error page in their language;
- database conflicts (a duplicate id) are 409 and bad values the database refuses are 422, both
  without SQL in the answer; anything unforeseen is 500 from ``SecurityHeadersMiddleware``, logged
  with its traceback and never shown.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from leadbridge.core.errors import ConflictError, IllegalTransition, NotFound
from leadbridge.notify.i18n import text
from leadbridge.ops.redact import redact_path
from leadbridge.web.deps import AdminKeyRequired, CsrfRejected, NotSignedIn, Page
from leadbridge.web.role_guard import RoleForbidden

log = logging.getLogger("leadbridge.web")

PAGE_AREAS = ("/inbox", "/cockpit")
ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
}


class ErrorOut(BaseModel):
    """Every error answer of the API: what went wrong for a person, and a stable code for programs."""

    detail: str
    error: str | None = None


class Problem(BaseModel):
    """One invalid input: where (``loc``), what is wrong (``msg``) and its kind (``type``)."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A request the schema refuses: every problem found."""

    detail: list[Problem]


# The OpenAPI ``responses`` of every API route: these are the answers besides success. A 422 is
# either the list of schema problems or, for a rule beyond the schema, the usual error JSON.
API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": code.replace("_", " ")} for status, code in ERROR_CODES.items()
}
API_ERROR_RESPONSES[422] = {"model": ValidationErrorOut | ErrorOut, "description": "invalid input"}


def _for_machines(request: Request) -> bool:
    path = request.url.path
    return path != "/" and not path.startswith(PAGE_AREAS)


def _language(request: Request) -> str:
    return request.cookies.get("lb_lang", "en")


def error_response(request: Request, status: int, message: str, detail: str = "", **headers: str) -> Response:
    """The error answer for ``request`` per the module rules."""
    if _for_machines(request):
        body = {"detail": message, "error": detail or ERROR_CODES.get(status)}
        return JSONResponse(body, status_code=status, headers=headers or None)
    page = Page(request).render(
        "error.html",
        {"status": status, "message": message, "detail": detail},
        language=_language(request),
        status_code=status,
    )
    page.headers.update(headers)
    return page


def _validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Each problem as ``{loc, msg, type}`` — the input is left out (it may be huge, or ``NaN``)."""
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg")),
            "type": str(e.get("type")),
        }
        for e in errors
    ]


def add_error_handlers(app: FastAPI) -> None:
    """Install the handlers for every failure the app knows (module rules)."""

    def t(request: Request, key: str) -> str:
        return text(_language(request), key)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if exc.area == "api":
            return JSONResponse(
                {"detail": "a valid API key is required", "error": "unauthenticated"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = "/cockpit/login" if exc.area == "cockpit" else "/inbox/signin"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(AdminKeyRequired)
    async def admin_key_required(request: Request, exc: AdminKeyRequired) -> Response:
        return JSONResponse({"detail": str(exc), "error": "forbidden"}, status_code=403)

    @app.exception_handler(RoleForbidden)
    async def role_forbidden(request: Request, exc: RoleForbidden) -> Response:
        if _for_machines(request):
            return JSONResponse({"detail": str(exc), "error": "forbidden"}, status_code=403)
        return error_response(request, 403, "Not allowed for your role", str(exc))

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        log.warning("CSRF token rejected on %s %s", request.method, redact_path(request.url.path))
        return error_response(request, 403, t(request, "forbidden"))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return error_response(request, 404, t(request, "not_found"), str(exc))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> Response:
        return error_response(request, 409, t(request, "conflict"), str(exc))

    @app.exception_handler(IllegalTransition)
    async def illegal(request: Request, exc: IllegalTransition) -> Response:
        return error_response(request, 409, t(request, "conflict"), str(exc))

    @app.exception_handler(IntegrityError)
    async def duplicate(request: Request, exc: IntegrityError) -> Response:
        log.info("database refused a write as a conflict: %s", type(exc.orig).__name__)
        return error_response(request, 409, t(request, "conflict"), "it conflicts with a stored record")

    @app.exception_handler(DataError)
    async def bad_data(request: Request, exc: DataError) -> Response:
        return error_response(
            request, 422, t(request, "invalid"), "a value is not acceptable to the database"
        )

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, exc: ValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error_response(request, 422, t(request, "invalid"), problems)

    @app.exception_handler(ValueError)
    async def invalid_value(request: Request, exc: ValueError) -> Response:
        return error_response(request, 422, t(request, "invalid"), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc.errors())
        if _for_machines(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return error_response(request, 422, t(request, "invalid"), str(errors[:3]))

    @app.exception_handler(429)
    async def too_many(request: Request, exc: Exception) -> Response:
        headers = getattr(exc, "headers", None) or {}
        if _for_machines(request):
            return JSONResponse({"detail": "too many requests", "error": "rate_limited"}, 429, headers)
        return PlainTextResponse(t(request, "too_many"), status_code=429, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = str(exc.detail) if exc.detail else ERROR_CODES.get(exc.status_code, "error")
        return error_response(request, exc.status_code, message, **(exc.headers or {}))
