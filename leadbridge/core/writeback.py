"""The canonical write-back record: what leadbridge knows about a lead's routing and progress.

The sync engine fills one ``LeadStatusRecord`` per lead from the event log; ``out`` mappings address
its fields as ``status.<name>`` (for example ``status.partner_name`` → ``LeadBridge_Partner__c``), and
partner-side ``in`` mappings read a partner's status and outcome back into it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import OutcomeResult


class LeadStatusRecord(BaseModel):
    """Routing, claim, progress and outcome of one lead, as written back to the manufacturer CRM."""

    model_config = ConfigDict(extra="forbid")

    lead_id: str | None = None
    state: LeadState | None = None
    partner_id: str | None = None
    partner_name: str | None = None
    offered_at: datetime | None = None
    claimed_at: datetime | None = None
    partner_status: str | None = None
    outcome: OutcomeResult | None = None
    reason: str | None = None
    expected_revenue: Decimal | None = Field(default=None, ge=0)
    close_date: date | None = None
    next_follow_up: date | None = None
    updated_at: datetime | None = None
