"""One HubSpot portal (account): its token, data, limits, faults, counters and webhooks.

The portal is the single place records change, so every change — over HTTP or from Python (seeding,
``edit_as_user`` to play a salesperson in the CRM) — stamps the portal clock and reaches the
webhook subscriptions. HTTP handlers take ``portal.lock`` around their work; Python callers of the
mutating methods here get it taken for them.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.counters import Counters
from leadbridge.sandbox.faults import Faults
from leadbridge.sandbox.hubspot.associations import PAIRS, Associations, type_name
from leadbridge.sandbox.hubspot.catalogue import Catalogue
from leadbridge.sandbox.hubspot.errors import HubSpotError, validation_error
from leadbridge.sandbox.hubspot.limits import RateLimits
from leadbridge.sandbox.hubspot.objects import OBJECT_TYPES, iso, object_type
from leadbridge.sandbox.hubspot.search import SearchLimits
from leadbridge.sandbox.hubspot.store import API, CRM_UI, ObjectStore, Record
from leadbridge.sandbox.hubspot.webhooks import Webhooks
from leadbridge.sandbox.seed import ascii_slug, generate_people

DAILY_LIMIT = 625_000  # Professional tier (crm-api-notes §6.2)
TEN_SECONDLY_LIMIT = 190


class Portal:
    """A HubSpot account as the stand-in keeps it."""

    def __init__(
        self, name: str, portal_id: int, access_token: str, *, seed: int = 0, owners: int = 5
    ) -> None:
        self.name = name
        self.portal_id = portal_id
        self.app_id = 50_000 + portal_id % 10_000
        self.access_token = access_token
        # The app's client secret signs webhooks; the developer API key (?hapikey=) manages them.
        secrets = random.Random(f"hubspot-app|{seed}|{name}")
        self.client_secret = str(uuid.UUID(int=secrets.getrandbits(128), version=4))
        self.developer_api_key = str(uuid.UUID(int=secrets.getrandbits(128), version=4))
        self.seed = seed
        self.lock = threading.RLock()
        self.clock = Clock()
        self.counters = Counters()
        self.faults = Faults(seed, daily_quota=DAILY_LIMIT)
        self.limits = RateLimits(self.faults.quota, ten_secondly=TEN_SECONDLY_LIMIT)
        self.search_limits = SearchLimits()
        # HubSpot's search index lags a few seconds behind writes; 0 = immediately consistent.
        self.search_lag_seconds = 0.0
        now = self.clock.now()
        self.catalogue = Catalogue(now)
        self.stores = {
            kind.name: ObjectStore(kind, self.catalogue, first_id=(number + 1) * 10_000_000 + 1)
            for number, kind in enumerate(OBJECT_TYPES.values())
        }
        self.associations = Associations()
        self.owners = _owners(seed, owners, now)
        self.webhooks = Webhooks(portal_id, self.app_id, self.clock, seed)

    # -- reading ---------------------------------------------------------------------------------
    def store(self, obj: str) -> ObjectStore:
        return self.stores[obj]

    def associated(self, obj: str, object_id: str, to_obj: str) -> set[str]:
        """Ids of ``to_obj`` records associated with one record (for ``associations.*`` filters)."""
        target = object_type(to_obj)
        return set() if target is None else self.associations.ids(obj, object_id, target.name)

    def searchable(self, obj: str) -> Iterator[Record]:
        """Live records the search index has caught up with (written ≥ ``search_lag_seconds`` ago).

        A record changed within the lag is left out entirely (HubSpot would still show its old
        values): either way an incremental sync must not assume a write is searchable at once.
        """
        records = self.store(obj).live()
        if self.search_lag_seconds <= 0:
            return records
        horizon = self.clock.now() - timedelta(seconds=self.search_lag_seconds)
        return (record for record in records if record.updated_at <= horizon)

    def associations_json(self, obj: str, record: Record, to_objects: Iterable[str]) -> dict[str, Any]:
        """The v3 ``associations`` block of an object read (``?associations=companies``)."""
        kind = OBJECT_TYPES[obj]
        block: dict[str, Any] = {}
        for name in to_objects:
            target = object_type(name)
            if target is None or (obj, target.name) not in PAIRS:
                continue  # HubSpot ignores associations it cannot resolve
            default = PAIRS[(obj, target.name)].default
            results = [
                {"id": to_id, "type": type_name(kind.singular, target.singular, category, type_id, default)}
                for to_id, links in self.associations.targets(obj, record.id, target.name).items()
                for category, type_id in sorted(links)
            ]
            if results:
                block[target.name] = {"results": results}
        return block

    # -- changing records --------------------------------------------------------------------------
    def source_id(self, source: str) -> str:
        """Who a change is attributed to in webhook events: this app for API writes, else a user."""
        return str(self.app_id) if source == API else f"userId:{self.owners[0]['userId']}"

    def create(
        self,
        obj: str,
        values: Mapping[str, Any],
        *,
        links: Iterable[tuple[str, str, str, int]] = (),
        source: str = API,
        trusted: bool = False,
    ) -> Record:
        """Create a record (with ``links`` = (to object, to id, category, type id)) and emit creation."""
        with self.lock:
            links = list(links)
            for to_obj, to_id, _category, _type_id in links:
                self.store(to_obj).get(to_id)  # 404 before anything is written
            record = self.store(obj).create(values, self.clock.now(), source=source, trusted=trusted)
            for to_obj, to_id, category, type_id in links:
                self.associations.add(obj, record.id, to_obj, to_id, category, type_id)
            self.webhooks.record_creation(
                OBJECT_TYPES[obj].singular, record.id, source, self.source_id(source)
            )
            return record

    def update(self, obj: str, record: Record, values: Mapping[str, Any], *, source: str = API) -> Record:
        """Update a live record and emit a propertyChange per changed, subscribed property."""
        with self.lock:
            changed = self.store(obj).update(record, values, self.clock.now(), source=source)
            if changed:
                self.webhooks.record_changes(
                    OBJECT_TYPES[obj].singular, record.id, changed, source, self.source_id(source)
                )
            return record

    def archive(self, obj: str, record: Record, *, source: str = API) -> None:
        """Archive a record, drop its associations and emit deletion."""
        with self.lock:
            if record.archived:
                return
            self.store(obj).archive(record, self.clock.now())
            self.associations.drop_object(obj, record.id, list(OBJECT_TYPES))
            self.webhooks.record_deletion(
                OBJECT_TYPES[obj].singular, record.id, source, self.source_id(source)
            )

    def edit_as_user(self, obj: str, object_id: str, values: Mapping[str, Any]) -> Record:
        """Change a record the way a salesperson in the HubSpot UI would (``changeSource`` CRM_UI)."""
        with self.lock:
            return self.update(obj, self.store(obj).get(object_id), values, source=CRM_UI)

    def link_targets(self, obj: str, raw: Iterable[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
        """Resolve the ``associations`` of a create input to (to object, to id, category, type id)."""
        resolved = []
        for item in raw:
            to_id = str((item.get("to") or {}).get("id") or "")
            for spec in item.get("types") or []:
                category, type_id = spec.get("associationCategory"), int(spec.get("associationTypeId", 0))
                to_obj = next(
                    (b for (a, b), t in PAIRS.items() if a == obj and type_id in (t.default, t.primary)), None
                )
                if to_obj is None or not to_id:
                    raise validation_error(f"associationTypeId {type_id} is not valid for {obj}")
                resolved.append((to_obj, to_id, str(category), type_id))
        return resolved

    def owner(self, owner_id: str, *, by_user_id: bool = False) -> dict[str, Any]:
        key = "userId" if by_user_id else "id"
        for owner in self.owners:
            if str(owner[key]) == owner_id:
                return owner
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found", context={"id": [owner_id]})

    def describe(self, base_url: str) -> dict[str, Any]:
        """What a client needs to connect (one entry of ``sandbox serve --json``)."""
        return {
            "name": self.name,
            "base_url": base_url,
            "access_token": self.access_token,
            "portal_id": self.portal_id,
            "app_id": self.app_id,
            "client_secret": self.client_secret,
            "developer_api_key": self.developer_api_key,
        }


def _owners(seed: int, count: int, now: datetime) -> list[dict[str, Any]]:
    people = generate_people(seed, count)
    owners = []
    for number, (first, last) in enumerate(people, start=1):
        user_id = 9_000_000 + seed % 1000 * 100 + number
        owners.append(
            {
                "id": str(41_000_000 + seed % 1000 * 100 + number),
                "email": f"{ascii_slug(first, '.')}.{ascii_slug(last, '.')}@sandbox.example",
                "firstName": first,
                "lastName": last,
                "userId": user_id,
                "userIdIncludingInactive": user_id,
                "type": "PERSON",
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "archived": False,
                "teams": [{"id": "101", "name": "Vertrieb DACH", "primary": True}],
            }
        )
    return owners
