"""What a partner sends with each action (from a form, the REST API or a partner system)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class WorkStatus(StrEnum):
    CONTACTED = "contacted"
    MEETING = "meeting"
    PROPOSAL = "proposal"


class ContactChannel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    VISIT = "visit"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeclineInput(_Input):
    reason_code: str = Field(min_length=1, max_length=60)
    comment: str | None = Field(default=None, max_length=2000)


class StatusInput(_Input):
    status: WorkStatus
    expected_revenue: Decimal | None = Field(default=None, ge=0)
    close_date: date | None = None
    next_follow_up: date | None = None
    note: str | None = Field(default=None, max_length=2000)


class ContactInput(_Input):
    channel: ContactChannel
    reached: bool = False
    note: str | None = Field(default=None, max_length=2000)


class NoteInput(_Input):
    text: str = Field(min_length=1, max_length=4000)


class WinInput(_Input):
    amount: Decimal = Field(ge=0)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    close_date: date | None = None


class LoseInput(_Input):
    reason_code: str = Field(min_length=1, max_length=60)
    comment: str | None = Field(default=None, max_length=2000)


class ReturnInput(_Input):
    reason_code: str = Field(min_length=1, max_length=60)
    comment: str | None = Field(default=None, max_length=2000)


class RatingInput(_Input):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
