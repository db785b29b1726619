"""One Dataverse environment of the stand-in: the app registration (tenant, client id, secret),
issued tokens, tables and rows, the change-tracking version, faults, counters and clock.

Rules of the rows (as Dataverse keeps them):
- every write sets ``modifiedon`` (kept to the millisecond, *shown* to the second) and a new
  ``versionnumber`` from one environment-wide counter, which is also the ETag ``W/"<version>"``;
- a deleted row leaves a tombstone with the version of its deletion, for change tracking;
- values are validated per column type and length, ``statecode``/``statuscode`` pairs per table;
  a failure is a ``DataverseError`` carrying the HTTP status, the hex code and Dataverse's message.
"""

from __future__ import annotations

import copy
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.counters import Counters
from leadbridge.sandbox.dynamics.catalogue import (
    DEFAULT_STATE,
    LEAD_STATUSES,
    OPPORTUNITY_STATUSES,
    Column,
    Table,
    standard_tables,
)
from leadbridge.sandbox.faults import Faults
from leadbridge.sandbox.registry import OrgSpec

# Not a Dataverse figure: a daily allowance the tests can lower (``faults.quota``); Dataverse's own
# limits are the 5-minute service-protection windows (429 + Retry-After).
DEFAULT_DAILY_QUOTA = 1_000_000
TOKEN_SECONDS = 3599


class DataverseError(Exception):
    """A Web API error: ``{"error": {"code": "0x…", "message": …}}`` with an HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(table: Table, row_id: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"{table.logical} With Id = {row_id} Does Not Exist")


def show_time(moment: datetime) -> str:
    """How the Web API writes a date-time: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DataverseOrg:
    """An environment: what a client needs to connect, and Python handles to steer it from tests."""

    def __init__(self, spec: OrgSpec, number: int) -> None:
        self.spec, self.name, self.number = spec, spec.name, number
        self.tenant_id = str(uuid.UUID(int=0x7E4A_0000_0000_4000_8000_0000_0000_0000 + number))
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(30)
        self.organization_id = str(uuid.uuid4())
        self.user_id = str(uuid.uuid4())  # the application user of the app registration
        self.business_unit_id = str(uuid.uuid4())
        self.url = ""  # set when the server starts (both the org URL and the authority host)
        self.clock = Clock()
        self.faults = Faults(seed=spec.seed, daily_quota=DEFAULT_DAILY_QUOTA)
        self.counters = Counters()
        self.tables = standard_tables()
        self.rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.tables}
        self.tombstones: dict[str, list[tuple[int, str]]] = {name: [] for name in self.tables}
        self.version = 1000
        self.lock = threading.RLock()
        self._tokens: dict[str, float] = {}
        # Service protection: the next ``throttled`` data calls answer 429 with this Retry-After.
        self.throttled = 0
        self.throttle_retry_after = 1
        self.throttle_code = "0x80072322"

    # -- tokens -----------------------------------------------------------------------------------
    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    def issue_token(self) -> str:
        token = "eyJ0eXAiOiJKV1QifQ." + secrets.token_urlsafe(48)
        with self.lock:
            self._tokens[token] = self.clock.now().timestamp() + TOKEN_SECONDS
        return token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > self.clock.now().timestamp()

    def expire_tokens(self) -> None:
        """Every issued token stops working (as if an hour had passed)."""
        with self.lock:
            self._tokens.clear()

    def throttle_next(self, calls: int = 1, *, retry_after: int = 1, code: str = "0x80072322") -> None:
        """The next ``calls`` data requests answer 429 (service protection) with ``retry_after``."""
        with self.lock:
            self.throttled, self.throttle_retry_after, self.throttle_code = calls, retry_after, code

    def take_throttle(self) -> bool:
        with self.lock:
            if self.throttled <= 0:
                return False
            self.throttled -= 1
            return True

    # -- tables -----------------------------------------------------------------------------------
    def table(self, entity_set: str) -> Table:
        try:
            return self.tables[entity_set]
        except KeyError:
            raise DataverseError(
                404, "0x8006088a", f"Resource not found for the segment '{entity_set}'."
            ) from None

    def table_by_logical(self, logical: str) -> Table:
        for table in self.tables.values():
            if table.logical == logical:
                return table
        raise DataverseError(404, "0x80040217", f"Could not find an entity with name '{logical}'")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All writes inside succeed together or are undone (a ``$batch`` change set)."""
        with self.lock:
            saved = (copy.deepcopy(self.rows), copy.deepcopy(self.tombstones), self.version)
            try:
                yield
            except BaseException:
                self.rows, self.tombstones, self.version = saved
                raise

    # -- values -----------------------------------------------------------------------------------
    def _coerce(self, table: Table, column: Column, value: Any) -> Any:
        if value is None:
            return None
        kind = column.kind

        def wrong(edm: str) -> DataverseError:
            return DataverseError(
                400, "0x80048d19", f"Cannot convert the literal '{value}' to the expected type '{edm}'."
            )

        if kind in ("String", "Memo"):
            if not isinstance(value, str):
                raise wrong("Edm.String")
            if column.max_length is not None and len(value) > column.max_length:
                raise DataverseError(
                    400,
                    "0x80044331",
                    f"A validation error occurred. The length of the '{column.name}' attribute of the "
                    f"'{table.logical}' entity exceeded the maximum allowed length of '{column.max_length}'.",
                )
            return value
        if kind in ("Integer", "BigInt", "Picklist", "State", "Status"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise wrong("Edm.Int32")
            if kind == "Picklist" and column.options and value not in {v for v, _ in column.options}:
                raise DataverseError(
                    400, "0x8004431a", f"{value} is not a valid value for the '{column.name}' choice column."
                )
            return value
        if kind in ("Money", "Double", "Decimal"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise wrong("Edm.Decimal")
            return value
        if kind == "Boolean":
            if not isinstance(value, bool):
                raise wrong("Edm.Boolean")
            return value
        if kind == "DateTime":
            if not isinstance(value, str):
                raise wrong("Edm.DateTimeOffset")
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise wrong("Edm.DateTimeOffset") from None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return value

    def _apply(self, table: Table, row: dict[str, Any], data: Mapping[str, Any], *, creating: bool) -> None:
        for name, value in data.items():
            if name.endswith("@odata.bind"):
                nav = name[: -len("@odata.bind")]
                lookup = table.lookups.get(nav)
                if lookup is None:
                    raise DataverseError(
                        400,
                        "0x80060888",
                        f"An undeclared property '{nav}' which only has property annotations in the payload "
                        "but no property value was found in the payload.",
                    )
                row[lookup.column] = self._bound_id(str(value), lookup.target_set) if value else None
                continue
            if name.startswith("@odata.") or "@" in name:
                continue
            column = table.columns.get(name)
            if column is None:
                raise DataverseError(
                    400,
                    "0x80060888",
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.Dynamics.CRM.{table.logical}'.",
                )
            if column.read_only or column.kind in ("Lookup", "Customer", "Owner"):
                if creating and name == table.primary_id:
                    continue
                raise DataverseError(
                    400,
                    "0x80048d19",
                    f"Invalid property '{name}' was found in entity "
                    f"'Microsoft.Dynamics.CRM.{table.logical}'.",
                )
            row[name] = self._coerce(table, column, value)
        self._check_state(table, row, data)
        if "fullname" in table.columns:
            row["fullname"] = " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p) or None

    def _bound_id(self, reference: str, target_set: str) -> str:
        # "/leads(<guid>)" or "leads(<guid>)"
        text = reference.lstrip("/")
        if not text.startswith(f"{target_set}(") or not text.endswith(")"):
            raise DataverseError(
                400, "0x80060891", f"A reference to '{target_set}' was expected: '{reference}'."
            )
        row_id = text[len(target_set) + 1 : -1]
        if row_id not in self.rows[target_set]:
            raise not_found(self.tables[target_set], row_id)
        return row_id

    @staticmethod
    def _check_state(table: Table, row: dict[str, Any], data: Mapping[str, Any]) -> None:
        if "statecode" not in table.columns or not ({"statecode", "statuscode"} & set(data)):
            return
        states = dict(table.columns["statecode"].options)
        state = row.get("statecode")
        status = row.get("statuscode")
        if state not in states:
            raise DataverseError(400, "0x80048408", f"{state} is not a valid state code on {table.logical}")
        groups = {"lead": LEAD_STATUSES, "opportunity": OPPORTUNITY_STATUSES}.get(table.logical)
        if groups is not None and "statecode" in data and "statuscode" not in data:
            row["statuscode"] = groups[state][0][0]  # Dataverse picks the state's default status
            return
        if groups is not None and status not in {value for value, _ in groups[state]}:
            label = states[state]
            raise DataverseError(
                400,
                "0x80048408",
                f"{status} is not a valid status code for state code {table.logical.title()}State.{label}",
            )

    def _stamp(self, row: dict[str, Any]) -> None:
        self.version += 1
        row["modifiedon"] = self.clock.now()
        row["versionnumber"] = self.version

    # -- writes -----------------------------------------------------------------------------------
    def create(
        self, entity_set: str, data: Mapping[str, Any], *, row_id: str | None = None
    ) -> dict[str, Any]:
        table = self.table(entity_set)
        with self.lock:
            given = data.get(table.primary_id)
            new_id = str(uuid.UUID(str(row_id or given))) if (row_id or given) else str(uuid.uuid4())
            if new_id in self.rows[entity_set]:
                raise DataverseError(412, "0x80040237", "A record with matching key values already exists.")
            state, status = DEFAULT_STATE.get(table.logical, (0, 1))
            row: dict[str, Any] = {table.primary_id: new_id, "statecode": state, "statuscode": status}
            row["_ownerid_value"] = self.user_id
            self._apply(table, row, data, creating=True)
            self._check_keys(table, row, new_id)
            row["createdon"] = self.clock.now()
            self._stamp(row)
            self.rows[entity_set][new_id] = row
            return row

    def update(self, entity_set: str, row_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        table = self.table(entity_set)
        with self.lock:
            row = self.rows[entity_set].get(row_id)
            if row is None:
                raise not_found(table, row_id)
            changed = dict(row)
            self._apply(table, changed, data, creating=False)
            self._check_keys(table, changed, row_id)
            self._stamp(changed)
            self.rows[entity_set][row_id] = changed
            return changed

    def delete(self, entity_set: str, row_id: str) -> None:
        table = self.table(entity_set)
        with self.lock:
            if self.rows[entity_set].pop(row_id, None) is None:
                raise not_found(table, row_id)
            self.version += 1
            self.tombstones[entity_set].append((self.version, row_id))

    def _check_keys(self, table: Table, row: Mapping[str, Any], row_id: str) -> None:
        for columns in table.keys.values():
            values = tuple(row.get(c) for c in columns)
            if any(v is None for v in values):
                continue
            for other_id, other in self.rows[table.entity_set].items():
                if other_id != row_id and tuple(other.get(c) for c in columns) == values:
                    raise DataverseError(
                        412, "0x80040237", "A record with matching key values already exists."
                    )

    def find_by_key(self, entity_set: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The row whose alternate-key columns equal ``key`` (``None`` if there is none)."""
        table = self.table(entity_set)
        if tuple(sorted(key)) not in {tuple(sorted(cols)) for cols in table.keys.values()}:
            raise DataverseError(
                400, "0x80060888", f"The key '{', '.join(key)}' is not an alternate key of {table.logical}."
            )
        with self.lock:
            for row in self.rows[entity_set].values():
                if all(_same(row.get(c), v) for c, v in key.items()):
                    return row
        return None

    # -- conveniences for tests and seeding (no HTTP, not counted) --------------------------------
    def records(self, entity_set: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.rows[entity_set].values()]

    def add_column(self, logical: str, column: Column) -> None:
        with self.lock:
            self.table_by_logical(logical).add(column)

    def describe(self) -> dict[str, Any]:
        """This environment's entry in ``sandbox serve --json``."""
        return {
            "name": self.name,
            "role": self.spec.role,
            "org_url": self.url,
            "web_api": f"{self.url}/api/data/v9.2",
            "authority_url": self.url,
            "tenant_id": self.tenant_id,
            "authority": self.authority,
            "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": f"{self.url}/.default",
        }


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, str) and isinstance(wanted, str):
        return stored.casefold() == wanted.casefold()
    return bool(stored == wanted)
