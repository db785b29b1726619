"""What people and systems do to a lead, each through its entry point, and the liveness check.

A *move* is ``(kind, variant)``; the variant picks the channel (inbox page or REST API), the return
reason, or the partner a manual assignment goes to. A move that does not fit the lead's state right
now (a decline without a pending offer) is skipped. After the moves, the partners accept whatever
is still offered to them, and the check is: every lead ends where a person acts or at an end state,
nothing is left for leadbridge to do, and every change reached the outbox and was sent.
"""

from __future__ import annotations

import time

from hypothesis import strategies as st

from tests.liveness.harness import SETTLED, Pipeline, wait_until

MOVE_KINDS = (
    "decline",
    "accept",
    "expire",
    "reroute",
    "assign",
    "return",
    "status",
    "win",
    "lose",
    "cli_route",
    "cli_sync",
)
RETURN_REASONS = ("no_fit", "not_a_lead", "duplicate")
CRM_STATUS = {
    "decline": "Declined",
    "accept": "Accepted",
    "return": "Returned",
    "status": "Working - Contacted",
    "win": "Closed - Converted",
    "lose": "Closed - Not Converted",
}
INBOX_FIELDS = {
    "status": {"status": "contacted"},
    "win": {"amount": "1200"},
    "lose": {"reason_code": "no_budget"},
}

move = st.tuples(st.sampled_from(MOVE_KINDS), st.integers(min_value=0, max_value=5))
script = st.lists(move, min_size=1, max_size=4)


def _on_offer(p: Pipeline, lead_id: str, kind: str, variant: int) -> str:
    pending = p.pending_offer(lead_id)
    if pending is None:
        return "skip"
    offer_id, partner_id = pending
    if kind == "expire":
        p.let_expire(offer_id)
        return "expire"
    if p.channel_of(partner_id) == "crm":
        return f"crm {kind}" if p.crm_status(lead_id, CRM_STATUS[kind]) else "skip"
    if variant % 2:
        code = p.api_offer(offer_id, partner_id, kind)
        return f"api {kind} {code}"
    return f"inbox {kind} {p.inbox_offer(offer_id, partner_id, kind)}"


def _on_held(p: Pipeline, lead_id: str, kind: str, variant: int) -> str:
    partner_id = p.holder(lead_id)
    if partner_id is None or p.state(lead_id) not in ("accepted", "working"):
        return "skip"
    if p.channel_of(partner_id) == "crm":
        return f"crm {kind}" if p.crm_status(lead_id, CRM_STATUS[kind]) else "skip"
    if kind == "return":
        reason = RETURN_REASONS[variant % len(RETURN_REASONS)]
        if variant % 2:
            return f"api return {p.api_return(lead_id, partner_id, reason)}"
        return f"inbox return {p.inbox_lead(lead_id, partner_id, 'return', reason_code=reason)}"
    return f"inbox {kind} {p.inbox_lead(lead_id, partner_id, kind, **INBOX_FIELDS[kind])}"


def apply(p: Pipeline, lead_id: str, kind: str, variant: int) -> str:
    """Do ``kind`` to the lead through its entry point; returns what was done (for the failure report)."""
    state = p.state(lead_id)
    if kind in ("decline", "accept", "expire"):
        return _on_offer(p, lead_id, kind, variant)
    if kind in ("return", "status", "win", "lose"):
        return _on_held(p, lead_id, kind, variant)
    if kind == "reroute":
        if state not in ("offered", "returned", "routing"):
            return "skip"
        return f"cockpit reroute {p.cockpit(lead_id, 'reroute')}"
    if kind == "assign":
        if state not in ("qualified", "routing", "offered", "returned"):
            return "skip"
        partners = [p.sf_partner, *(i.partner_id for i in p.inbox.values())]
        chosen = partners[variant % len(partners)]
        return f"cockpit assign {p.cockpit(lead_id, 'assign', partner_id=chosen)}"
    if kind == "cli_route":
        return f"cli route {p.cli('route', lead_id, '--json').exit_code}"
    return f"cli sync {p.cli('sync', '--json').exit_code}"


def quiet(p: Pipeline, lead_id: str, before: str, timeout: float = 30.0) -> None:
    """Wait until leadbridge owes the lead nothing (and a change from a partner's CRM was pulled)."""
    wait_until(lambda: not p.stalled([lead_id]), timeout)
    time.sleep(0.3)


def settle(p: Pipeline, lead_ids: list[str], timeout: float = 120.0) -> None:
    """Partners accept whatever is still offered to them until every lead is settled (or time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {lead_id: p.state(lead_id) for lead_id in lead_ids}
        if all(state in SETTLED for state in states.values()) and not p.stalled(lead_ids):
            return
        for lead_id, state in states.items():
            if state == "offered":
                _on_offer(p, lead_id, "accept", 1)
        time.sleep(1.0)


def check_liveness(p: Pipeline, lead_ids: list[str], log: list[str], timeout: float = 90.0) -> None:
    """The property of the module docstring; ``log`` says what was done, for the failure message."""
    settle(p, lead_ids)

    def done() -> bool:
        states = {lead_id: p.state(lead_id) for lead_id in lead_ids}
        return (
            all(s in SETTLED for s in states.values())
            and not p.stalled(lead_ids)
            and not p.unsent_changes(lead_ids)
        )

    if not wait_until(done, timeout, interval=1.0):
        states = {lead_id: p.state(lead_id) for lead_id in lead_ids}
        unsettled = {k: v for k, v in states.items() if v not in SETTLED}
        raise AssertionError(
            f"not settled: {unsettled}; stalled: {p.stalled(lead_ids)}; "
            f"unsent: {p.unsent_changes(lead_ids)[:5]}; moves: {log}"
        )
