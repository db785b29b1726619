"""What ``mappings check --fix`` does with findings, in vendor-neutral terms: the fields to create
(``FieldSpec``, which the connector's ``create_fields`` turns into API calls or admin steps) and
the problems only a person can fix (picklists, types, read-only fields)."""

from __future__ import annotations

from leadbridge.mappings.check import Finding
from leadbridge.ports import FieldSpec

EXTERNAL_ID_FIELDS = {"LeadBridge_Id__c", "leadbridge_id"}


def _label(name: str) -> str:
    return name.removesuffix("__c").replace("_", " ").strip().title().replace("Leadbridge", "LeadBridge")


def missing_fields(findings: list[Finding]) -> list[Finding]:
    """One finding per missing remote field (a field read and written is reported twice)."""
    unique: dict[str, Finding] = {}
    for finding in findings:
        if finding.kind == "missing":
            unique.setdefault(finding.field.casefold(), finding)
    return list(unique.values())


def field_specs(findings: list[Finding]) -> list[FieldSpec]:
    """The fields to create for the ``missing`` findings: value-mapped fields carry the map's remote
    values as options; our lead id is unique (upserts key on it)."""
    return [
        FieldSpec(
            name=finding.field,
            label=_label(finding.field),
            family=finding.family,
            options=finding.options,
            unique=finding.field in EXTERNAL_ID_FIELDS,
        )
        for finding in missing_fields(findings)
    ]


def manual_steps(object_name: str, findings: list[Finding]) -> list[str]:
    """The problems creating fields cannot fix: picklist values, types, read-only fields."""
    return [
        f"{object_name}.{finding.field}: {finding.message} — fix the field or the mapping"
        for finding in findings
        if finding.kind in ("picklist", "type", "read_only")
    ]
