"""Loading mapping files: every problem is reported with its file and line, all at once."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from leadbridge.mappings.loader import MappingError, default_mapping_paths, load_mapping, parse_mapping

HEADER = """\
system: salesforce
object: Lead
role: manufacturer
key: Id
fields:
"""


def problems(body: str, header: str = HEADER) -> list[tuple[int, str]]:
    with pytest.raises(MappingError) as caught:
        parse_mapping(header + dedent(body), "m.yaml", systems=("salesforce", "hubspot"))
    return caught.value.problems


def test_every_shipped_default_loads() -> None:
    paths = default_mapping_paths()
    names = {path.name for path in paths}
    assert {
        "salesforce_lead_manufacturer.yaml",
        "salesforce_lead_partner.yaml",
        "hubspot_contact_manufacturer.yaml",
        "hubspot_contact_partner.yaml",
        "hubspot_company_manufacturer.yaml",
        "hubspot_company_partner.yaml",
        "hubspot_deal_manufacturer.yaml",
        "hubspot_deal_partner.yaml",
    } <= names
    for path in paths:
        assert load_mapping(path).fields


def test_a_good_file_loads_with_shorthands() -> None:
    mapping = parse_mapping(HEADER + "  - {canonical: first_name, in: FirstName, out: FirstName}\n", "m.yaml")
    entry = mapping.fields[0]
    assert entry.inbound and entry.inbound.field == "FirstName" and entry.line == 6
    assert mapping.remote_fields("in") == ["Id", "FirstName"]


def test_unknown_canonical_field_with_line_and_hint() -> None:
    found = problems(
        """\
          - canonical: first_name
            in: FirstName
          - canonical: adress.city
            in: City
        """
    )
    assert found == [(8, "unknown canonical field 'adress.city' (did you mean 'address.city'?)")]


def test_unknown_transform_on_its_line() -> None:
    found = problems(
        """\
          - canonical: first_name
            in: FirstName
            transform:
              - trim
              - trimm
        """
    )
    assert len(found) == 1 and found[0][0] == 10 and "unknown transform 'trimm'" in found[0][1]


def test_bad_transform_arguments_point_at_the_argument() -> None:
    found = problems(
        """\
          - canonical: created_at
            in: CreatedDate
            transform:
              datetime:
                format: salesforce
                timezone: Mars/Olympus
        """
    )
    assert found == [
        (11, "datetime: timezone: unknown time zone 'Mars/Olympus' (use an IANA name like Europe/Berlin)")
    ]


def test_value_map_not_total_when_unknown_is_error() -> None:
    found = problems(
        """\
          - canonical: stage
            in: Rating
            out: Rating
            transform:
              value_map:
                values: {Hot: sql, Warm: mql}
        """
    )
    assert len(found) == 1 and found[0][0] == 10
    assert "not total" in found[0][1] and "'lead'" in found[0][1]


def test_every_problem_is_listed_and_the_message_names_file_and_line() -> None:
    body = """\
      - canonical: first_name
        in: FirstName
        transform: {number: {type: complex}}
      - canonical: nope
        in: Nope
      - canonical: email
        required: true
        out: Email
      - canonical: phone
        in: Phone
        out: Phone
        blind: true
      - canonical: last_name
        in: LastName
        colour: red
    """
    with pytest.raises(MappingError) as caught:
        parse_mapping(HEADER + dedent(body), "m.yaml")
    lines = [line for line, _ in caught.value.problems]
    assert lines == [8, 9, 12, 17, 17, 20]
    text = str(caught.value)
    assert "m.yaml:8: number: type: Input should be 'integer', 'float' or 'decimal'" in text
    assert "m.yaml:12: required needs an 'in' side to check" in text
    assert "m.yaml:17: blind only applies to partner mappings" in text
    assert "m.yaml:17: phone identifies the lead: it cannot be sent blind" in text
    assert "m.yaml:20: colour: Extra inputs are not permitted" in text


def test_blind_identity_fields_are_refused_in_partner_mappings() -> None:
    found = problems(
        "  - {canonical: email, out: Email, blind: true}\n", HEADER.replace("manufacturer", "partner")
    )
    assert found == [(6, "email identifies the lead: it cannot be sent blind")]


def test_header_errors_have_lines() -> None:
    found = problems(
        "  - {canonical: first_name, in: FirstName}\n", HEADER.replace("salesforce", "pipedrive")
    )
    assert found[0][0] == 1 and "system" in found[0][1]


def test_out_template_placeholders_must_be_canonical_fields() -> None:
    found = problems("  - out: Name\n    transform: {template: '{first_name} {surname}'}\n")
    assert found == [(7, "template: unknown canonical field 'surname' (did you mean 'last_name'?)")]


def test_duplicate_reads_and_writes() -> None:
    found = problems(
        """\
          - {canonical: city, in: City}
          - {canonical: address.city, in: City, out: City}
          - {canonical: address.city, in: Town, out: City}
        """
    )
    assert (6, "unknown canonical field 'city' (did you mean 'address.city'?)") in found
    assert (8, "address.city is already read in on line 7") in found
    assert (8, "City is already written on line 7") in found


def test_datetime_written_without_a_datetime_transform() -> None:
    found = problems("  - {canonical: status.offered_at, out: LeadBridge_Offered_At__c}\n")
    assert found == [(6, "status.offered_at is a datetime: add a datetime transform")]


def test_split_name_cannot_write() -> None:
    found = problems("  - {canonical: first_name, out: {field: Name, transform: {split_name: first}}}\n")
    assert len(found) == 1 and "split_name only converts inbound" in found[0][1]


def test_yaml_syntax_error_has_its_line() -> None:
    found = problems("  - canonical: first_name\n    in: [FirstName\n")
    assert found[0][0] >= 7 and "not valid YAML" in found[0][1]


def test_picklist_keys_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        HEADER
        + "  - canonical: consent.share_with_partners\n    in: Consent__c\n"
        + "    transform: {value_map: {values: {Yes: true, No: false}}}\n",
        encoding="utf-8",
    )
    step = load_mapping(path).fields[0].inbound.steps[0]  # type: ignore[union-attr]
    assert step.transform.inbound("yes", {}, {}) is True and step.transform.inbound("No", {}, {}) is False


def test_entries_that_map_nothing_or_lack_a_field() -> None:
    found = problems(
        """\
          - canonical: first_name
          - canonical: last_name
            out: {transform: trim}
          - in: FirstName
            out: FirstName
          - canonical: company
            in: {transform: trim}
        """
    )
    assert found == [
        (6, "maps nothing: give 'in', 'out' or both"),
        (8, "out: needs 'field' (the remote field to write)"),
        (9, "an entry without 'canonical' can only build an 'out' value (template…)"),
        (12, "in: needs 'field', or a template/constant as its first transform"),
    ]
