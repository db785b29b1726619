"""Associations v4 between contacts, companies and deals (crm-api-notes §4.5).

An association is stored once per direction: linking a contact to a company with type 279 also
links the company to the contact with the paired type 280, as HubSpot shows it from both sides.
``HUBSPOT_DEFINED`` type ids are checked against the table below (the default, unlabeled type and
the "Primary" one per pair); ``USER_DEFINED``/``INTEGRATOR_DEFINED`` ids are accepted as given.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadbridge.sandbox.hubspot.errors import validation_error

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
CATEGORIES = frozenset({HUBSPOT_DEFINED, "USER_DEFINED", "INTEGRATOR_DEFINED"})


@dataclass(frozen=True)
class PairTypes:
    """The HubSpot-defined association types from one object type to another."""

    default: int  # unlabeled
    primary: int | None  # the "Primary" label (company side only)
    reverse_default: int
    reverse_primary: int | None


# (from, to) → types. 279 is documented; the rest are as HubSpot lists them but unconfirmed.
PAIRS: dict[tuple[str, str], PairTypes] = {
    ("contacts", "companies"): PairTypes(279, 1, 280, 2),
    ("deals", "contacts"): PairTypes(3, None, 4, None),
    ("deals", "companies"): PairTypes(341, 5, 342, 6),
}
for (_a, _b), _t in list(PAIRS.items()):
    PAIRS[(_b, _a)] = PairTypes(_t.reverse_default, _t.reverse_primary, _t.default, _t.primary)


def pair(from_type: str, to_type: str) -> PairTypes:
    """The type table of a pair; 400 for a pair the stand-in does not associate."""
    try:
        return PAIRS[(from_type, to_type)]
    except KeyError:
        raise validation_error(f"Associations from {from_type} to {to_type} are not supported") from None


def reverse_type(from_type: str, to_type: str, category: str, type_id: int) -> int:
    """The type id the other side sees for ``type_id`` (user-defined labels are symmetric here)."""
    if category != HUBSPOT_DEFINED:
        return type_id
    types = pair(from_type, to_type)
    if type_id == types.default:
        return types.reverse_default
    if types.primary is not None and type_id == types.primary and types.reverse_primary is not None:
        return types.reverse_primary
    raise validation_error(f"associationTypeId {type_id} is not valid from {from_type} to {to_type}")


def label_of(from_type: str, to_type: str, category: str, type_id: int) -> str | None:
    """The label HubSpot shows for a type: "Primary" for the primary type, None for the default."""
    types = PAIRS.get((from_type, to_type))
    if category == HUBSPOT_DEFINED and types and type_id == types.primary:
        return "Primary"
    return None


def type_name(from_singular: str, to_singular: str, category: str, type_id: int, default: int) -> str:
    """The v3 name of a type in object reads (``contact_to_company`` or ``…_unlabeled``)."""
    base = f"{from_singular}_to_{to_singular}"
    return f"{base}_unlabeled" if category == HUBSPOT_DEFINED and type_id == default else base


Link = tuple[str, int]  # (category, type id)


class Associations:
    """All associations of one portal: (from type, from id, to type) → to id → set of types."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, str, str], dict[str, set[Link]]] = {}

    def add(
        self, from_type: str, from_id: str, to_type: str, to_id: str, category: str, type_id: int
    ) -> None:
        """Link both directions with the given type (validated for HubSpot-defined types)."""
        if category not in CATEGORIES:
            raise validation_error(f"Invalid associationCategory '{category}'")
        back = reverse_type(from_type, to_type, category, type_id)
        self._links.setdefault((from_type, from_id, to_type), {}).setdefault(to_id, set()).add(
            (category, type_id)
        )
        self._links.setdefault((to_type, to_id, from_type), {}).setdefault(from_id, set()).add(
            (category, back)
        )

    def add_default(self, from_type: str, from_id: str, to_type: str, to_id: str) -> tuple[int, int]:
        """Link with the default (unlabeled) type; returns (type id, reverse type id)."""
        types = pair(from_type, to_type)
        self.add(from_type, from_id, to_type, to_id, HUBSPOT_DEFINED, types.default)
        return types.default, types.reverse_default

    def remove(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Remove every association type between two records (both directions)."""
        self._links.get((from_type, from_id, to_type), {}).pop(to_id, None)
        self._links.get((to_type, to_id, from_type), {}).pop(from_id, None)

    def remove_types(self, from_type: str, from_id: str, to_type: str, to_id: str, types: list[Link]) -> None:
        """Remove only some labels between two records (both directions)."""
        forward = self._links.get((from_type, from_id, to_type), {}).get(to_id, set())
        backward = self._links.get((to_type, to_id, from_type), {}).get(from_id, set())
        for category, type_id in types:
            forward.discard((category, type_id))
            backward.discard((category, reverse_type(from_type, to_type, category, type_id)))

    def targets(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[Link]]:
        """Associated ids (with their types) of one record towards one object type, by id order."""
        found = self._links.get((from_type, from_id, to_type), {})
        return {to_id: set(links) for to_id, links in sorted(found.items(), key=lambda i: int(i[0])) if links}

    def ids(self, from_type: str, from_id: str, to_type: str) -> set[str]:
        return set(self.targets(from_type, from_id, to_type))

    def drop_object(self, object_type: str, object_id: str, all_types: list[str]) -> None:
        """Forget every association of an archived record."""
        for other in all_types:
            for to_id in list(self._links.get((object_type, object_id, other), {})):
                self.remove(object_type, object_id, other, to_id)
