"""One HubSpot batch write (≤ 100 inputs) → one ``WriteResult`` per item.

Rules:
- every input carries its own ``objectWriteTraceId`` so one bad input yields a 207 with per-input
  errors instead of failing the whole batch (crm-api-notes §4.3); results and errors are matched
  back by trace id (HubSpot does not promise result order), unknown ids of an update by the
  ``context.ids`` of the one ``OBJECT_NOT_FOUND`` error that lists them;
- each failed input goes through the error table (validation → skip with HubSpot's reason,
  not found → skip); an input HubSpot said nothing about is retried later;
- an upsert refused because its e-mail already belongs to another contact (409 ``CONFLICT``) is
  sent once more without the e-mail: the partner already has that person, our copy still lands,
  keyed by our id, and the partner's own contact is left alone;
- a batch refused as a whole (a 4xx that skips) gives every item that reason; quota, auth and
  transient failures propagate to the caller (the outbox decides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leadbridge.connectors.hubspot import fields as F
from leadbridge.connectors.hubspot.client import HubSpotClient
from leadbridge.connectors.hubspot.errors import item_rule
from leadbridge.core.errors import SkipRecord
from leadbridge.ports import Action, WriteItem, WriteResult


def _input(item: WriteItem, upsert: bool, trace: str) -> dict[str, Any]:
    fields = {k: F.hs_value(v) for k, v in item.fields.items()}
    if upsert:
        key = fields.pop(F.EXTERNAL_ID, "")
        return {"id": key, "idProperty": F.EXTERNAL_ID, "properties": fields, "objectWriteTraceId": trace}
    return {"id": str(item.external_id), "properties": fields, "objectWriteTraceId": trace}


def write_chunk(
    client: HubSpotClient, obj: str, items: Sequence[WriteItem], *, upsert: bool, retry_conflicts: bool = True
) -> list[WriteResult]:
    """Update (by ``external_id``) or upsert (on ``leadbridge_id``) ≤ 100 items (module rules)."""
    inputs = [_input(item, upsert, str(n)) for n, item in enumerate(items)]
    try:
        answer = client.batch_write(obj, "upsert" if upsert else "update", inputs)
    except SkipRecord as refused:
        return [WriteResult(item.key, False, error=str(refused), action=Action.SKIP) for item in items]
    done: dict[str, Mapping[str, Any]] = {}
    for result in answer.data.get("results") or []:
        done[str(result.get("objectWriteTraceId") or "")] = result
    failed: dict[str, Mapping[str, Any]] = {}
    for problem in answer.data.get("errors") or []:
        context = problem.get("context") or {}
        for trace in context.get("objectWriteTraceId") or []:
            failed[str(trace)] = problem
        for missing in context.get("ids") or []:
            failed[f"id:{missing}"] = problem
    results: list[WriteResult] = []
    conflicts: list[int] = []
    for n, item in enumerate(items):
        if str(n) in done:
            result = done[str(n)]
            results.append(WriteResult(item.key, True, str(result.get("id")), bool(result.get("new"))))
            continue
        problem = failed.get(str(n)) or failed.get(f"id:{item.external_id}")
        if problem is None:
            results.append(
                WriteResult(item.key, False, error="no result for this input", action=Action.RETRY)
            )
            continue
        if upsert and retry_conflicts and problem.get("category") == "CONFLICT" and "email" in item.fields:
            conflicts.append(n)
        message = f"{problem.get('category')}: {problem.get('message')}"
        results.append(WriteResult(item.key, False, error=message, action=item_rule(problem).action))
    if conflicts:
        again = [
            WriteItem(items[n].key, {k: v for k, v in items[n].fields.items() if k != "email"})
            for n in conflicts
        ]
        for n, result in zip(
            conflicts, write_chunk(client, obj, again, upsert=True, retry_conflicts=False), strict=True
        ):
            results[n] = result
    return results
