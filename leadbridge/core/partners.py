"""Partner storage: upsert by external id (imports are idempotent), list, load for matching."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import NotFound
from leadbridge.core.geocode import geocode_partner
from leadbridge.core.leads import Clock
from leadbridge.core.model import utcnow
from leadbridge.core.partner import Partner
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.web_tables import PartnerUserRow, WebSessionRow


def partner_from_row(row: PartnerRow) -> Partner:
    return Partner.model_validate(row.data)


class PartnerRepository:
    def __init__(self, session: Session, clock: Clock = utcnow) -> None:
        self.session = session
        self.clock = clock

    def upsert(self, partner: Partner) -> tuple[Partner, bool]:
        """Insert or update by ``external_id`` (or ``id``); returns the stored partner and if it was new.

        An existing partner keeps its leadbridge id, so offers and stats stay attached to it. A
        partner without coordinates is placed from its location postal code or city (``geocode``).
        Deactivating a partner ends its users' browser sessions.
        """
        partner, _ = geocode_partner(partner)
        row = None
        if partner.external_id:
            row = self.session.execute(
                select(PartnerRow).where(PartnerRow.external_id == partner.external_id)
            ).scalar_one_or_none()
        if row is None:
            row = self.session.get(PartnerRow, partner.id)
        now = self.clock()
        if row is None:
            row = PartnerRow(
                id=partner.id,
                external_id=partner.external_id,
                name=partner.name,
                active=partner.active,
                connection=partner.connection,
                data=partner.model_dump(mode="json"),
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
            self.session.flush()
            return partner, True
        stored = partner.model_copy(update={"id": row.id})
        data = stored.model_dump(mode="json")
        if data != row.data:
            if row.active and not stored.active:
                self._end_sessions(row.id)
            row.data, row.name, row.active, row.connection = (
                data,
                stored.name,
                stored.active,
                stored.connection,
            )
            row.external_id = stored.external_id  # an id typed in the cockpit must be found by it
            row.updated_at = now
        return stored, False

    def _end_sessions(self, partner_id: str) -> None:
        """A deactivated partner's users are signed out for good: reactivating it later must not
        bring old browser sessions back to life."""
        users = select(PartnerUserRow.id).where(PartnerUserRow.partner_id == partner_id)
        self.session.execute(
            delete(WebSessionRow).where(WebSessionRow.kind == "partner", WebSessionRow.user_id.in_(users))
        )

    def get(self, partner_id: str) -> Partner:
        row = self.session.get(PartnerRow, partner_id)
        if row is None:
            raise NotFound(f"partner {partner_id} does not exist")
        return partner_from_row(row)

    def by_external_id(self, external_id: str) -> Partner | None:
        row = self.session.execute(
            select(PartnerRow).where(PartnerRow.external_id == external_id)
        ).scalar_one_or_none()
        return partner_from_row(row) if row else None

    def all(self, *, active_only: bool = False) -> list[Partner]:
        query = select(PartnerRow).order_by(PartnerRow.name, PartnerRow.id)
        if active_only:
            query = query.where(PartnerRow.active.is_(True))
        return [partner_from_row(row) for row in self.session.execute(query).scalars()]
