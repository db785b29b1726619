"""The ``partner_performance`` section of a home mapping: partner figures onto the partner's account.

A manufacturer's mapping file may carry one section saying which scorecard figures leadbridge
writes onto each partner's account record in the home CRM, and into which fields::

    partner_performance:
      object: Account              # the account object (default: Account, companies, account)
      window_days: 90              # figures over the last 90 days
      every_hours: 24              # computed again (and written if they changed) once a day
      fields:                      # figure: remote field
        offers: LeadBridge_Offers__c
        acceptance_rate: LeadBridge_Acceptance_Rate__c
        updated_at: LeadBridge_Performance_Updated__c

Rules:
- the figure names are closed (``FIGURES``); an unknown one is a load error naming its line with
  the known ones; a remote field is a plain API name (letters, digits, ``_``), written once;
- rates are percentages (0–100, two places), hours and ratings numbers with two places, revenue a
  decimal with cents, counts whole numbers, ``updated_at`` the date-time the figures were computed;
- ``check_performance`` compares the section with the account object's describe: a field that does
  not exist, is read-only or holds another family of values is an error naming figure and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leadbridge.mappings.check import Finding
from leadbridge.ports.accounts import PerformanceSection
from leadbridge.ports.remote import DATETIME, NUMBER, TEXT, FieldSpec, RemoteObject

# Figure name -> (value family, what it is). Keep in step with sync/performance_push.py and docs/mappings.md.
FIGURES: dict[str, tuple[str, str]] = {
    "offers": (NUMBER, "offers made in the window"),
    "accepted": (NUMBER, "offers accepted (or later returned)"),
    "declined": (NUMBER, "offers declined"),
    "expired": (NUMBER, "offers left to expire"),
    "won": (NUMBER, "leads won"),
    "lost": (NUMBER, "leads lost"),
    "returned": (NUMBER, "leads given back"),
    "acceptance_rate": (NUMBER, "accepted / (accepted + declined + expired), in %"),
    "conversion": (NUMBER, "won / accepted, in %"),
    "win_rate": (NUMBER, "won / (won + lost), in %"),
    "sla_compliance": (NUMBER, "offers answered by their deadline, in %"),
    "median_accept_hours": (NUMBER, "median hours from offer to accept"),
    "p90_accept_hours": (NUMBER, "90th percentile hours from offer to accept"),
    "median_contact_hours": (NUMBER, "median hours from accept to first contact"),
    "revenue_won": (NUMBER, "sum of won amounts"),
    "average_rating": (NUMBER, "mean lead-quality rating (1-5)"),
    "window_days": (NUMBER, "the window the figures cover, in days"),
    "updated_at": (DATETIME, "when the figures were computed"),
}
DEFAULT_OBJECTS = {"salesforce": "Account", "hubspot": "companies", "dynamics": "account"}
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


class PerformanceModel(BaseModel):
    """The section as written (shape only; names are checked by ``performance_problems``)."""

    model_config = ConfigDict(extra="forbid")

    object: str | None = Field(default=None, min_length=1)
    window_days: int = Field(default=90, ge=1, le=3650)
    every_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    fields: dict[str, str] = Field(min_length=1)


def performance_problems(model: PerformanceModel, line_of: Any) -> list[tuple[int, str]]:
    """What is wrong with the section's names: ``(line, message)``; ``line_of(figure)`` gives lines."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for figure, remote in model.fields.items():
        where = f"partner_performance.fields.{figure}"
        if figure not in FIGURES:
            known = ", ".join(FIGURES)
            problems.append((line_of(figure), f"{where}: unknown figure {figure!r} (known: {known})"))
        if not _FIELD_NAME.match(remote or ""):
            message = (
                f"{where}: {remote!r} is not a field name (letters, digits and _; starting with a letter)"
            )
            problems.append((line_of(figure), message))
        elif remote.casefold() in seen:
            problems.append(
                (line_of(figure), f"{where}: {remote} is already written by {seen[remote.casefold()]}")
            )
        seen.setdefault((remote or "").casefold(), figure)
    return problems


@dataclass(frozen=True)
class PerformanceFinding:
    """One problem of the section against the live account object."""

    figure: str
    field: str
    kind: str  # missing | read_only | type
    message: str
    line: int = 0


_FITS = {NUMBER: {NUMBER}, DATETIME: {DATETIME}}


def check_performance(section: PerformanceSection, remote: RemoteObject) -> list[PerformanceFinding]:
    """Compare the section with the account object's describe (module rules); every finding is an error."""
    found: list[PerformanceFinding] = []
    for figure, name in section.fields:
        family = FIGURES[figure][0]
        described = remote.get(name)
        line = section.line(figure)
        if described is None:
            message = f"{figure} -> {name}: {remote.object} has no field {name}"
            found.append(PerformanceFinding(figure, name, "missing", message, line))
        elif not described.writable:
            message = f"{figure} -> {name}: {remote.object}.{name} is read-only"
            found.append(PerformanceFinding(figure, name, "read_only", message, line))
        elif described.family not in _FITS[family] and not (remote.sends_text and described.family == TEXT):
            message = (
                f"{figure} -> {name}: {remote.object}.{name} is {described.type} ({described.family}); "
                f"{figure} is a {family}"
            )
            found.append(PerformanceFinding(figure, name, "type", message, line))
    return found


def performance_specs(findings: list[PerformanceFinding]) -> list[FieldSpec]:
    """The account fields to create for the ``missing`` findings (``mappings check --fix``)."""
    return [
        FieldSpec(
            name=f.field,
            label=f.field.removesuffix("__c").replace("_", " ").strip().title(),
            family=FIGURES[f.figure][0],
        )
        for f in findings
        if f.kind == "missing"
    ]


def as_findings(found: list[PerformanceFinding]) -> list[Finding]:
    """The section's findings in ``mappings check``'s shape (every one an error)."""
    return [
        Finding(
            "error", f.kind, f.field, f"partner_performance: {f.message}", f.line, "out", FIGURES[f.figure][0]
        )
        for f in found
    ]
