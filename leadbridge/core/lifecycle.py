"""The lead lifecycle: one explicit table of states and the events allowed in each.

```
received ─qualify─▶ qualified ─route─▶ routing ─offer─▶ offered ─accept─▶ accepted ─status─▶ working
   │  ╲                 │   ╲            │  ▲  ╲          │  ▲               │   │              │
   │   reject           │    direct      │  │   fallback  │  │ offer/decline │   win / lose    │ win / lose
   ▼                    ▼                ▼  │   _nurture  │  │ expire/       ▼                  ▼
rejected           direct (sales)      nurture  reroute◀──┘  └ withdraw    won / lost ◀───────┘
                                          ▲        ▲                          │
                                          │        └──────── return ◀── accepted/working
                                          └──── return (not a lead) ─── returned ─ reroute ─▶ routing
won / lost / rejected / direct / nurture ─close─▶ closed
any state ─erase─▶ erased   (GDPR Art. 17: the personal data is gone; nothing leaves this state)
```

Events that keep the state (``offer`` while offered, ``decline``, ``expire``, ``withdraw``, ``status``,
``note``…) are still appended to the log: the log is the history, the state is its projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LeadState(StrEnum):
    RECEIVED = "received"
    QUALIFIED = "qualified"
    NURTURE = "nurture"
    REJECTED = "rejected"
    ROUTING = "routing"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    WORKING = "working"
    WON = "won"
    LOST = "lost"
    RETURNED = "returned"
    DIRECT = "direct"
    CLOSED = "closed"
    ERASED = "erased"


class EventKind(StrEnum):
    RECEIVE = "receive"
    UPDATE = "update"
    QUALIFY = "qualify"
    NURTURE = "nurture"
    REJECT = "reject"
    ROUTE = "route"
    DIRECT = "direct"
    OFFER = "offer"
    DECLINE = "decline"
    EXPIRE = "expire"
    WITHDRAW = "withdraw"
    REROUTE = "reroute"
    ACCEPT = "accept"
    STATUS = "status"
    NOTE = "note"
    WIN = "win"
    LOSE = "lose"
    RETURN = "return"
    CLOSE = "close"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    REMIND = "remind"
    CONFLICT = "conflict"
    WRITE_BACK = "write_back"
    ERASE = "erase"
    ERASURE_NOTICE = "erasure_notice"  # a recipient was told of an erasure (the proof, Art. 19)
    CONSENT = "consent"  # the lead's consent scope changed (a narrowing withdraws it from partners)


S = LeadState
E = EventKind

# (event, from-state) -> to-state. ``None`` as from-state means "a lead that does not exist yet".
# Every pair not listed here is illegal.
TRANSITIONS: dict[tuple[EventKind, LeadState | None], LeadState] = {
    (E.RECEIVE, None): S.RECEIVED,
    (E.QUALIFY, S.RECEIVED): S.QUALIFIED,
    (E.QUALIFY, S.NURTURE): S.QUALIFIED,
    (E.NURTURE, S.RECEIVED): S.NURTURE,
    (E.NURTURE, S.QUALIFIED): S.NURTURE,
    (E.NURTURE, S.ROUTING): S.NURTURE,
    (E.NURTURE, S.RETURNED): S.NURTURE,
    (E.REJECT, S.RECEIVED): S.REJECTED,
    (E.REJECT, S.QUALIFIED): S.REJECTED,
    (E.QUALIFY, S.REJECTED): S.QUALIFIED,  # an admin splits a lead rejected as a duplicate
    (E.ROUTE, S.QUALIFIED): S.ROUTING,
    (E.DIRECT, S.QUALIFIED): S.DIRECT,
    (E.DIRECT, S.ROUTING): S.DIRECT,
    (E.DIRECT, S.RETURNED): S.DIRECT,
    (E.OFFER, S.ROUTING): S.OFFERED,
    (E.OFFER, S.OFFERED): S.OFFERED,
    (E.DECLINE, S.OFFERED): S.OFFERED,
    (E.EXPIRE, S.OFFERED): S.OFFERED,
    (E.WITHDRAW, S.OFFERED): S.OFFERED,
    (E.WITHDRAW, S.ACCEPTED): S.ACCEPTED,
    (E.WITHDRAW, S.WORKING): S.WORKING,
    (E.REROUTE, S.OFFERED): S.ROUTING,
    (E.REROUTE, S.RETURNED): S.ROUTING,
    (E.ACCEPT, S.OFFERED): S.ACCEPTED,
    (E.STATUS, S.ACCEPTED): S.WORKING,
    (E.STATUS, S.WORKING): S.WORKING,
    (E.WIN, S.ACCEPTED): S.WON,
    (E.WIN, S.WORKING): S.WON,
    (E.LOSE, S.ACCEPTED): S.LOST,
    (E.LOSE, S.WORKING): S.LOST,
    (E.RETURN, S.ACCEPTED): S.RETURNED,
    (E.RETURN, S.WORKING): S.RETURNED,
    (E.CLOSE, S.WON): S.CLOSED,
    (E.CLOSE, S.LOST): S.CLOSED,
    (E.CLOSE, S.REJECTED): S.CLOSED,
    (E.CLOSE, S.DIRECT): S.CLOSED,
    (E.CLOSE, S.NURTURE): S.CLOSED,
    (E.CLOSE, S.RETURNED): S.CLOSED,
    (E.REOPEN, S.LOST): S.WORKING,
    # Erasure (Art. 17) ends a lead from any state; an erased lead takes no further transition.
    **{(E.ERASE, state): S.ERASED for state in S if state is not S.ERASED},
}

# Events that record a fact without changing the state; allowed in every state a lead can be in.
STATE_KEEPING: frozenset[EventKind] = frozenset(
    {E.UPDATE, E.NOTE, E.ESCALATE, E.REMIND, E.CONFLICT, E.WRITE_BACK, E.ERASURE_NOTICE, E.CONSENT}
)

# States in which exactly one partner holds the lead (its accepting partner).
CLAIMED_STATES: frozenset[LeadState] = frozenset({S.ACCEPTED, S.WORKING, S.WON, S.LOST})
FINAL_STATES: frozenset[LeadState] = frozenset(
    {S.WON, S.LOST, S.REJECTED, S.DIRECT, S.NURTURE, S.CLOSED, S.ERASED}
)
OPEN_STATES: frozenset[LeadState] = frozenset(set(LeadState) - FINAL_STATES)


@dataclass(frozen=True)
class Transition:
    event: EventKind
    from_state: LeadState | None
    to_state: LeadState


def allowed_events(state: LeadState | None) -> list[EventKind]:
    """Every event that may be applied in ``state``, in table order."""
    found = [event for (event, source) in TRANSITIONS if source == state]
    if state is not None:
        found += sorted(STATE_KEEPING)
    return list(dict.fromkeys(found))


def next_state(state: LeadState | None, event: EventKind) -> LeadState | None:
    """The state after ``event`` in ``state``, or ``None`` when the table forbids it."""
    if event in STATE_KEEPING:
        return state
    return TRANSITIONS.get((event, state))


def all_transitions() -> list[Transition]:
    """The table as a list, for docs, the CLI and exhaustive tests."""
    return [Transition(event, source, target) for (event, source), target in TRANSITIONS.items()]
