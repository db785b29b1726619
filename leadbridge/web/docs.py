"""``/api/docs``: the interactive API reference (Swagger UI), served entirely from this app.

Rule: the page works under the app's own Content-Security-Policy (``script-src 'self'``,
``style-src 'self'``, no inline script): Swagger UI's script and stylesheet come from the
``swagger-ui-bundle`` package, mounted at ``/api/docs/assets``, and the few lines that start it are
a static file of ours (``static/swagger-init.js``) that reads the OpenAPI address from a ``data-``
attribute. Nothing is fetched from a CDN, so the docs also work offline.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from leadbridge.web.static_files import CachedStatic

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs/assets"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def add_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI for ``app.openapi_url`` at ``DOCS_URL`` (module rule); call with
    ``docs_url=None`` given to ``FastAPI`` so its CDN-based page is not installed as well."""
    app.mount(ASSETS_URL, CachedStatic(directory=str(swagger_ui_path)), name="swagger-ui")
    page = _PAGE.format(
        title=escape(app.title), assets=ASSETS_URL, openapi=escape(app.openapi_url or "/openapi.json")
    )

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)
