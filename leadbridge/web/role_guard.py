"""Where an admin's role lets it go (``core/roles.py``), checked once per request by ``current_admin``
for every cockpit page and admin API route — routes added later are covered without opting in.

Rules:
- a read-only admin's every non-reading request (POST, PUT, PATCH, DELETE) is refused (403), except
  signing out;
- a channel manager may use the lead and partner areas only (``REGIONAL_AREAS``) and the overview;
  a single lead or partner outside its regions is a 404 (as if it did not exist); a change that
  is not about one lead or partner (creating partners, bulk imports) is the admins' (403);
- lists in the regional areas are narrowed by the routes themselves (``Scope.regions``).
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from leadbridge.core.errors import NotFound
from leadbridge.core.partners import partner_from_row
from leadbridge.core.roles import Scope
from leadbridge.core.store.tables import LeadRow, PartnerRow

READING = frozenset({"GET", "HEAD", "OPTIONS"})
ALWAYS = frozenset({"/cockpit/logout"})
REGIONAL_AREAS = ("/cockpit/leads", "/cockpit/partners", "/api/v1/leads", "/api/v1/partners")
LEAD_PATH = re.compile(r"^/(?:cockpit|api/v1)/leads/([^/]+)")
PARTNER_PATH = re.compile(r"^/(?:cockpit|api/v1)/partners/([^/]+)")
NOT_IDS = frozenset({"import", "new", "export"})


class RoleForbidden(Exception):
    """The admin's role does not allow this request (answered 403 with the reason)."""


def enforce(session: Session, scope: Scope, method: str, path: str) -> None:
    """Refuse the request if ``scope`` does not allow it (module rules)."""
    if path in ALWAYS:
        return
    if not scope.can_write and method not in READING:
        raise RoleForbidden("a read-only admin can look at everything but change nothing")
    if not scope.regional:
        return
    if path.rstrip("/") != "/cockpit" and not path.startswith(REGIONAL_AREAS):
        raise RoleForbidden(
            "this area is for admins: a channel manager works with the leads and partners of its regions"
        )
    lead = LEAD_PATH.match(path)
    if lead and lead.group(1) not in NOT_IDS:
        row = session.get(LeadRow, lead.group(1))
        if row is None or not scope.covers_lead(row.country, row.postal_code):
            raise NotFound(f"lead {lead.group(1)} does not exist")
        return
    partner = PARTNER_PATH.match(path)
    if partner and partner.group(1) not in NOT_IDS:
        stored = session.get(PartnerRow, partner.group(1))
        if stored is None or not scope.covers_partner(partner_from_row(stored)):
            raise NotFound(f"partner {partner.group(1)} does not exist")
        return
    if method not in READING:
        raise RoleForbidden("a channel manager changes single leads and partners of its regions only")
