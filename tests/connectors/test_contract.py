"""The contract every registered connector kind passes, parametrized over the registry.

Every kind with a factory (shipped, plus the test-only kinds of ``extra_kinds/``) runs every case
below against its sandbox harness (``harnesses/<kind>.py``); a kind without a harness fails.
Capability cases (webhooks, describe, field creation) run for the kinds that declare them.

What the contract promises:
- ``check`` passes on good settings and fails *well* on bad ones (a message, not a traceback);
- reads cross pages of records sharing a stamp, each once; a re-read from the checkpoint brings
  nothing, later changes exactly; a checkpoint in the future reads nothing; deletions come in;
- writes are idempotent; one refused item is reported with its reason and an action, the others land;
- a 429 is retried after at least its Retry-After; an expired session is recovered from;
- quota exhaustion stops the read with the checkpoint of what was taken in, and the next run
  finishes the job;
- webhooks: a signed delivery becomes changes, a tampered one is refused, a redelivery is dropped;
- describe names the object's fields, fetch_record reads one record (``NotFound`` for no record);
- create_fields creates through the API where the kind can, else returns an admin's steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import NotFound, QuotaExhausted
from leadbridge.ports import Capability, Change, Checkpoint, WebhookRejected, advance, format_stamp
from tests.connectors.contract import Harness, harness_for, read_all
from tests.connectors.extra_kinds import extra_kinds

REGISTRY = default_registry(*extra_kinds())
CONNECTOR_KINDS = sorted(name for name in REGISTRY if REGISTRY.kind(name).factory is not None)
# Capabilities that need a connector object: a kind without a factory must not claim them.
CONNECTOR_CAPABILITIES = frozenset(
    {Capability.SYNCED, Capability.POLLED, Capability.WEBHOOKS, Capability.DESCRIBE, Capability.CREATE_FIELDS}
)


def _open(kind: str) -> Iterator[Harness]:
    opener = harness_for(kind)
    if opener is None:
        pytest.fail(
            f"connector kind {kind!r} is registered but has no contract harness: add "
            f"tests/connectors/harnesses/{kind}.py with open_harness(registry) (see contract.Harness)"
        )
    with opener(REGISTRY) as harness:
        yield harness


@pytest.fixture(params=CONNECTOR_KINDS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from _open(request.param)


# Write-only kinds (signed outbound webhooks) have nothing to read: the read cases skip them by
# parametrization, not by ``skip``; their write-side retries are tested in their own module.
READ_KINDS = sorted(name for name in CONNECTOR_KINDS if not REGISTRY.kind(name).can(Capability.WRITE_ONLY))


@pytest.fixture(params=READ_KINDS)
def reader(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from _open(request.param)


def _kinds_with(capability: Capability) -> list[str]:
    return sorted(name for name in CONNECTOR_KINDS if REGISTRY.kind(name).can(capability))


def test_given_the_registry_then_the_toy_kind_is_in_the_suite_and_factoryless_kinds_claim_no_verbs() -> None:
    assert "toy" in CONNECTOR_KINDS and {"salesforce", "hubspot"} <= set(CONNECTOR_KINDS)
    for name in REGISTRY:
        kind = REGISTRY.kind(name)
        if kind.factory is None:
            assert not kind.capabilities & CONNECTOR_CAPABILITIES, name


# -- check ---------------------------------------------------------------------------------------
def test_given_good_settings_when_checking_then_it_passes(harness: Harness) -> None:
    result = harness.connector().check()
    assert result.ok, result.message


def test_given_a_wrong_secret_when_checking_then_it_fails_with_an_actionable_message(
    harness: Harness,
) -> None:
    result = harness.broken_connector().check()
    assert not result.ok
    assert "Traceback" not in result.message
    assert "check" in result.message.lower() or "refused" in result.message.lower(), result.message


# -- reading -------------------------------------------------------------------------------------
def test_given_rows_sharing_a_stamp_across_pages_when_reading_twice_then_nothing_is_lost_or_doubled(
    reader: Harness,
) -> None:
    first_ids = reader.add_records(reader.page_size * 2 + 5, same_stamp=True)  # three pages, one stamp
    connector = reader.connector()
    pages = list(connector.read_changes(reader.stream, None))
    taken = [c for page in pages for c in page]
    assert len(pages) >= 3 and set(first_ids) <= {c.external_id for c in taken}
    assert len(taken) == len({c.external_id for c in taken})
    checkpoint = None
    for page in pages:
        checkpoint = advance(checkpoint, page, connector.lookback)
    again, checkpoint_again = read_all(connector, reader.stream, checkpoint)
    assert again == [] and checkpoint_again == checkpoint
    later = reader.add_records(3, same_stamp=True)
    reader.touch(first_ids[:2])
    more, _ = read_all(connector, reader.stream, checkpoint)
    assert sorted(c.external_id for c in more) == sorted([*later, *first_ids[:2]])


def test_given_a_checkpoint_in_the_future_when_reading_then_nothing_comes(reader: Harness) -> None:
    reader.add_records(3, same_stamp=False)
    future = Checkpoint(format_stamp(datetime.now(UTC) + timedelta(days=365)), "~")
    taken, checkpoint = read_all(reader.connector(), reader.stream, future)
    assert taken == [] and checkpoint == future


def test_given_deleted_records_then_their_deletions_come_in(reader: Harness) -> None:
    ids = reader.add_records(3, same_stamp=False)
    connector = reader.connector()
    _, checkpoint = read_all(connector, reader.stream, None)
    changes = reader.deleted_changes(connector, ids[:2], checkpoint)
    assert {(c.external_id, c.deleted) for c in changes} >= {(ids[0], True), (ids[1], True)}
    assert ids[2] not in {c.external_id for c in changes}


# -- writing -------------------------------------------------------------------------------------
def test_given_the_same_batch_twice_when_writing_then_nothing_is_created_twice(harness: Harness) -> None:
    connector = harness.connector()
    before = harness.remote_count()
    items = harness.write_items(3)
    first = connector.write_batch(harness.write_stream, items)
    second = connector.write_batch(harness.write_stream, items)
    assert all(r.ok for r in [*first, *second]), [r.error for r in [*first, *second]]
    assert [r.remote_id for r in first] == [r.remote_id for r in second]
    assert harness.remote_count() == before + 3


def test_given_one_refused_item_when_writing_then_only_it_fails_with_its_reason_and_an_action(
    harness: Harness,
) -> None:
    stream, items, bad = harness.with_one_bad_item()
    results = harness.connector().write_batch(stream, items)
    assert [r.key for r in results] == [i.key for i in items]  # one result per item, in order
    assert [r.ok for r in results] == [index != bad for index in range(len(items))]
    assert results[bad].error and results[bad].action is not None


# -- failures ------------------------------------------------------------------------------------
def test_given_a_429_with_retry_after_when_reading_then_it_waits_that_long_and_succeeds(
    reader: Harness,
) -> None:
    ids = reader.add_records(3, same_stamp=False)
    connector = reader.connector()
    reader.fail_next_call_with_429(connector, retry_after=1)
    waited = len(reader.slept)
    taken, _ = read_all(connector, reader.stream, None)
    assert set(ids) <= {c.external_id for c in taken}
    assert reader.slept[waited:], "the 429 was retried through the policy, after a wait"
    assert reader.slept[waited] >= 1, "no sooner than the Retry-After"


def test_given_an_expired_session_when_reading_then_it_logs_in_again(reader: Harness) -> None:
    ids = reader.add_records(3, same_stamp=False)
    connector = reader.connector()
    assert connector.check().ok
    reader.expire_session()
    taken, _ = read_all(connector, reader.stream, None)
    assert set(ids) <= {c.external_id for c in taken}


def test_given_the_quota_runs_out_when_reading_then_it_stops_and_resumes_from_the_checkpoint(
    reader: Harness,
) -> None:
    ids = reader.add_records(reader.page_size * 2 + 5, same_stamp=True)  # three pages
    connector = reader.connector()
    pages: list[list[Change]] = []
    checkpoint: Checkpoint | None = None
    reader.allow_calls(2)
    with pytest.raises(QuotaExhausted):
        for page in connector.read_changes(reader.stream, checkpoint):
            pages.append(page)
            checkpoint = advance(checkpoint, page, connector.lookback)  # saved with each page
    assert pages, "at least one page was taken in before the quota ran out"
    reader.allow_calls(1000)
    rest, _ = read_all(reader.connector(), reader.stream, checkpoint)
    seen = [c.external_id for page in pages for c in page] + [c.external_id for c in rest]
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)


# -- webhooks, describe, fields (per capability) -----------------------------------------------------
@pytest.mark.parametrize("kind", _kinds_with(Capability.WEBHOOKS))
def test_given_a_signed_delivery_then_it_becomes_changes_once_and_a_tampered_one_is_refused(
    kind: str,
) -> None:
    for harness in _open(kind):
        ids = harness.add_records(2, same_stamp=False)
        connector = harness.connector()
        headers, body, uri = harness.signed_delivery(ids)
        changes = connector.parse_webhook(headers, body, uri)
        assert sorted(c.external_id for c in changes) == sorted(ids)
        assert connector.parse_webhook(headers, body, uri) == []  # a redelivery doubles nothing
        with pytest.raises(WebhookRejected):
            connector.parse_webhook(headers, body.replace(b"}", b', "x": 1}', 1), uri)


@pytest.mark.parametrize("kind", _kinds_with(Capability.DESCRIBE))
def test_given_an_object_when_describing_then_its_fields_and_one_record_can_be_read(kind: str) -> None:
    for harness in _open(kind):
        [record_id] = harness.add_records(1, same_stamp=False)
        connector = harness.connector()
        described = connector.describe(harness.describe_object)
        assert described.get(harness.key_field) is not None and described.object == harness.describe_object
        record = connector.fetch_record(harness.describe_object, record_id, [harness.key_field])
        assert str(record.get(harness.key_field)) == record_id
        with pytest.raises(NotFound):
            connector.fetch_record(harness.describe_object, harness.missing_id, [harness.key_field])


@pytest.mark.parametrize("kind", _kinds_with(Capability.DESCRIBE))
def test_given_a_missing_field_then_create_fields_creates_it_or_says_how(kind: str) -> None:
    for harness in _open(kind):
        connector, spec = harness.connector(), harness.new_field()
        fixed = connector.create_fields(harness.describe_object, [spec])
        present = connector.describe(harness.describe_object).get(spec.name) is not None
        if REGISTRY.kind(kind).can(Capability.CREATE_FIELDS):
            assert fixed.created == (spec.name,) and present
        else:
            assert fixed.created == () and not present
            assert any(spec.name in step for step in fixed.instructions), fixed.instructions
