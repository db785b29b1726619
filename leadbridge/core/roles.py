"""Admin roles: what a cockpit user or admin API key may see and change.

Rules:
- ``admin`` sees and changes everything;
- ``read_only`` sees what an admin sees and changes nothing;
- ``channel_manager`` works in its regions only: it sees and changes the leads whose country (and
  postal code) lie in one of its regions and the partners whose territory or location does; other
  leads and partners do not exist for it (404); areas without a region (policy, costs, dead
  letters, audit log, SLA list, data-subject exports) are the admins' (403);
- a region is a country code, optionally narrowed by a postal-code prefix: ``DE``, ``DE-8``,
  ``AT-10`` — the same notation as the cockpit's region filter. A channel manager needs at least one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from leadbridge.core.countries import normalise_country
from leadbridge.core.partner import Partner


class Role(StrEnum):
    ADMIN = "admin"
    CHANNEL_MANAGER = "channel_manager"
    READ_ONLY = "read_only"


def parse_role(value: str) -> Role:
    """A role by name (``channel-manager`` and ``read-only`` accepted too); ``ValueError`` otherwise."""
    try:
        return Role(value.strip().lower().replace("-", "_"))
    except ValueError:
        raise ValueError(f"role {value!r}: one of {', '.join(r.value for r in Role)}") from None


def parse_regions(values: Iterable[str]) -> tuple[str, ...]:
    """Regions as stored: ``CC`` or ``CC-PREFIX`` upper-case, de-duplicated; ``ValueError`` says
    which one is bad."""
    found: list[str] = []
    for raw in values:
        for item in raw.replace(";", ",").split(","):
            item = item.strip()
            if not item:
                continue
            country, dash, prefix = item.partition("-")
            try:
                code = normalise_country(country)
            except ValueError:
                raise ValueError(f"region {item!r}: {country!r} is not a country code (DE, AT-10)") from None
            if dash and not prefix.strip().isalnum():
                raise ValueError(f"region {item!r}: the postal prefix after '-' must be letters or digits")
            region = f"{code}-{prefix.strip().upper()}" if dash else code
            if region not in found:
                found.append(region)
    return tuple(found)


def _split(region: str) -> tuple[str, str]:
    country, _, prefix = region.partition("-")
    return country, prefix


@dataclass(frozen=True)
class Scope:
    """A principal's role and, for a channel manager, its regions."""

    role: Role = Role.ADMIN
    regions: tuple[str, ...] = ()

    @property
    def can_write(self) -> bool:
        return self.role is not Role.READ_ONLY

    @property
    def regional(self) -> bool:
        return self.role is Role.CHANNEL_MANAGER

    def covers_lead(self, country: str | None, postal_code: str | None) -> bool:
        if not self.regional:
            return True
        postal = (postal_code or "").strip().upper()
        for region in self.regions:
            code, prefix = _split(region)
            if (country or "").upper() == code and postal.startswith(prefix):
                return True
        return False

    def covers_partner(self, partner: Partner) -> bool:
        """A partner is in a region when it serves or sits in it (territory country and postal
        prefixes/ranges overlapping the region's prefix, or its location)."""
        if not self.regional:
            return True
        territory = partner.territory
        for region in self.regions:
            code, prefix = _split(region)
            if partner.location_country == code and (partner.location_postal_code or "").startswith(prefix):
                return True
            if code not in territory.countries:
                continue
            if not prefix or not (territory.postal_prefixes or territory.postal_ranges):
                return True  # the whole country is served, so the region is
            if any(p.startswith(prefix) or prefix.startswith(p) for p in territory.postal_prefixes):
                return True
            for postal_range in territory.postal_ranges:
                start, end = postal_range.start[: len(prefix)], postal_range.end[: len(prefix)]
                if start <= prefix[: len(postal_range.start)] <= end or start <= prefix <= end:
                    return True
        return False


ADMIN_SCOPE = Scope()
