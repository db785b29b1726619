"""``leadbridge simulate``, ``tune`` and ``policy``: replay past leads under two policies, search
better routing parameters, and list the policy revisions decisions were made with.

A policy is named by a YAML file or by a stored revision's hash (``policy history``). Replays read
the qualified leads (oldest first, from ``--since``), the partners and their stats as of now, and
judge routings by one conversion model fitted on every stored offer and outcome (``core/outcomes``).
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from sqlalchemy.orm import Session

from leadbridge.cli.context import Table, console, fail, print_json, settings
from leadbridge.cli.partners import JsonOption, open_database
from leadbridge.core import policy_history
from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.matching import build_index
from leadbridge.core.model import utcnow
from leadbridge.core.policy import Policy, load_policy, policy_hash
from leadbridge.core.router import policy_from_settings
from leadbridge.core.simulate import simulate
from leadbridge.core.simulate_data import load_replay
from leadbridge.core.tune import policy_yaml, tune

SinceOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="only leads created on or after this day")
]
SeedOption = Annotated[int, typer.Option(help="seed for tie-breaking (same seed, same report)")]
policy_app = typer.Typer(help="Routing policy revisions (by content hash).", no_args_is_help=True)


def resolve(session: Session, ref: str | None) -> Policy:
    """A policy by file path or stored revision hash; the configured one for ``None``."""
    if ref is None:
        return policy_from_settings(settings())
    if Path(ref).exists() or ref.endswith((".yaml", ".yml")):
        return load_policy(Path(ref))
    return policy_history.find(session, ref)


def simulate_command(
    policy_ref: Annotated[
        str, typer.Option("--policy", help="the policy to try: YAML file or revision hash")
    ],
    against: Annotated[
        str | None, typer.Option("--against", help="compare with this file or revision (default: configured)")
    ] = None,
    since: SinceOption = None,
    seed: SeedOption = 0,
    limit: Annotated[int, typer.Option(help="at most this many leads (oldest first)")] = 100_000,
    as_json: JsonOption = False,
) -> None:
    """Replay past qualified leads under two policies (any two files or revisions); compare."""
    now = utcnow()
    try:
        with open_database().transaction() as session:
            old_policy, new_policy = resolve(session, against), resolve(session, policy_ref)
            data = load_replay(session, old_policy, since, limit, now)
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    report = simulate(
        data.leads, data.partners, old_policy, new_policy, data.stats, now=now, seed=seed,
        history=data.history, model=data.model,
    )  # fmt: skip
    result = report.to_dict() | {
        "policies": {"before": policy_hash(old_policy), "after": policy_hash(new_policy)}
    }
    if as_json:
        print_json(result)
        return
    names = {p.id: p.name for p in data.partners}
    table = Table("partner", "name", "actual", "before", "after", "share before", "share after", "Δ points")
    for item in result["partners"]:
        delta = (item["share_after"] - item["share_before"]) * 100
        table.add_row(
            item["partner_id"], names.get(item["partner_id"], ""), str(item["actual"]), str(item["before"]),
            str(item["after"]), f"{item['share_before']:.1%}", f"{item['share_after']:.1%}", f"{delta:+.1f}",
        )  # fmt: skip
    console.print(table)
    before_after = {
        key: f"{result[key]['before']} → {result[key]['after']}"
        for key in ("no_eligible_partner", "direct_sales", "expected_conversions")
    }
    console.print(
        f"{result['leads']} lead(s) replayed · "
        f"{result['policies']['before']} → {result['policies']['after']} · "
        f"changed partner: {result['changed_partner']} · no eligible partner: "
        f"{before_after['no_eligible_partner']} · direct sales: {before_after['direct_sales']} · "
        f"expected conversions: {before_after['expected_conversions']}"
    )


def tune_command(
    since: SinceOption = None,
    seed: SeedOption = 0,
    limit: Annotated[int, typer.Option(help="replay at most this many leads (the newest)")] = 5_000,
    evaluations: Annotated[int, typer.Option(help="at most this many replays")] = 80,
    out: Annotated[
        Path | None, typer.Option("--out", help="write the policy found to this YAML file")
    ] = None,
    by: Annotated[str | None, typer.Option(help="who adopts it (recorded with --out)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Search reach, radii, tie-breaks and priors for the most expected conversions over history."""
    now = utcnow()
    try:
        database = open_database()
        with database.transaction() as session:
            current = resolve(session, None)
            data = load_replay(session, current, since, 10**9, now)
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    leads = data.leads[-limit:]
    index = build_index(data.partners, current, now)
    report = tune(
        leads, index, current, data.stats, data.model, now=now, seed=seed, max_evaluations=evaluations
    )
    result = report.to_dict() | {"current_hash": policy_hash(current)}
    if out is not None:
        out.write_text(report_yaml(report.policy), encoding="utf-8")
        with database.transaction() as session:
            policy_history.record(session, report.policy, by=by or getpass.getuser(), at=now, source=str(out))
        result["written"] = str(out)
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['leads']} lead(s) replayed {result['evaluations']} times · expected conversions: "
        f"current {result['expected_conversions']['current']} ({result['current_hash']}) → best "
        f"{result['expected_conversions']['best']} ({result['policy_hash']}), {result['gain_pct']}%",
        markup=False,
    )
    console.print(
        "changes: " + (", ".join(f"{k} = {v}" for k, v in report.changes.items()) or "none"), markup=False
    )
    console.print("policy to adopt (only what differs from the defaults):", markup=False)
    console.print(result["policy_yaml"], markup=False)
    if out is not None:
        console.print(f"written to {out}; point leadbridge.yaml's policy at it to adopt it", markup=False)


def report_yaml(policy: Policy) -> str:
    return f"# written by leadbridge tune, revision {policy_hash(policy)}\n" + policy_yaml(policy)


@policy_app.command("history")
def history_command(as_json: JsonOption = False) -> None:
    """Every policy revision routing used or an admin recorded, newest first (who, when, hash)."""
    with open_database().transaction() as session:
        revisions = policy_history.history(session)
    if as_json:
        print_json([r.to_dict() for r in revisions])
        return
    table = Table("hash", "name", "recorded (UTC)", "by", "source")
    for r in revisions:
        table.add_row(
            r.hash, r.name, r.recorded_at.isoformat(timespec="seconds"), r.recorded_by, r.source or ""
        )
    console.print(table)


@policy_app.command("record")
def record_command(
    policy_ref: Annotated[
        str | None, typer.Option("--policy", help="YAML file (default: configured)")
    ] = None,
    by: Annotated[str | None, typer.Option(help="who (default: this user)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a policy as a revision under a person's name (routing records what it uses anyway)."""
    try:
        with open_database().transaction() as session:
            policy = resolve(session, policy_ref)
            source = policy_ref or str(settings().resolve(settings().policy) or "")
            revision, new = policy_history.record(
                session, policy, by=by or getpass.getuser(), at=utcnow(), source=source
            )
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    if as_json:
        print_json(revision.to_dict() | {"new": new})
        return
    state = "recorded" if new else "already recorded"
    console.print(
        f"{revision.hash} {state} by {revision.recorded_by} at {revision.recorded_at}", markup=False
    )


@policy_app.command("show")
def show_command(ref: Annotated[str, typer.Argument(help="revision hash (or prefix)")]) -> None:
    """Print a stored revision as YAML (every key)."""
    try:
        with open_database().transaction() as session:
            policy = policy_history.find(session, ref)
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    data: dict[str, Any] = policy.model_dump(mode="json")
    console.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), markup=False)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
    app.command("tune")(tune_command)
    app.add_typer(policy_app, name="policy")
