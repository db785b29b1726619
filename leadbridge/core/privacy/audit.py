"""The audit log: admin actions, and who viewed which identified lead, where (GDPR Art. 5(2), 30).

Rules:
- one row per fact: when, who (``actor`` as the web and the CLI name it: ``admin:…``,
  ``partner-user:…``, ``api-key:…``, ``cli``), through which ``channel`` (cockpit, inbox, api, cli),
  what (``action``: ``view_lead``, ``erase``, ``export_subject``, ``consent``…) and on which lead;
- the log carries no personal data of a lead: a subject named by e-mail (an access request) is
  kept as a pseudonym (``subject_ref``, a SHA-256 prefix of the normalised address), so the DPO can
  still answer "was this person's data exported, when, by whom" by hashing the address again;
- a list that shows identified leads (the cockpit's and the API's lead lists, a partner's held
  leads in the inbox and the partner API) logs one ``view_lead`` row per lead shown, with
  ``detail.via`` naming the list (``record_views``: one multi-row insert per page);
- the log is append-only; it is read newest first, and exported as CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from leadbridge.core.store.tables import Base

CHANNELS = ("cockpit", "inbox", "api", "cli", "system")


class AuditRow(Base):
    """One audited fact (module rules)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_lead", "lead_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[str | None] = mapped_column(String(40))
    subject_ref: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]


def subject_ref(email: str) -> str:
    """The pseudonym an e-mail address is logged under (module rules)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def record(
    session: Session,
    *,
    actor: str,
    channel: str,
    action: str,
    at: datetime,
    lead_id: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one fact in the caller's transaction (codes and ids only in ``detail``)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown audit channel {channel!r} (known: {', '.join(CHANNELS)})")
    session.add(
        AuditRow(
            at=at,
            actor=actor[:255],
            channel=channel,
            action=action,
            lead_id=lead_id,
            subject_ref=subject_ref(subject) if subject else None,
            detail=detail or {},
        )
    )


def record_views(
    session: Session, *, actor: str, channel: str, lead_ids: Iterable[str], at: datetime, via: str
) -> int:
    """Log that ``actor`` was shown each of ``lead_ids`` in the list ``via`` (module rules); how many."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown audit channel {channel!r} (known: {', '.join(CHANNELS)})")
    rows = [
        {
            "at": at,
            "actor": actor[:255],
            "channel": channel,
            "action": "view_lead",
            "lead_id": lead_id,
            "subject_ref": None,
            "detail": {"via": via},
        }
        for lead_id in dict.fromkeys(lead_ids)  # each lead once, in the order shown
    ]
    if rows:
        session.execute(insert(AuditRow), rows)
    return len(rows)


def entries(
    session: Session,
    *,
    lead_id: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    limit: int = 500,
) -> list[AuditRow]:
    """The newest ``limit`` facts, optionally of one lead, one actor or one subject (by e-mail)."""
    query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
    if lead_id:
        query = query.where(AuditRow.lead_id == lead_id)
    if actor:
        query = query.where(AuditRow.actor == actor)
    if subject:
        query = query.where(AuditRow.subject_ref == subject_ref(subject))
    return list(session.execute(query).scalars())


FIELDS = ("at", "actor", "channel", "action", "lead_id", "subject_ref", "detail")


def as_csv(rows: Iterable[AuditRow]) -> str:
    """The facts as CSV with a header line (times in ISO 8601 UTC)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow(
            [
                row.at.isoformat(),
                row.actor,
                row.channel,
                row.action,
                row.lead_id or "",
                row.subject_ref or "",
                ";".join(f"{k}={v}" for k, v in sorted(row.detail.items())),
            ]
        )
    return out.getvalue()
