"""The routing policy edited in the cockpit: validated (every bad key named, text kept), previewed by
replaying past leads, saved only from its preview — atomically to the policy file, as a revision."""

from __future__ import annotations

import html
import re
from pathlib import Path

import yaml

from leadbridge.core import policy_history
from leadbridge.core.policy import policy_hash
from leadbridge.core.router import policy_from_settings
from tests.web.conftest import World, csrf_from

EDITED = "version: 1\nname: tighter\nmax_rounds: 2\n"


def _setup(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "config" / "policy.yaml"
    world.settings.policy = str(path)  # never the working directory's policy.yaml
    return path


def test_given_an_edited_policy_then_preview_shows_the_replay_and_save_writes_a_revision(
    world: World, tmp_path: Path
) -> None:
    path = _setup(world, tmp_path)
    admin = world.admin_client()
    page = admin.get("/cockpit/policy")
    assert page.status_code == 200 and "version: 1" in page.text
    token = csrf_from(admin, "/cockpit/policy")
    preview = admin.post("/cockpit/policy/preview", data={"csrf_token": token, "text": EDITED})
    assert preview.status_code == 200, preview.text
    assert re.search(r"Preview: \d+ lead\(s\) of the last 90 days replayed", preview.text)
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', preview.text)
    assert previewed is not None
    assert not path.exists()  # a preview saves nothing
    saved = admin.post(
        "/cockpit/policy/save", data={"csrf_token": token, "text": EDITED, "previewed": previewed.group(1)}
    )
    assert saved.status_code == 303
    policy = policy_from_settings(world.settings)
    assert (policy.name, policy.max_rounds) == ("tighter", 2)
    assert yaml.safe_load(path.read_text())["name"] == "tighter"
    assert [p.name for p in path.parent.iterdir()] == ["policy.yaml"]  # no temporary file left behind
    with world.database.transaction() as session:
        revisions = {r.hash: r for r in policy_history.history(session)}
    revision = revisions[policy_hash(policy)]
    assert revision.recorded_by == "admin:admin@maker.example" and revision.source == str(path)
    after = admin.get(saved.headers["location"]).text
    assert "saved and in force" in after and f"{revision.hash}</code> (in force)" in after


def test_a_bad_policy_is_named_key_by_key_and_the_text_is_kept(world: World, tmp_path: Path) -> None:
    path = _setup(world, tmp_path)
    admin = world.admin_client()
    token = csrf_from(admin, "/cockpit/policy")
    bad = "version: 1\nmax_rounds: 0\nnonsense: yes\n"
    answer = admin.post("/cockpit/policy/preview", data={"csrf_token": token, "text": bad})
    assert answer.status_code == 400
    text = html.unescape(answer.text)
    assert "max_rounds" in text and "nonsense" in text
    assert "nonsense: yes" in text  # the text is shown again to fix
    broken = admin.post("/cockpit/policy/preview", data={"csrf_token": token, "text": "version: [1"})
    assert broken.status_code == 400 and "not valid YAML" in broken.text
    assert not path.exists()


def test_only_the_previewed_text_is_saved(world: World, tmp_path: Path) -> None:
    path = _setup(world, tmp_path)
    admin = world.admin_client()
    token = csrf_from(admin, "/cockpit/policy")
    answer = admin.post(
        "/cockpit/policy/save", data={"csrf_token": token, "text": EDITED, "previewed": "0123456789ab"}
    )
    assert answer.status_code == 400 and "preview it again" in answer.text
    assert not path.exists()
    assert world.client().get("/cockpit/policy").status_code in (303, 401)
