"""Restoring an earlier policy revision from the cockpit: the file routes like that revision again,
the restore is recorded and audited, and an unknown revision changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from leadbridge.core.policy import policy_hash
from leadbridge.core.privacy.audit import AuditRow
from leadbridge.core.router import policy_from_settings
from tests.web.conftest import World, csrf_from


def _save(admin: TestClient, text: str) -> str:
    """Preview ``text`` and save it; returns its hash."""
    token = csrf_from(admin, "/cockpit/policy")
    page = admin.post("/cockpit/policy/preview", data={"csrf_token": token, "text": text}).text
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', page)
    assert previewed is not None, page
    form = {"csrf_token": token, "text": text, "previewed": previewed.group(1)}
    assert admin.post("/cockpit/policy/save", data=form).status_code == 303
    return previewed.group(1)


def test_given_two_saved_revisions_then_restore_puts_the_first_in_force_again_and_is_audited(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "config" / "policy.yaml"
    world.settings.policy = str(path)
    admin = world.admin_client()
    spring = _save(admin, "version: 1\nname: spring\ndistribution:\n  mode: offer_n\n  offer_n: 2\n")
    summer = _save(admin, "version: 1\nname: summer\n")
    assert policy_hash(policy_from_settings(world.settings)) == summer
    token = csrf_from(admin, "/cockpit/policy")
    assert f'action="/cockpit/policy/restore/{spring}"' in admin.get("/cockpit/policy").text
    answer = admin.post(f"/cockpit/policy/restore/{spring[:6]}", data={"csrf_token": token})
    assert answer.status_code == 303
    restored = policy_from_settings(world.settings)
    assert policy_hash(restored) == spring and restored.distribution.offer_n == 2
    assert policy_hash(world.app.state.policy) == spring  # this app routes with it at once
    with world.database.transaction() as session:
        audit = [(r.action, r.detail) for r in session.scalars(select(AuditRow).order_by(AuditRow.id))]
    assert ("restore_policy", {"before": summer, "after": spring}) in audit
    assert [a for a, _ in audit].count("save_policy") == 2
    unknown = admin.post("/cockpit/policy/restore/ffffffff", data={"csrf_token": token})
    assert unknown.status_code == 400 and "no policy revision ffffffff" in unknown.text
    assert policy_hash(policy_from_settings(world.settings)) == spring  # unchanged
    assert admin.post(f"/cockpit/policy/restore/{summer}").status_code == 403  # no CSRF token
    assert policy_hash(policy_from_settings(world.settings)) == spring
