"""The shared vendor error table: how a (status, code) pair becomes an action and a message."""

from __future__ import annotations

import pytest

from leadbridge.core.errors import RetriableError, SkipRecord
from leadbridge.ports.records import Action, ErrorRule, ErrorTable

TABLE = ErrorTable("Pipedrive", (ErrorRule(401, None, Action.SKIP, "the token was refused"),))


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, None, "Pipedrive 401: the token was refused (GET /deals)"),
        (401, "unauthorized", "Pipedrive 401 unauthorized: the token was refused (GET /deals)"),
        (None, "tls_failed", "Pipedrive tls_failed: Pipedrive had a transient failure (GET /deals)"),
        (None, None, "Pipedrive: Pipedrive had a transient failure (GET /deals)"),
    ],
)
def test_the_message_names_only_the_parts_that_are_known(
    status: int | None, code: str | None, expected: str
) -> None:
    assert str(TABLE.error_for(status, code, "GET /deals")) == expected


def test_an_unknown_server_error_is_retried_and_an_unknown_refusal_skips_the_record() -> None:
    assert isinstance(TABLE.error_for(503, None, "x"), RetriableError)
    assert TABLE.error_for(404, None, "x").status == 404  # callers decide on it, not on the wording
    assert isinstance(TABLE.error_for(422, None, "x"), SkipRecord)
