"""Salesforce REST errors as the stand-in raises and answers them (bodies are always lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SalesforceApiError(Exception):
    """An error answer: HTTP status, ``errorCode``, message and (optionally) the fields involved."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.extra = extra or {}  # additional keys, e.g. the duplicate-rule result

    def body(self) -> list[dict[str, Any]]:
        """The REST error body: ``[{"message", "errorCode", "fields"}]``."""
        return [{**self.extra, "message": self.message, "errorCode": self.code, "fields": self.fields}]

    def item_error(self) -> dict[str, Any]:
        """The error inside a collection result item (which says ``statusCode``, not ``errorCode``)."""
        return {**self.extra, "statusCode": self.code, "message": self.message, "fields": self.fields}


def malformed_query(message: str) -> SalesforceApiError:
    """400 MALFORMED_QUERY: the query is outside the supported SOQL subset or not SOQL."""
    return SalesforceApiError(400, "MALFORMED_QUERY", message)


def invalid_field(message: str, fields: Sequence[str] = ()) -> SalesforceApiError:
    """400 INVALID_FIELD: a field or literal that does not fit the object."""
    return SalesforceApiError(400, "INVALID_FIELD", message, fields)


def no_such_column(field: str, obj: str) -> SalesforceApiError:
    """400 INVALID_FIELD with Salesforce's wording for an unknown column."""
    return invalid_field(
        f"No such column '{field}' on entity '{obj}'. If you are attempting to use a custom field, be sure "
        "to append the '__c' after the custom field name. Please reference your WSDL or the describe call "
        "for the appropriate names.",
        [field],
    )


def invalid_type(obj: str) -> SalesforceApiError:
    """400 INVALID_TYPE: the org has no such sObject."""
    return SalesforceApiError(
        400,
        "INVALID_TYPE",
        f"sObject type '{obj}' is not supported. If you are attempting to use a custom object, be sure to "
        "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def not_found() -> SalesforceApiError:
    """404 NOT_FOUND: no record with that id (or external id)."""
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


INVALID_SESSION = SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
REQUEST_LIMIT = SalesforceApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
