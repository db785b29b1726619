"""Lead imports as partial updates: a row changes only what it says about a lead already known.

Rules (``leadbridge leads import``, and the REST API's ``POST /leads`` and ``/leads/import`` where a
field the JSON body leaves out plays the part of an absent column; a new lead is taken in as it is):
- a column the file does not have leaves the stored value alone; so does an empty cell, unless
  ``clear_empty`` (``leads import --clear-empty``), which clears it (a cleared stage falls back to
  ``mql``, as in a new row);
- what no CSV column carries — the consent scope set through the API or the cockpit, geocoded
  coordinates, the owner, custom fields the file does not name — is kept;
- a consent column that changes the flag is a new statement of consent: the flag decides and a
  stored scope is dropped (``consent_share: no`` withdraws, per the policy); the same flag keeps
  the scope;
- a new location (street, postal code, city, country) without new coordinates drops coordinates that
  were only geocoded from the old one, so intake places the lead again;
- a row whose own version was taken in before is passed on as it is (intake finds it unchanged at
  the speed of reading, so re-running an interrupted import stays fast); an erased lead is never
  filled again (intake refuses it);
- the merged lead goes through intake like any new version: a row that changes nothing is
  ``unchanged``, one that qualifies a nurtured lead recycles it, one that changes consent withdraws.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import compress
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.csvfile import HISTORY_COLUMNS, LEAD_COLUMNS
from leadbridge.core.intake import stamp_of_dump
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import Lead
from leadbridge.core.store.tables import LeadRow
from leadbridge.sync.bulk_intake import Incoming, Known, known_leads

Path = tuple[str, ...]
_ADDRESS = ("street", "postal_code", "city", "state", "country", "latitude", "longitude")
_CONSENT = {"consent_share": "share_with_partners", "consent_marketing": "marketing"}
_LOCATION = {("address", name) for name in ("street", "postal_code", "city", "country")}
_COORDINATES = {("address", "latitude"), ("address", "longitude")}
_HISTORY = frozenset(HISTORY_COLUMNS)
_ALWAYS: frozenset[Path] = frozenset({("external_id",), ("email",), ("source_connection",)})


@cache
def column_path(column: str) -> Path:
    """The lead field a CSV column fills (a column that is not a lead column: a custom field)."""
    if column in _ADDRESS:
        return ("address", column)
    if column in _CONSENT:
        return ("consent", _CONSENT[column])
    if column in LEAD_COLUMNS:
        return (column,)
    return ("custom", column)


@dataclass(frozen=True)
class LeadUpdate:
    """A lead as one CSV row describes it, and which of its fields the row actually sets."""

    incoming: Incoming
    paths: frozenset[Path]


def update_from_row(
    incoming: Incoming, row: dict[str, str | None], *, clear_empty: bool = False
) -> LeadUpdate:
    """The row's lead and the fields it sets (module rules). ``row`` as ``CsvStream`` reads it:
    cells stripped, empty ones ``None`` — so a filled cell is simply a true value."""
    # the filled columns in C (``compress``); which of them are history columns is cached per pattern
    columns = tuple(row) if clear_empty else tuple(compress(row, row.values()))
    return LeadUpdate(incoming, _paths_of(columns))


@lru_cache(maxsize=1024)
def _paths_of(columns: tuple[str, ...]) -> frozenset[Path]:
    """The fields the given filled columns set; a file's rows share a few patterns of filled
    columns, so each pattern is worked out once (a million rows)."""
    return frozenset({column_path(column) for column in columns if column not in _HISTORY} | _ALWAYS)


def update_from_model(incoming: Incoming) -> LeadUpdate:
    """The API's lead and the fields its JSON body sets (nested objects field by field): a field
    the caller left out keeps the stored value, one sent as ``null`` clears it."""
    return LeadUpdate(incoming, frozenset(_fields_set(incoming.lead) | _ALWAYS))


def _fields_set(model: BaseModel, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel) and value.model_fields_set:
            paths |= _fields_set(value, (*prefix, name))
        else:
            paths.add((*prefix, name))
    return paths


def merged(stored: dict[str, Any], fresh: dict[str, Any], paths: frozenset[Path]) -> dict[str, Any]:
    """``stored`` with the values of ``fresh`` at ``paths`` (module rules)."""
    result = copy.deepcopy(stored)
    for path in sorted(paths):
        *parents, leaf = path
        target, source = result, fresh
        for part in parents:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target, source = target[part], source.get(part) or {}
        target[leaf] = copy.deepcopy(source.get(leaf))
    consent = ("consent", "share_with_partners")
    before = (stored.get("consent") or {}).get("share_with_partners")
    if consent in paths and (fresh.get("consent") or {}).get("share_with_partners") != before:
        result.setdefault("consent", {})["scope"] = None
    address = result.get("address") or {}
    if paths & _LOCATION and not paths & _COORDINATES and address.get("geocoded"):
        address.update(latitude=None, longitude=None, geocoded=None)
    return result


def merge_known(
    session: Session, updates: Sequence[LeadUpdate], known: dict[str, Known] | None = None
) -> list[Incoming]:
    """Each update as intake's input: known leads merged with their stored data (module rules).

    Two light queries per connection (the known leads' ids and states, the versions taken in);
    stored data is loaded only for the leads a row actually changes, so re-running an import
    reads no lead data at all. A known lead's JSON dump and stamp ride along to intake, and what
    was looked up is left in ``known`` (by connection) for intake's ``take_in_chunk``.
    """
    by_connection: dict[str, set[str]] = {}
    for update in updates:
        lead = update.incoming.lead
        by_connection.setdefault(lead.source_connection, set()).add(lead.external_id or "")
    stored: dict[tuple[str, str], tuple[str, str]] = {}
    seen: set[tuple[str, str, str]] = set()
    for connection, external_ids in by_connection.items():
        looked_up = known_leads(session, connection, sorted(external_ids))
        if known is not None:
            known[connection] = looked_up
        stored |= {(connection, external_id): lead for external_id, lead in looked_up.leads.items()}
        seen |= {(connection, external_id, stamp) for external_id, stamp in looked_up.versions}
    result: list[Incoming] = []
    to_merge: dict[int, tuple[str, dict[str, Any]]] = {}
    for update in updates:
        incoming = update.incoming
        key = (incoming.lead.source_connection, incoming.lead.external_id or "")
        found = stored.get(key)
        if found is None or found[1] == LeadState.ERASED.value:
            result.append(incoming)
            continue
        if incoming.data is not None and incoming.stamp is not None:  # made when the row was built
            fresh, stamp = incoming.data, incoming.stamp
        else:
            fresh = incoming.lead.model_dump(mode="json")
            stamp = stamp_of_dump(fresh)
        if (*key, stamp) in seen:  # this very row was taken in before
            result.append(dataclasses.replace(incoming, data=fresh, stamp=stamp))
            continue
        to_merge[len(result)] = (found[0], fresh)
        result.append(incoming)
    if to_merge:
        ids = sorted({lead_id for lead_id, _ in to_merge.values()})
        data_of: dict[str, dict[str, Any]] = dict(
            session.execute(select(LeadRow.id, LeadRow.data).where(LeadRow.id.in_(ids))).all()
        )
        for index, (lead_id, fresh) in to_merge.items():
            incoming = result[index]
            paths = updates[index].paths
            data = merged(data_of.get(lead_id) or {}, fresh, paths)
            data.update(id=lead_id, created_at=fresh["created_at"])
            result[index] = Incoming(Lead.model_validate(data), incoming.history, incoming.partner_id)
    return result
