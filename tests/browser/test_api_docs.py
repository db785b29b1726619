"""``/api/docs`` renders in a real Chromium under the app's own Content-Security-Policy."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import LiveServer


def test_the_api_docs_render_under_the_apps_csp_without_any_cdn(
    live_server: LiveServer, browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    response = page.goto(f"{live_server.url}/api/docs")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "leadbridge" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector('[data-path="/api/v1/leads"]', timeout=15000)
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert all(url.startswith(live_server.url) for url in requested), requested
    context.close()
