"""Geocoding on intake: place leads and partners the source sent without coordinates.

Rules:
- coordinates from the source (CRM, CSV, API) always win and are never touched;
- otherwise the gazetteer places the postal code, else its longest known prefix, else the city
  (``geo.Gazetteer.lookup``); the lead's ``address.geocoded`` (a partner's ``location_geocoded``)
  records how, e.g. ``postal_code DE 80331``, so timelines and ``leadbridge geo check`` can tell
  placed from given coordinates;
- a partner without a location country uses its territory's country when it lists exactly one;
- nothing found leaves the record as it came (distance then counts as unknown in matching);
- a newer version whose coordinates are exactly the ones leadbridge placed (a CRM that stored our
  write-back) keeps the marker (``carry_geocoded``): they are still ours, not the source's.
Pure functions: they return a new model and never change the one given.
"""

from __future__ import annotations

from leadbridge.core.geo import Gazetteer, Place, load_gazetteer
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner


def geocode_lead(lead: Lead, gazetteer: Gazetteer | None = None) -> tuple[Lead, Place | None]:
    """The lead with coordinates from its postal code or city when it had none, and the place."""
    address = lead.address
    if address.has_coordinates:
        return lead, None
    place = (gazetteer or load_gazetteer()).lookup(address.country, address.postal_code, address.city)
    if place is None:
        return lead, None
    placed = address.model_copy(
        update={"latitude": place.latitude, "longitude": place.longitude, "geocoded": place.describe()}
    )
    return lead.model_copy(update={"address": placed}), place


def carry_geocoded(current: Lead, fresh: Lead) -> Lead:
    """``fresh`` with ``current``'s geocoded marker when it brings back the same coordinates."""
    old, new = current.address, fresh.address
    same = (old.latitude, old.longitude) == (new.latitude, new.longitude)
    if not old.geocoded or new.geocoded or not same:
        return fresh
    return fresh.model_copy(update={"address": new.model_copy(update={"geocoded": old.geocoded})})


def partner_country(partner: Partner) -> str | None:
    """The partner's location country: its own, else its territory's only country."""
    if partner.location_country:
        return partner.location_country
    countries = partner.territory.countries
    return countries[0] if len(countries) == 1 else None


def geocode_partner(partner: Partner, gazetteer: Gazetteer | None = None) -> tuple[Partner, Place | None]:
    """The partner with a location from its postal code or city when it had none, and the place."""
    has_location = partner.location_latitude is not None and partner.location_longitude is not None
    if has_location or not (partner.location_postal_code or partner.location_city):
        return partner, None
    place = (gazetteer or load_gazetteer()).lookup(
        partner_country(partner), partner.location_postal_code, partner.location_city
    )
    if place is None:
        return partner, None
    update = {
        "location_latitude": place.latitude,
        "location_longitude": place.longitude,
        "location_geocoded": place.describe(),
    }
    return partner.model_copy(update=update), place
