"""A partner's lead pool: blind listings, cherry-pick claims, blind pulls and the partner's limits.

Rules:
- a partner's pool is its pending pool listings (offers in mode ``pool``/``hybrid``, made by the
  router for partners the matcher found eligible — caps, consent and territory held) whose window
  has not closed. Each is shown as a ``PoolItem``: region (country + first two postal digits),
  industry, size, products, fit score, distance and age — never a person, company, e-mail or phone;
- **cherry pick** (``claim``): the first claim wins. The lead row is locked first and re-read, so of
  two concurrent claims one wins and the other gets ``ConflictError`` (409) — on SQLite and
  PostgreSQL alike. Claiming again what one already won replays the win;
- **blind pull** (``pull``): the best open listing for the partner (fit score, then oldest) is
  claimed in the same step; an empty pool is ``EmptyPool`` (404) saying why;
- the policy's ``distribution.pool.claim`` may allow only one of the two;
- limits: open claims (held leads accepted or being worked) and claims per UTC day, from the
  policy's ``distribution.pool`` and the partner's own ``capacity`` (the lower counts). At a limit
  the pool is read-only: it is still listed, but claims and pulls are ``PoolLimitReached`` (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, NamedTuple, overload

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, NotFound
from leadbridge.core.event_batch import event_batch
from leadbridge.core.leads import Applied, Clock, event_from_row
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import LeadEvent, OfferStatus, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partner import segment_for_employees
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.policy import POOL_MODES, Policy, PoolClaim
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow

OPEN_CLAIM_STATES = (LeadState.ACCEPTED.value, LeadState.WORKING.value)
# A pull reads the best PULL_BATCH listings afresh up to PULL_ROUNDS times; all taken meanwhile:
# "try again" (404 with the reason).
PULL_BATCH, PULL_ROUNDS = 10, 10


class EmptyPool(NotFound):
    """A blind pull found nothing to hand out; the message says why."""


class PoolLimitReached(ConflictError):
    """The partner is at one of its limits: its pool is read-only until it frees up."""


class PoolItem(BaseModel):
    """One lead in a partner's pool, blind: built field by field, nothing copied wholesale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lead_id: str
    mode: str
    region: str
    industry: str | None
    size: str | None
    products: list[str]
    score: float | None
    distance_km: float | None
    age_hours: float
    listed_at: datetime
    window_ends_at: datetime | None


class PoolLimits(BaseModel):
    """Where the partner stands against its limits (``None``: no limit)."""

    open_claims: int
    max_open_claims: int | None
    claims_today: int
    claims_per_day: int | None
    read_only: bool
    reason: str | None


def region(lead: dict[str, Any]) -> str:
    """Country and the first two postal digits (``DE-80``): where, never who."""
    address = lead.get("address") or {}
    country = address.get("country") or "??"
    postal = (address.get("postal_code") or "").strip()
    return f"{country}-{postal[:2]}" if len(postal) >= 2 else country


# The partner's fit score, stored with each listing's blind preview.
_FIT = OfferRow.decision[("preview", "score")].as_float()


class Listing(NamedTuple):
    """What the pool reads of one listing: the offer's columns, its preview's fit and distance,
    and the stored lead data."""

    lead_id: str
    mode: str
    listed_at: datetime
    window_ends_at: datetime | None
    score: float | None
    distance_km: float | None
    lead: dict[str, Any]


def pool_item(listing: Listing, now: datetime) -> PoolItem:
    """The blind view of one listing, built field by field from the whitelist."""
    lead = listing.lead
    segment = segment_for_employees(lead.get("employees"))
    created = datetime.fromisoformat(lead["created_at"]) if lead.get("created_at") else listing.listed_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return PoolItem(
        lead_id=listing.lead_id,
        mode=listing.mode,
        region=region(lead),
        industry=lead.get("industry"),
        size=segment.value if segment else None,
        products=list(lead.get("product_interests") or []),
        score=listing.score,
        distance_km=listing.distance_km,
        age_hours=round(max(0.0, (now - created).total_seconds()) / 3600, 1),
        listed_at=listing.listed_at,
        window_ends_at=listing.window_ends_at,
    )


def _lowest(*limits: int | None) -> int | None:
    given = [limit for limit in limits if limit is not None]
    return min(given) if given else None


@dataclass
class PartnerPool:
    """One partner's pool inside the caller's transaction (see the module rules)."""

    session: Session
    partner_id: str
    actor: str
    policy: Policy
    clock: Clock = utcnow
    source_system: str = "inbox"

    # -- reading -----------------------------------------------------------------------------
    def _open(self, *columns: Any) -> Select[Any]:
        """The partner's open listings, best fit first, then oldest (ranked in SQL: a pull reads
        a handful of rows, not every listing's stored decision)."""
        return (
            select(*columns)
            .where(
                OfferRow.partner_id == self.partner_id,
                OfferRow.status == OfferStatus.PENDING.value,
                OfferRow.mode.in_(POOL_MODES),
                OfferRow.deadline > self.clock(),
            )
            .order_by(func.coalesce(_FIT, 0.0).desc(), OfferRow.offered_at, OfferRow.lead_id)
        )

    def items(self, limit: int | None = None) -> list[PoolItem]:
        """The open listings (the best ``limit``), best fit first, then oldest."""
        query = self._open(
            OfferRow.lead_id,
            OfferRow.mode,
            OfferRow.offered_at,
            OfferRow.deadline,
            _FIT,
            OfferRow.decision[("preview", "distance_km")].as_float(),
            LeadRow.data,
        ).join(LeadRow, LeadRow.id == OfferRow.lead_id)
        if limit is not None:
            query = query.limit(limit)
        now = self.clock()
        return [pool_item(Listing(*row), now) for row in self.session.execute(query).all()]

    def limits(self) -> PoolLimits:
        """Open claims and claims today against the partner's limits; read-only at either."""
        rules = self.policy.distribution.pool
        capacity = PartnerRepository(self.session).get(self.partner_id).capacity
        max_open = _lowest(rules.max_open_claims, capacity.max_open)
        per_day = _lowest(rules.claims_per_day, capacity.per_day)
        open_claims = self.session.execute(
            select(func.count())
            .select_from(LeadRow)
            .where(LeadRow.partner_id == self.partner_id, LeadRow.state.in_(OPEN_CLAIM_STATES))
        ).scalar_one()
        day_start = datetime.combine(self.clock().date(), time(0), self.clock().tzinfo)
        today = self.session.execute(
            select(func.count())
            .select_from(LeadEventRow)
            .where(
                LeadEventRow.partner_id == self.partner_id,
                LeadEventRow.kind == EventKind.ACCEPT.value,
                LeadEventRow.occurred_at >= day_start,
            )
        ).scalar_one()
        reason = None
        if max_open is not None and open_claims >= max_open:
            reason = f"you hold {open_claims} open leads (limit {max_open}): work or close one first"
        elif per_day is not None and today >= per_day:
            reason = f"you claimed {today} leads today (limit {per_day} a day)"
        return PoolLimits(
            open_claims=open_claims,
            max_open_claims=max_open,
            claims_today=today,
            claims_per_day=per_day,
            read_only=reason is not None,
            reason=reason,
        )

    # -- taking ------------------------------------------------------------------------------
    def claim(self, lead_id: str) -> LeadEvent:
        """Cherry pick: claim this lead from the pool; the first claim wins (module rules)."""
        if self.policy.distribution.pool.claim is PoolClaim.BLIND_PULL:
            raise ConflictError("this pool hands out leads by blind pull only: use 'next lead' (pool/pull)")
        return self._take(lead_id)

    def pull(self) -> LeadEvent:
        """Blind pull: claim the best open listing for this partner, in one step.

        Like a work queue: the best few listings are read afresh each round, and a lead another
        partner is claiming this very moment (its row locked) is skipped rather than waited for, so
        partners pulling at once spread over the pool instead of queueing behind one lead."""
        if self.policy.distribution.pool.claim is PoolClaim.CHERRY_PICK:
            raise ConflictError("this pool is cherry pick only: claim a lead from the list")
        self._check_limits()
        seen_any = False
        for _ in range(PULL_ROUNDS):
            best = list(self.session.execute(self._open(OfferRow.lead_id).limit(PULL_BATCH)).scalars())
            seen_any = seen_any or bool(best)
            for lead_id in best:
                try:
                    event = self._take(lead_id, skip_locked=True)
                except PoolLimitReached:
                    raise
                except ConflictError:
                    continue  # claimed by someone else meanwhile: the next one
                if event is not None:
                    return event
            if not best:
                break
        if seen_any:
            raise EmptyPool("every lead in your pool was claimed by other partners a moment ago; try again")
        raise EmptyPool(
            "your pool is empty: no open lead is listed for you right now (leads appear when they "
            "match your territory, products and capacity)"
        )

    def _check_limits(self) -> None:
        limits = self.limits()
        if limits.reason is not None:
            raise PoolLimitReached(f"your pool is read-only: {limits.reason}")

    @overload
    def _take(self, lead_id: str) -> LeadEvent: ...
    @overload
    def _take(self, lead_id: str, *, skip_locked: bool) -> LeadEvent | None: ...

    def _take(self, lead_id: str, *, skip_locked: bool = False) -> LeadEvent | None:
        """Claim ``lead_id`` from this partner's pool; with ``skip_locked``, ``None`` when another
        transaction holds the lead (PostgreSQL; SQLite runs one writer at a time anyway)."""
        # Lock the lead first and re-read it: a concurrent claim that committed meanwhile is seen.
        lead = self.session.execute(
            select(LeadRow)
            .where(LeadRow.id == lead_id)
            .with_for_update(skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if lead is None and skip_locked and self.session.get(LeadRow, lead_id) is not None:
            return None
        listing = self.session.execute(
            select(OfferRow)
            .where(
                OfferRow.lead_id == lead_id,
                OfferRow.partner_id == self.partner_id,
                OfferRow.mode.in_(POOL_MODES),
            )
            .order_by(OfferRow.offered_at.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if lead is None or listing is None:
            raise NotFound(f"lead {lead_id} is not in your pool")
        if listing.status == OfferStatus.ACCEPTED.value and lead.partner_id == self.partner_id:
            return self._replay(listing.id, lead_id)
        if listing.status != OfferStatus.PENDING.value or lead.partner_id is not None:
            raise ConflictError(f"lead {lead_id} was claimed by another partner first")
        if listing.deadline is not None and listing.deadline <= self.clock():
            raise ConflictError(
                f"the pool window for lead {lead_id} closed at {listing.deadline:%Y-%m-%d %H:%M} UTC"
            )
        self._check_limits()
        offers = OfferService(self.session, self.clock)

        def accept() -> Applied:
            return offers.accept(
                listing.id, actor=self.actor, source_system=self.source_system, partner_id=self.partner_id
            )

        try:
            # The claim and the withdrawal of every other listing of the lead (one per eligible
            # partner) in one flush: we hold the lead locked, so no other writer adds its events.
            with self.session.begin_nested(), event_batch(self.session, [lead]), self.session.no_autoflush:
                applied = accept()
        except IntegrityError:
            applied = accept()  # the checked path, one event at a time (event_batch rules)
        return applied.event

    def _replay(self, offer_id: str, lead_id: str) -> LeadEvent:
        row = self.session.execute(
            select(LeadEventRow).where(
                LeadEventRow.lead_id == lead_id,
                LeadEventRow.offer_id == offer_id,
                LeadEventRow.kind == EventKind.ACCEPT.value,
            )
        ).scalar_one()
        return event_from_row(row)
