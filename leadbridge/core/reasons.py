"""Reason codes for declines, returns and lost deals; admins may replace them in the policy.

Each return reason also says what happens next: ``reroute`` (another partner may take it) or
``nurture`` (back to marketing) — a lead returned as "not a lead" must not be offered again.
A decline or return for ``NOT_A_LEAD`` is feedback on the lead, not on the partner: it does not
count against the partner's acceptance rate (``performance.py``, ``reports/scorecard.py``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

NOT_A_LEAD = "not_a_lead"


class ReasonKind(StrEnum):
    DECLINE = "decline"
    RETURN = "return"
    LOST = "lost"
    RECLAIM = "reclaim"  # leadbridge took a lead back (SLA breach); partners cannot choose these


class ReturnAction(StrEnum):
    REROUTE = "reroute"
    NURTURE = "nurture"
    CLOSE = "close"


class ReasonCode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    label_en: str
    label_de: str
    kinds: tuple[ReasonKind, ...]
    on_return: ReturnAction = ReturnAction.REROUTE


DEFAULT_REASONS: tuple[ReasonCode, ...] = (
    ReasonCode(
        code="no_fit",
        label_en="No fit",
        label_de="Passt nicht",
        # also a loss: a claimed lead the partner marks unqualified (HubSpot UNQUALIFIED)
        kinds=(ReasonKind.DECLINE, ReasonKind.RETURN, ReasonKind.LOST),
    ),
    ReasonCode(
        code=NOT_A_LEAD,
        label_en="Not a lead",
        label_de="Kein Lead",
        kinds=(ReasonKind.DECLINE, ReasonKind.RETURN),
        on_return=ReturnAction.NURTURE,
    ),
    ReasonCode(
        code="no_capacity",
        label_en="No capacity",
        label_de="Keine Kapazität",
        kinds=(ReasonKind.DECLINE, ReasonKind.RETURN),
    ),
    ReasonCode(
        code="duplicate",
        label_en="Duplicate",
        label_de="Dublette",
        kinds=(ReasonKind.DECLINE, ReasonKind.RETURN),
        on_return=ReturnAction.CLOSE,
    ),
    ReasonCode(
        code="unreachable",
        label_en="Unreachable",
        label_de="Nicht erreichbar",
        kinds=(ReasonKind.RETURN, ReasonKind.LOST),
        on_return=ReturnAction.NURTURE,
    ),
    ReasonCode(
        code="lost_to_competitor",
        label_en="Lost to competitor",
        label_de="An Wettbewerber verloren",
        kinds=(ReasonKind.LOST,),
    ),
    ReasonCode(
        code="no_budget",
        label_en="No budget",
        label_de="Kein Budget",
        kinds=(ReasonKind.LOST, ReasonKind.RETURN),
        on_return=ReturnAction.NURTURE,
    ),
    ReasonCode(
        code="postponed",
        label_en="Postponed",
        label_de="Verschoben",
        kinds=(ReasonKind.LOST, ReasonKind.RETURN),
        on_return=ReturnAction.NURTURE,
    ),
    ReasonCode(
        code="sla_first_contact_overdue",
        label_en="Taken back: no first contact in time",
        label_de="Zurückgenommen: kein Erstkontakt in der Frist",
        kinds=(ReasonKind.RECLAIM,),
    ),
    ReasonCode(
        code="sla_stalled",
        label_en="Taken back: no progress (stalled)",
        label_de="Zurückgenommen: kein Fortschritt",
        kinds=(ReasonKind.RECLAIM,),
    ),
)


class ReasonCatalog(BaseModel):
    """The configured reason codes; lookups say clearly when a code is unknown for its kind."""

    model_config = ConfigDict(extra="forbid")

    reasons: list[ReasonCode] = Field(default_factory=lambda: list(DEFAULT_REASONS))

    def codes(self, kind: ReasonKind) -> list[str]:
        return [r.code for r in self.reasons if kind in r.kinds]

    def get(self, code: str, kind: ReasonKind) -> ReasonCode:
        """Return the reason ``code`` allowed for ``kind``; raise ``ValueError`` naming the choices."""
        for reason in self.reasons:
            if reason.code == code and kind in reason.kinds:
                return reason
        raise ValueError(f"unknown {kind.value} reason {code!r}; choose one of {', '.join(self.codes(kind))}")

    def on_return(self, code: str) -> ReturnAction:
        """What a return (by the partner) or reclaim (by leadbridge) with ``code`` leads to."""
        for reason in self.reasons:
            if reason.code == code and {ReasonKind.RETURN, ReasonKind.RECLAIM} & set(reason.kinds):
                return reason.on_return
        return self.get(code, ReasonKind.RETURN).on_return  # raises, naming the choices

    def label(self, code: str, language: str = "en") -> str:
        for reason in self.reasons:
            if reason.code == code:
                return reason.label_de if language == "de" else reason.label_en
        return code
