"""The cockpit partner page says when the partner's figures were last written to the home CRM, and
the error of a write that failed; the form edits the partner's account id there."""

from __future__ import annotations

from datetime import UTC, datetime

from leadbridge.core.partner_form import form_from_partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.tables import OutboxRow
from leadbridge.sync.performance_push import PERFORMANCE
from leadbridge.sync.tables import PerformancePushRow
from tests.web.conftest import World, csrf_from

WRITTEN = datetime(2026, 11, 30, 6, 15, tzinfo=UTC)
QUEUED = datetime(2026, 12, 1, 6, 15, tzinfo=UTC)


def _state(world: World, *, status: str, error: str | None) -> None:
    with world.database.transaction() as session:
        row = OutboxRow(
            target="home", kind=PERFORMANCE, lead_id=None, idempotency_key=f"perf:{status}",
            payload={"partner_id": world.partner_a}, status=status, attempts=6, next_attempt_at=QUEUED,
            last_error=error, created_at=QUEUED,
        )  # fmt: skip
        session.add(row)
        session.flush()
        session.add(
            PerformancePushRow(
                partner_id=world.partner_a, target="home", account_id="0015g00000AbCdE", digest="d",
                figures={}, outbox_id=row.id, queued_at=QUEUED, written_at=WRITTEN,
            )
        )  # fmt: skip


def test_given_a_failed_write_then_the_partner_page_shows_the_last_write_and_the_error(world: World) -> None:
    _state(world, status="dead", error="partner_performance does not fit Account: Account has no field X__c")
    page = world.admin_client().get(f"/cockpit/partners/{world.partner_a}/edit")
    assert page.status_code == 200
    text = page.text
    assert "Figures last written 2026-11-30 06:15 UTC to home 0015g00000AbCdE" in text
    assert "(dead)" in text and "Account has no field X__c" in text


def test_given_no_push_yet_then_the_page_has_no_performance_card(world: World) -> None:
    page = world.admin_client().get(f"/cockpit/partners/{world.partner_a}/edit")
    assert page.status_code == 200 and 'id="partner-performance"' not in page.text


def test_given_the_form_then_the_home_account_id_is_saved(world: World) -> None:
    admin = world.admin_client()
    path = f"/cockpit/partners/{world.partner_a}/edit"
    with world.database.transaction() as session:
        stored = PartnerRepository(session).get(world.partner_a)
    form = {**form_from_partner(stored), "home_account_id": "0015g00000XyZ12"}
    answer = admin.post(path, data={"csrf_token": csrf_from(admin, path), **form})
    assert answer.status_code == 303
    with world.database.transaction() as session:
        assert PartnerRepository(session).get(world.partner_a).home_account_id == "0015g00000XyZ12"
