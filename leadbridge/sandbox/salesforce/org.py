"""One Salesforce org of the stand-in: credentials, sessions, schema, records, faults, counters, clock."""

from __future__ import annotations

import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.counters import Counters
from leadbridge.sandbox.faults import Faults
from leadbridge.sandbox.registry import OrgSpec
from leadbridge.sandbox.salesforce.catalogue import standard_schema
from leadbridge.sandbox.salesforce.query import QueryEngine
from leadbridge.sandbox.salesforce.records import Record, RecordStore
from leadbridge.sandbox.salesforce.schema import FieldDef
from leadbridge.sandbox.salesforce.values import id18

# Developer Edition allows 15,000 calls a day; we default higher so benchmarks of thousands of leads
# fit, and tests lower it with `org.faults.quota.set(...)`.
DEFAULT_DAILY_QUOTA = 100_000


class SalesforceOrg:
    """An org: what a client needs to connect, and Python handles to steer it from tests.

    ``faults``, ``counters`` and ``clock`` are the shared core objects; ``schema`` takes custom
    fields at runtime (``add_field``); ``store`` holds the records; ``instance_url`` is set when
    the org's server starts.
    """

    def __init__(self, spec: OrgSpec, number: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.number = number
        self.org_id = id18(f"00D5{number:011d}")
        self.clock = Clock()
        self.schema = standard_schema()
        self.store = RecordStore(self.schema, self.clock, org_number=number)
        self.queries = QueryEngine(self.store)
        self.faults = Faults(seed=spec.seed, daily_quota=DEFAULT_DAILY_QUOTA)
        self.counters = Counters()
        self.instance_url = ""
        slug = spec.name.lower().replace(" ", "-")
        self.username = f"integration@{slug}.leadbridge-sandbox.example"
        self.password = secrets.token_urlsafe(12)
        self.security_token = secrets.token_hex(12)
        self.consumer_key = "3MVG9" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
        self.consumer_secret = secrets.token_hex(32)
        self.client_credentials_enabled = True
        # None: the status Salesforce uses for the API version (200 from v46, 204 before); or force one.
        self.upsert_update_status: int | None = None
        self._sessions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._jwt_private_pem: str | None = None
        self.jwt_public_key_pem: str | None = None
        self.integration_user_id = self.store.create(
            self.store.object("User"),
            {
                "Username": self.username,
                "FirstName": "LeadBridge",
                "LastName": "Integration",
                "Email": self.username,
                "Alias": "lbint",
            },
            user_id=None,
        )
        self.session_id = self.issue_session(self.integration_user_id)

    # -- sessions -----------------------------------------------------------------------------
    def issue_session(self, user_id: str) -> str:
        """A new session token (``<org id>!<secret>``, as Salesforce formats them)."""
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._sessions[token] = user_id
        return token

    def user_for(self, token: str) -> str | None:
        """The user a session token belongs to, or None if unknown or expired."""
        with self._lock:
            return self._sessions.get(token)

    def revoke(self, token: str) -> None:
        """Invalidate a session token (the expiry fault uses this)."""
        with self._lock:
            self._sessions.pop(token, None)

    # -- JWT bearer flow ------------------------------------------------------------------------
    @property
    def jwt_private_key_pem(self) -> str:
        """A private key whose public half this org trusts (generated on first use: RSA is slow)."""
        with self._lock:
            if self._jwt_private_pem is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._jwt_private_pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode()
                if self.jwt_public_key_pem is None:
                    self.jwt_public_key_pem = (
                        key.public_key()
                        .public_bytes(
                            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                        )
                        .decode()
                    )
            return self._jwt_private_pem

    # -- conveniences for tests and seeding -----------------------------------------------------
    def add_field(self, object_name: str, definition: FieldDef) -> FieldDef:
        """Add a custom field (``…__c``) to an object of this org only."""
        return self.schema.add_field(object_name, definition)

    def add_picklist_values(self, object_name: str, field_name: str, *values: str) -> FieldDef:
        """Append values to a picklist of this org only."""
        return self.schema.add_picklist_values(object_name, field_name, *values)

    def enable_duplicate_rule(self, object_name: str, field_name: str) -> None:
        """Refuse saves whose ``field_name`` equals a live record's (``DUPLICATES_DETECTED``)."""
        obj = self.store.object(object_name)
        if obj.field(field_name) is None:
            raise KeyError(f"{object_name} has no field {field_name!r}")
        self.store.duplicate_rules[obj.name.lower()] = field_name

    def create(self, object_name: str, data: dict[str, Any]) -> str:
        """Create a record directly (no HTTP, not counted) as the integration user."""
        return self.store.create(self.store.object(object_name), data, user_id=self.integration_user_id)

    def records(self, object_name: str, *, include_deleted: bool = False) -> list[Record]:
        """The object's records in creation order (a snapshot copy of the list)."""
        with self.store.lock:
            table = self.store.tables[self.store.object(object_name).name.lower()]
            return [r for r in table.values() if include_deleted or not r["IsDeleted"]]

    def describe(self) -> dict[str, Any]:
        """This org's entry in ``sandbox serve --json``."""
        return {
            "name": self.name,
            "role": self.spec.role,
            "instance_url": self.instance_url,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
            "session_id": self.session_id,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "org_id": self.org_id,
        }
