"""Reading a live CRM for ``mappings check`` and ``preview``: the object description, one record,
and (HubSpot only) creating missing properties. Thin wrappers over already-built clients."""

from __future__ import annotations

from typing import Any, Protocol

from leadbridge.core.errors import ConfigError, FatalConnectorError, NotFound
from leadbridge.mappings.check import (
    RemoteObject,
    remote_from_hubspot_properties,
    remote_from_salesforce_describe,
)


class RemoteSource(Protocol):
    """What ``check`` and ``preview`` need from a CRM object."""

    def describe(self) -> RemoteObject: ...

    def record(self, external_id: str, fields: list[str]) -> dict[str, Any]: ...

    def create_property(self, body: dict[str, Any]) -> None: ...


class SalesforceSource:
    """One Salesforce object through simple-salesforce."""

    def __init__(self, sf: Any, object_name: str) -> None:
        self.sf, self.object_name = sf, object_name

    def describe(self) -> RemoteObject:
        return remote_from_salesforce_describe(getattr(self.sf, self.object_name).describe())

    def record(self, external_id: str, fields: list[str]) -> dict[str, Any]:
        from simple_salesforce.exceptions import SalesforceResourceNotFound

        try:
            data = dict(getattr(self.sf, self.object_name).get(external_id))
        except SalesforceResourceNotFound:
            raise NotFound(f"{self.object_name} {external_id} does not exist") from None
        data.pop("attributes", None)
        return data

    def create_property(self, body: dict[str, Any]) -> None:
        raise FatalConnectorError("Salesforce fields are created in Setup, not through the API")


class HubSpotSource:
    """One HubSpot object type through hubspot-api-client."""

    def __init__(self, client: Any, object_type: str) -> None:
        self.client, self.object_type = client, object_type

    def describe(self) -> RemoteObject:
        response = self.client.crm.properties.core_api.get_all(object_type=self.object_type)
        properties = [_camel(item.to_dict()) for item in response.results]
        return remote_from_hubspot_properties(self.object_type, properties)

    def record(self, external_id: str, fields: list[str]) -> dict[str, Any]:
        from hubspot.crm.objects.exceptions import ApiException

        try:
            found = self.client.crm.objects.basic_api.get_by_id(
                self.object_type, external_id, properties=fields
            )
        except ApiException as error:
            if error.status == 404:
                raise NotFound(f"{self.object_type} {external_id} does not exist") from None
            raise
        return {"hs_object_id": found.id, **(found.properties or {})}

    def create_property(self, body: dict[str, Any]) -> None:
        from hubspot.crm.properties import PropertyCreate

        self.client.crm.properties.core_api.create(
            object_type=self.object_type, property_create=PropertyCreate(**_snake(body))
        )


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    """hubspot-api-client models dump snake_case; the check reads HubSpot's JSON names."""
    renames = {"field_type": "fieldType", "modification_metadata": "modificationMetadata"}
    result = {renames.get(key, key): value for key, value in data.items()}
    meta = result.get("modificationMetadata") or {}
    if "read_only_value" in meta:
        result["modificationMetadata"] = {"readOnlyValue": meta["read_only_value"]}
    return result


def _snake(body: dict[str, Any]) -> dict[str, Any]:
    renames = {
        "fieldType": "field_type",
        "groupName": "group_name",
        "hasUniqueValue": "has_unique_value",
        "displayOrder": "display_order",
    }
    result = {renames.get(key, key): value for key, value in body.items()}
    result["options"] = [
        {renames.get(k, k): v for k, v in option.items()} for option in body.get("options", [])
    ]
    return result


def source_for(config: Any, object_name: str) -> RemoteSource:
    """A ``RemoteSource`` for a configured connection, logging in the way its connector does."""
    if config.kind == "salesforce":
        try:
            from leadbridge.connectors.salesforce.client import http_session, login
        except ImportError:  # pragma: no cover - the connector ships with leadbridge
            raise ConfigError("the Salesforce connector is not available") from None
        return SalesforceSource(login(config, http_session(config)), object_name)
    if config.kind == "hubspot":
        from hubspot import HubSpot

        token = config.secret("access_token")
        if not token:
            raise ConfigError(f"connection {config.name}: HubSpot needs an access_token")
        options: dict[str, Any] = {"access_token": token}
        if config.base_url:
            options["host"] = config.base_url.rstrip("/")
        if config.ca_file:
            options["ssl_ca_cert"] = config.ca_file
        return HubSpotSource(HubSpot(**options), object_name)
    raise ConfigError(f"connection {config.name} is a {config.kind} connection: mappings are for CRMs")
