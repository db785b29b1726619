"""Static assets with a cache lifetime (served by the app; a module of its own so that ``serve``,
which builds apps, and ``app`` do not import each other)."""

from __future__ import annotations

from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC_MAX_AGE = 3600


class CachedStatic(StaticFiles):
    """Static files with ``Cache-Control: public, max-age`` (module rules)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
        return response
