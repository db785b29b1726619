"""The routing policy in the cockpit: edit it as YAML, see a simulation before saving, keep revisions.

- ``GET /cockpit/policy``: the policy in force (its file, or the built-in default), the form and
  the revisions (``core/policy_history.py``);
- ``POST /cockpit/policy/preview``: validates the text (every bad key named with its path; the
  text kept) and replays the last ``PREVIEW_DAYS`` days' qualified leads (at most
  ``PREVIEW_LEADS``) under the policy in force and the edited one (``core/simulate.py``): leads
  per partner before and after, no eligible partner, direct sales, expected conversions;
- ``POST /cockpit/policy/save``: validates again, writes the policy file atomically (a temporary
  file renamed over it: a reader never sees half a file), records the revision under the admin's
  name and puts it in force for this process (the router reads the file on each pass);
- ``POST /cockpit/policy/restore/{hash}``: writes a stored revision (hash or a prefix of at least 4)
  back to the policy file the same way; an unknown revision is named and changes nothing.
A policy is only saved from a preview of the very same text (``previewed`` carries its hash).
Saves and restores are audited (``save_policy`` / ``restore_policy``, the hashes before and after).
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core import policy_history
from leadbridge.core.errors import ConfigError
from leadbridge.core.model import utcnow
from leadbridge.core.policy import Policy, parse_policy, policy_hash
from leadbridge.core.router import policy_from_settings
from leadbridge.core.simulate import simulate
from leadbridge.core.simulate_data import load_replay
from leadbridge.core.tune import policy_yaml
from leadbridge.web.deps import AppSettings, CsrfChecked, CurrentAdmin, Db, Page
from leadbridge.web.privacy import audit_action

router = APIRouter(prefix="/cockpit", include_in_schema=False)
PREVIEW_DAYS = 90
PREVIEW_LEADS = 2000


def parse_text(text: str) -> Policy:
    """The policy a YAML text describes; ``ConfigError`` names what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}") from None
    return parse_policy(data, "policy")


def _policy_path(settings: Any) -> Path | None:
    path = settings.resolve(settings.policy)
    return Path(path) if path is not None else None


def _page(request: Request, admin: Any, db: Any, settings: Any, **values: Any) -> Response:
    current = policy_from_settings(settings)
    with db.transaction() as session:
        revisions = policy_history.history(session)[:20]
    context = {
        "admin": admin,
        "path": _policy_path(settings),
        "current_hash": policy_hash(current),
        "text": values.pop("text", None) or policy_yaml(current),
        "revisions": revisions,
        "error": None,
        "preview": None,
        "previewed": None,
        "notice": None,
        **values,
    }
    status = 400 if context["error"] else 200
    return Page(request).render("cockpit/policy.html", context, status_code=status)


@router.get("/policy")
def policy_page(
    request: Request, admin: CurrentAdmin, db: Db, settings: AppSettings, saved: str | None = None
) -> Response:
    notice = f"Policy {saved} saved and in force." if saved else None
    return _page(request, admin, db, settings, notice=notice)


@router.post("/policy/preview", dependencies=[CsrfChecked])
def preview(
    request: Request, admin: CurrentAdmin, db: Db, settings: AppSettings, text: Annotated[str, Form()] = ""
) -> Response:
    try:
        edited = parse_text(text)
    except ConfigError as error:
        return _page(request, admin, db, settings, text=text, error=str(error))
    current = policy_from_settings(settings)
    now = utcnow()
    with db.transaction() as session:
        data = load_replay(session, current, now - timedelta(days=PREVIEW_DAYS), PREVIEW_LEADS, now)
    report = simulate(
        data.leads,
        data.partners,
        current,
        edited,
        data.stats,
        now=now,
        history=data.history,
        model=data.model,
    ).to_dict()
    names = {p.id: p.name for p in data.partners}
    for line in report["partners"]:
        line["name"] = names.get(line["partner_id"], line["partner_id"])
    report["partners"].sort(key=lambda line: (-abs(line["after"] - line["before"]), line["name"]))
    return _page(
        request, admin, db, settings, text=text, preview=report, previewed=policy_hash(edited),
        edited_hash=policy_hash(edited),
    )  # fmt: skip


@router.post("/policy/save", dependencies=[CsrfChecked])
def save(
    request: Request,
    admin: CurrentAdmin,
    db: Db,
    settings: AppSettings,
    text: Annotated[str, Form()] = "",
    previewed: Annotated[str, Form()] = "",
) -> Response:
    try:
        edited = parse_text(text)
    except ConfigError as error:
        return _page(request, admin, db, settings, text=text, error=str(error))
    key = policy_hash(edited)
    if key != previewed:
        message = "the text changed after its preview: preview it again before saving"
        return _page(request, admin, db, settings, text=text, error=message)
    path = _policy_path(settings)
    if path is None:
        message = "no policy file is configured (settings: policy): the policy cannot be saved from here"
        return _page(request, admin, db, settings, text=text, error=message)
    _put_in_force(request, admin, db, settings, path, edited, action="save_policy")
    return RedirectResponse(f"/cockpit/policy?saved={key}", status_code=303)


@router.post("/policy/restore/{ref}", dependencies=[CsrfChecked])
def restore(request: Request, ref: str, admin: CurrentAdmin, db: Db, settings: AppSettings) -> Response:
    """Put a stored revision in force again (module rules)."""
    path = _policy_path(settings)
    try:
        with db.transaction() as session:
            revision = policy_history.find(session, ref)
        if path is None:
            raise ConfigError(
                "no policy file is configured (settings: policy): the policy cannot be restored here"
            )
    except ConfigError as error:
        return _page(request, admin, db, settings, error=str(error))
    _put_in_force(request, admin, db, settings, path, revision, action="restore_policy")
    return RedirectResponse(f"/cockpit/policy?saved={policy_hash(revision)}", status_code=303)


def _put_in_force(
    request: Request, admin: Any, db: Any, settings: Any, path: Path, policy: Policy, *, action: str
) -> None:
    """Write ``policy`` to its file, record the revision and the admin's action, use it here."""
    before = policy_hash(policy_from_settings(settings))
    write_atomically(path, policy_yaml(policy))
    with db.transaction() as session:
        policy_history.record(session, policy, by=admin.actor, at=utcnow(), source=str(path))
        audit_action(
            session, actor=admin.actor, channel="cockpit", action=action,
            detail={"before": before, "after": policy_hash(policy)},
        )  # fmt: skip
    request.app.state.policy = policy


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


ROUTERS = (router,)
