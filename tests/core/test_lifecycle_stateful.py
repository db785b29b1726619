"""Hypothesis stateful test: random sequences of lead and offer actions keep the invariants.

Invariants checked after every step:
- the stored state equals the lifecycle table folded over the lead's event log;
- a lead has at most one accepted offer, and its holder is exactly that offer's partner;
- replaying any earlier idempotency key adds no event.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select

from leadbridge.core.errors import ConflictError, IllegalTransition
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState, next_state
from leadbridge.core.model import OfferStatus
from leadbridge.core.offers import OfferService
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow
from tests.builders import a_lead

PARTNERS = ["P-a", "P-b", "P-c"]
LEAD_EVENTS = [
    EventKind.QUALIFY,
    EventKind.ROUTE,
    EventKind.REROUTE,
    EventKind.STATUS,
    EventKind.WIN,
    EventKind.LOSE,
    EventKind.CLOSE,
    EventKind.NURTURE,
    EventKind.DIRECT,
    EventKind.REOPEN,
]


class LeadLifecycleMachine(RuleBasedStateMachine):
    leads = Bundle("leads")
    offers = Bundle("offers")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.database = Database(f"sqlite:///{Path(self.tmp.name) / 'sm.db'}")
        self.database.upgrade()
        with self.database.transaction() as session:
            for partner in PARTNERS:
                from tests.builders import a_partner

                a_partner(session, id=partner, external_id=partner)
        self.used_keys: list[tuple[str, str, EventKind]] = []
        self.step = 0

    def teardown(self) -> None:
        self.database.engine.dispose()
        self.tmp.cleanup()

    def _key(self) -> str:
        self.step += 1
        return f"k{self.step}"

    @rule(target=leads)
    def receive(self) -> str:
        lead = a_lead()
        with self.database.transaction() as session:
            LeadService(session).receive(
                lead, actor="t", source_system="t", idempotency_key=f"recv:{lead.id}"
            )
        return lead.id

    @rule(lead_id=leads, kind=st.sampled_from(LEAD_EVENTS), partner=st.sampled_from([*PARTNERS, None]))
    def lead_event(self, lead_id: str, kind: EventKind, partner: str | None) -> None:
        key = self._key()
        try:
            with self.database.transaction() as session:
                LeadService(session).apply(lead_id, kind, actor="t", idempotency_key=key, partner_id=partner)
            self.used_keys.append((lead_id, key, kind))
        except (IllegalTransition, ConflictError):
            pass

    @rule(target=offers, lead_id=leads, partner=st.sampled_from(PARTNERS))
    def offer(self, lead_id: str, partner: str) -> str:
        try:
            with self.database.transaction() as session:
                round_ = LeadService(session).get_row(lead_id).round or 1
                offer, _ = OfferService(session).create(
                    lead_id,
                    partner,
                    round=round_,
                    mode="offer_n",
                    deadline=None,
                    decision=None,
                    idempotency_key=self._key(),
                )
            return offer.id
        except (IllegalTransition, ConflictError):
            return "none"

    @rule(offer_id=offers, action=st.sampled_from(["accept", "decline", "expire", "withdraw"]))
    def decide(self, offer_id: str, action: str) -> None:
        if offer_id == "none":
            return
        try:
            with self.database.transaction() as session:
                service = OfferService(session)
                if action == "accept":
                    service.accept(offer_id, actor="p")
                elif action == "decline":
                    service.decline(offer_id, reason_code="no_fit", actor="p")
                elif action == "expire":
                    service.expire(offer_id)
                else:
                    service.withdraw(offer_id, actor="router", reason="test")
        except (IllegalTransition, ConflictError):
            pass

    @rule(lead_id=leads, partner=st.sampled_from(PARTNERS))
    def give_back(self, lead_id: str, partner: str) -> None:
        try:
            with self.database.transaction() as session:
                OfferService(session).return_lead(
                    lead_id,
                    partner_id=partner,
                    reason_code="no_capacity",
                    actor="p",
                    idempotency_key=self._key(),
                )
        except (IllegalTransition, ConflictError):
            pass

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if not self.used_keys:
            return
        lead_id, key, kind = data.draw(st.sampled_from(self.used_keys))
        with self.database.transaction() as session:
            before = session.execute(select(func.count()).select_from(LeadEventRow)).scalar_one()
            applied = LeadService(session).apply(lead_id, kind, actor="t", idempotency_key=key)
            after = session.execute(select(func.count()).select_from(LeadEventRow)).scalar_one()
        assert not applied.created and before == after

    @invariant()
    def projection_matches_log_and_one_holder(self) -> None:
        with self.database.transaction() as session:
            service = LeadService(session)
            for row in session.execute(select(LeadRow)).scalars():
                state: LeadState | None = None
                for event in service.events(row.id):
                    state = next_state(state, EventKind(event.kind))
                    assert state is not None and state.value == event.to_state
                assert state is not None and row.state == state.value
                accepted = (
                    session.execute(
                        select(OfferRow.partner_id).where(
                            OfferRow.lead_id == row.id, OfferRow.status == OfferStatus.ACCEPTED.value
                        )
                    )
                    .scalars()
                    .all()
                )
                assert len(accepted) <= 1
                if accepted:
                    assert row.partner_id == accepted[0]


LeadLifecycleMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLeadLifecycle = LeadLifecycleMachine.TestCase
