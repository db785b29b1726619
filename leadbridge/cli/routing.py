"""``leadbridge route``: route one lead now and explain the decision (``simulate``, ``tune`` and
``policy`` live in ``cli/policies.py``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any

import typer

from leadbridge.cli.context import Table, console, fail, print_json, settings
from leadbridge.cli.partners import JsonOption, open_database
from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.matching import Decision, history_from_offers, match
from leadbridge.core.matching.modes import Plan, plan_round
from leadbridge.core.model import utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.policy import Policy, load_policy
from leadbridge.core.router import RoutingContext, policy_from_settings, route_pending

PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="policy YAML to use instead of the configured one")
]
FACTOR_HEADERS = {
    "expected_conversion": "ev",
    "distance": "dist",
    "tier": "tier",
    "certification": "cert",
    "industry": "ind",
    "size": "size",
    "win_rate": "win",
    "acceptance": "acc",
    "speed": "speed",
    "load": "load",
    "stock": "stock",
}


def policy_option(path: Path | None) -> Policy:
    """The policy at ``path``, else the configured one."""
    return load_policy(path) if path else policy_from_settings(settings())


def _plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "action": plan.action.value,
        "reason": plan.reason,
        "escalate": plan.escalate,
        "offers": [
            {
                "partner_id": s.partner_id,
                "round": s.round,
                "mode": s.mode,
                "deadline": s.deadline.isoformat() if s.deadline else None,
                "auto_accept": s.auto_accept,
                "preview": s.preview,
            }
            for s in plan.create
        ],
    }


def _print_decision(decision: Decision, names: dict[str, str], *, show_excluded: bool) -> None:
    console.print(
        f"[bold]{decision.lead_id}[/]  round {decision.round} · mode {decision.mode} · "
        f"channel [bold]{decision.channel.value}[/] · {decision.reason}"
    )
    if decision.candidates:
        table = Table("#", "partner", "score", "km", "factors (score contributions)")
        for rank, c in enumerate(decision.candidates, start=1):
            factors = " ".join(
                f"{short} {c.contributions.get(name, 0.0):.{3 if name == 'expected_conversion' else 2}f}"
                for name, short in FACTOR_HEADERS.items()
                if name in c.contributions
            )
            if c.factors:  # expected conversions: P(accept) × P(win) × reach
                f = c.factors
                factors = (
                    f"p(accept) {f['p_accept']:.2f} × p(win) {f['p_win']:.2f} × reach {f['reach']:.2f} "
                    f"(full to {f['reach_km']:.0f} km) · tie-breakers: " + factors
                )
            table.add_row(
                ("→ " if c.partner_id in decision.chosen else "") + str(rank),
                f"{c.partner_id}\n{names.get(c.partner_id, '')}",
                f"{c.score:.3f}",
                f"{c.distance_km:.0f}" if c.distance_km is not None else "-",
                f"{factors} ({c.performance_tier} performer)",
            )
        console.print(table)
    counts = decision.excluded_by_filter()
    if counts:
        summary = ", ".join(
            f"{name} {count}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1])
        )
        console.print(f"excluded {decision.excluded_total}: {summary}")
    if show_excluded and decision.excluded:
        table = Table("partner", "name", "filter", "why")
        for e in decision.excluded:
            table.add_row(e.partner_id, names.get(e.partner_id, ""), e.filter, e.detail)
        console.print(table)
    if decision.chosen:
        console.print(f"chosen: {', '.join(decision.chosen)}")


def route_command(
    lead_id: Annotated[str, typer.Argument(help="leadbridge lead id (L-…)")],
    explain: Annotated[
        bool, typer.Option("--explain", help="list every excluded partner with the filter that excluded it")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="decide and plan, but create no offers")] = False,
    policy_path: PolicyOption = None,
    seed: Annotated[int | None, typer.Option(help="seed for tie-breaking (default: time-based)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Route one lead now and show the decision: candidates with each factor's contribution."""
    policy = policy_option(policy_path)
    database = open_database()
    now = utcnow()
    rng = random.Random(seed if seed is not None else now.timestamp())
    try:
        with database.transaction() as session:
            row = LeadService(session).get_row(lead_id)
            context = RoutingContext.load(session, policy, now=now, rng=rng)
            offers = OfferService(session).for_lead(lead_id)
        lead = lead_from_row(row)
        decision = match(
            lead,
            context.index,
            policy,
            context.stats,
            now=now,
            rng=rng,
            history=history_from_offers(offers),
            explain=True,
        )
        plan = plan_round(decision, lead, policy, context.partners, now=now)
        executed: dict[str, Any] | None = None
        if not dry_run:
            summary = route_pending(database, policy=policy, lead_ids=[lead_id], rng=random.Random(seed or 0))
            executed = {
                "routed": summary.routed,
                "offers": summary.offers,
                "direct": summary.direct,
                "nurtured": summary.nurtured,
                "waiting": summary.waiting,
                "errors": summary.errors,
            }
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    names = {pid: p.name for pid, p in context.partners.items()}
    if as_json:
        print_json(
            {
                "decision": decision.to_dict(),
                "plan": _plan_dict(plan),
                "dry_run": dry_run,
                "executed": executed,
            }
        )
        return
    _print_decision(decision, names, show_excluded=explain)
    console.print(
        f"plan: {plan.action.value} ({plan.reason})" + (" — dry run: nothing created" if dry_run else "")
    )
    for spec in plan.create:
        due = spec.deadline.isoformat(timespec="minutes") if spec.deadline else "no deadline"
        console.print(f"  offer → {spec.partner_id} {names.get(spec.partner_id, '')} until {due}")
    if executed is not None:
        console.print(f"executed: {executed['offers']} offer(s), routed {executed['routed']}")
        for problem in executed["errors"]:
            console.print(f"[yellow]{problem}[/]")


def register(app: typer.Typer) -> None:
    app.command("route")(route_command)
