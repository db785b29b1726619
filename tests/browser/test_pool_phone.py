"""In a real browser on a phone: a partner opens its pool (blind, nothing wider than the screen),
taps "Give me my next lead" and gets the best lead for it, revealed; the other lead stays blind."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from leadbridge.core.intake import take_in
from leadbridge.core.policy import load_policy
from leadbridge.core.router import route_pending
from leadbridge.core.settings import Settings
from leadbridge.runtime import build_runtime
from leadbridge.web.accounts import create_partner_user
from leadbridge.web.app import create_app
from leadbridge.web.deps import PARTNER_COOKIE
from leadbridge.web.sessions import start_session
from tests.browser.conftest import LiveServer
from tests.browser.test_partner_journey import PHONE
from tests.builders import TEST_SECRET_KEY, a_lead, a_partner
from tests.web.conftest import _free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def pool_server(sqlite_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The app with a pool policy (from a YAML file, as deployed), served by uvicorn in a thread."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndistribution:\n  mode: pool\n  pool_hours: 12\n")
    port = _free_port()
    settings = Settings(
        database_url=sqlite_url,
        secret_key=SecretStr(TEST_SECRET_KEY),
        public_url=f"http://127.0.0.1:{port}",
        policy=str(policy),
    )
    rt = build_runtime(settings)
    database = rt.db
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(settings.public_url, settings, database)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_partner_pulls_its_next_lead_from_the_pool_on_a_phone(
    pool_server: LiveServer, browser: Any, artifacts: Path
) -> None:
    database = pool_server.database
    with database.transaction() as session:
        partner = a_partner(session, name="Alpha Heizung")
        user = create_partner_user(session, partner.id, "anna@alpha.example", language="en")
        leads = [
            a_lead(
                company=f"Verborgen {n} GmbH", email=f"geheim{n}@verborgen.example", phone=f"+49 89 {n}0101"
            )
            for n in (1, 2)
        ]
        for lead in leads:
            take_in(session, lead)
        token = start_session(session, "partner", user.id)
    assert route_pending(database, policy=load_policy(Path(pool_server.settings.policy or ""))).offers == 2

    phone = browser.new_context(**PHONE)
    phone.add_cookies([{"name": PARTNER_COOKIE, "value": token, "url": pool_server.url}])
    page = phone.new_page()
    page.goto(f"{pool_server.url}/inbox")
    page.click("#nav-pool")
    page.wait_for_url(re.compile(r"/inbox/pool$"))
    content = page.content()
    assert content.count("pool-item") == 2
    for lead in leads:
        assert (
            lead.company not in content and str(lead.email) not in content and str(lead.phone) not in content
        )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # fits the phone
    page.screenshot(path=str(artifacts / "pool-1-phone.png"), full_page=True)

    page.click("#pull")
    page.wait_for_url(re.compile(r"/inbox/leads/.+done=claimed"))
    shown = page.content()
    pulled = next(lead for lead in leads if lead.company in shown)
    assert str(pulled.email) in shown
    page.screenshot(path=str(artifacts / "pool-2-pulled.png"), full_page=True)

    page.goto(f"{pool_server.url}/inbox/pool")
    left = page.content()
    assert left.count("pool-item") == 1
    other = next(lead for lead in leads if lead is not pulled)
    assert other.company not in left and str(other.email) not in left
    phone.close()
