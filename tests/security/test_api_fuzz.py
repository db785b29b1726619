"""Schemathesis against the live app's OpenAPI, with an admin key and a partner key: no answer is a
server error, every status is documented and every body is the documented JSON.

Examples per operation are few (``EXAMPLES``) so the whole run stays around a minute; valid and
invalid inputs are both generated (positive and negative modes), derandomised so a failure repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from leadbridge.web.accounts import create_api_key
from tests.security.conftest import serve
from tests.web.conftest import World

EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api(world: World) -> Iterator[tuple[str, dict[str, str]]]:
    with world.database.transaction() as session:
        _, admin = create_api_key(session, "fuzz-admin")
        _, partner = create_api_key(session, "fuzz-partner", world.partner_a)
    with serve(world.app) as (host, port):
        yield f"http://{host}:{port}", {"admin": admin, "partner": partner}


def _fuzz(base: str, operation: Any, key: str, mode: GenerationMode, session: requests.Session) -> bool:
    """Run the examples; False when the operation has no inputs of that mode (nothing to negate)."""

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base, session=session, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS
        )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "partner"])
def test_given_fuzzed_requests_then_no_server_error_and_only_documented_answers(
    api: tuple[str, dict[str, str]], who: str
) -> None:
    base, keys = api
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    session = requests.Session()
    session.trust_env = False  # loopback: no proxy, no sandbox CA needed
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the whole API, not an empty schema
    negated = 0
    for operation in operations:
        _fuzz(base, operation, keys[who], GenerationMode.POSITIVE, session)
        negated += _fuzz(base, operation, keys[who], GenerationMode.NEGATIVE, session)
    assert negated >= len(operations) // 2  # most operations had invalid input thrown at them too
