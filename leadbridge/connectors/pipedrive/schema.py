"""The company-specific names leadbridge needs: the ``leadbridge_id`` deal field's hash and the ids
of the four deal labels.

Custom field keys are 40-character hashes that differ per company, and labels are options of the
deal field ``label``: both are resolved by name from ``GET /api/v2/dealFields`` (one call, cached on
the connector). ``ensure`` creates what is missing — the text field through ``POST
/api/v1/dealFields`` and missing labels through ``PUT /api/v1/dealFields/{id}`` with every existing
option kept (an option left out of that list is deleted, so the list is always sent whole).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadbridge.connectors.pipedrive.client import PipedriveClient

EXTERNAL_ID = "leadbridge_id"


@dataclass
class Schema:
    """What ``dealFields`` said: the field hash (``None`` while missing) and labels by name and id."""

    external_key: str | None
    label_field_id: int | None
    labels: dict[str, int] = field(default_factory=dict)  # name → option id

    def name_of(self, label_id: int) -> str | None:
        return next((name for name, known in self.labels.items() if known == label_id), None)


def read_schema(client: PipedriveClient) -> Schema:
    key, label_field, labels = None, None, {}
    for page in client.pages("v2/dealFields", {"limit": 500}, what="read deal fields"):
        for item in page:
            if item.get("is_custom_field") and item.get("field_name") == EXTERNAL_ID:
                key = str(item["field_code"])
            if item.get("field_code") == "label":
                label_field = item.get("id")
                labels = {str(o["label"]): int(o["id"]) for o in item.get("options") or []}
    return Schema(key, int(label_field) if label_field is not None else None, labels)


def ensure(client: PipedriveClient, schema: Schema, wanted: list[str]) -> tuple[Schema, list[str]]:
    """Create the field and the labels ``schema`` lacks; the new schema and what was created."""
    created: list[str] = []
    if schema.external_key is None:
        client.call("POST", "v1/dealFields", body={"name": EXTERNAL_ID, "field_type": "varchar"},
                    what="create the leadbridge_id deal field")  # fmt: skip
        created.append(EXTERNAL_ID)
    missing = [name for name in wanted if name not in schema.labels]
    if missing:
        if schema.label_field_id is None:
            raise ValueError("the company's deal fields have no 'label' field")
        options = [{"id": i, "label": n} for n, i in schema.labels.items()] + [{"label": n} for n in missing]
        client.call("PUT", f"v1/dealFields/{schema.label_field_id}", body={"options": options},
                    what="add the leadbridge deal labels")  # fmt: skip
        created += [f"label {name}" for name in missing]
    return (read_schema(client) if created else schema), created
