"""Every transform, both directions: given a remote value, when mapped in and out, then …"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from leadbridge.mappings.canonical import lookup
from leadbridge.mappings.transforms import REGISTRY, Transform, ValueProblem
from leadbridge.mappings.transforms.text import parse_template


def make(name: str, args: Any = None) -> Transform[Any]:
    cls = REGISTRY[name]
    if args is not None and not isinstance(args, dict):
        args = {cls.primary: args}
    return cls(cls.args_model.model_validate(args or {}))


def inbound(name: str, value: Any, args: Any = None, **record: Any) -> Any:
    return make(name, args).inbound(value, record, record)


def outbound(name: str, value: Any, args: Any = None, **record: Any) -> Any:
    return make(name, args).outbound(value, record, record)


def test_every_registered_transform_has_a_docstring_and_a_test_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for name, cls in REGISTRY.items():
        assert cls.__doc__, name
        assert f'"{name}"' in source, f"no test exercises {name}"


def test_trim_strips_and_blank_becomes_empty() -> None:
    assert inbound("trim", "  Anna ") == "Anna"
    assert inbound("trim", "   ") is None
    assert outbound("trim", " x ") == "x"
    assert inbound("trim", 5) == 5


@pytest.mark.parametrize(
    ("name", "expected"), [("lower", "acme gmbh"), ("upper", "ACME GMBH"), ("title", "Acme Gmbh")]
)
def test_case_changes_inbound_and_leaves_outbound(name: str, expected: str) -> None:
    assert inbound(name, "aCME gmbH") == expected
    assert outbound(name, "aCME gmbH") == "aCME gmbH"


def test_default_fills_only_empty_values() -> None:
    assert inbound("default", None, "mql") == "mql"
    assert inbound("default", "", "mql") == "mql"
    assert inbound("default", "sql", "mql") == "sql"
    assert outbound("default", None, "Open") == "Open"


def test_constant_ignores_the_value() -> None:
    assert inbound("constant", "anything", "Partner Referral") == "Partner Referral"
    assert outbound("constant", None, "Partner Referral") == "Partner Referral"


def test_template_joins_fields_and_collapses_gaps() -> None:
    fmt = "{first_name} {last_name}"
    assert outbound("template", None, fmt, first_name="Anna", last_name="Muster") == "Anna Muster"
    assert outbound("template", None, fmt, first_name=None, last_name="Muster") == "Muster"
    assert outbound("template", None, fmt) is None
    assert outbound("template", None, "{{x}} {address.city}", **{"address.city": "Köln"}) == "{x} Köln"
    assert make("template", fmt).reads() == ["first_name", "last_name"]


@pytest.mark.parametrize("bad", ["{first_name!r}", "{a:>10}", "{a[0]}", "lone { brace", "{}", "x}"])
def test_template_syntax_is_fixed_no_expressions(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_template(bad)


def test_split_name_and_join_name_are_inverse() -> None:
    assert inbound("split_name", "Anna Maria Muster", "first") == "Anna Maria"
    assert inbound("split_name", "Anna Maria Muster", "last") == "Muster"
    assert inbound("split_name", "Muster", "first") is None
    assert inbound("split_name", "Muster, Anna", {"part": "first", "order": "last_first"}) == "Anna"
    full = outbound("join_name", None, first_name="Anna Maria", last_name="Muster")
    assert full == "Anna Maria Muster"
    assert inbound("split_name", full, "first") == "Anna Maria"
    reversed_name = outbound("join_name", None, "last_first", first_name="Anna", last_name="Muster")
    assert reversed_name == "Muster, Anna"
    assert "in" in REGISTRY["split_name"].directions and "out" not in REGISTRY["split_name"].directions


def test_email_is_normalised() -> None:
    assert inbound("email", "  mailto:Anna.Muster@Example.ORG ") == "anna.muster@example.org"
    with pytest.raises(ValueProblem):
        inbound("email", 42)


def test_list_splits_multi_select_values() -> None:
    assert inbound("list", "heat_pumps; solar;;") == ["heat_pumps", "solar"]
    assert inbound("list", "a,b", ",") == ["a", "b"]
    assert outbound("list", ["a", "b"]) == "a;b"
    assert outbound("list", []) is None


def test_value_map_translates_both_ways_case_insensitively() -> None:
    args = {"values": {"Hot": "sql", "Warm": "mql", "Lukewarm": "mql"}}
    assert inbound("value_map", "hot", args) == "sql"
    assert outbound("value_map", "mql", args) == "Warm"  # first remote value listed wins
    assert outbound("value_map", "mql", {**args, "reverse": {"mql": "Lukewarm"}}) == "Lukewarm"


def test_value_map_unknown_policies() -> None:
    values = {"values": {"A": "x"}}
    with pytest.raises(ValueProblem, match="unmapped value 'B'"):
        inbound("value_map", "B", values)
    assert inbound("value_map", "B", {**values, "unknown": "default", "default": "y"}) == "y"
    assert inbound("value_map", "B", {**values, "unknown": "pass"}) == "B"
    assert inbound("value_map", "B", {**values, "unknown": "empty"}) is None
    assert (
        outbound("value_map", "z", {**values, "unknown": "default", "default": "x", "reverse_default": "A"})
        == "A"
    )


def test_value_map_load_checks_enum_targets_and_totality() -> None:
    stage = lookup("stage")
    partial = make("value_map", {"values": {"Hot": "sql", "Warm": "mql"}})
    assert any("not total" in p and "'lead'" in p for p in partial.problems(stage))
    wrong = make("value_map", {"values": {"Hot": "hot"}, "unknown": "pass"})
    assert any("'hot' is not a value of stage" in p for p in wrong.problems(stage))
    total = make("value_map", {"values": {"Hot": "sql", "Warm": "mql", "Cold": "lead"}})
    assert total.problems(stage) == []


def test_boolean_reads_many_spellings_and_negates() -> None:
    for text in ("true", "Yes", "1", "ja", "X"):
        assert inbound("boolean", text) is True
    for text in ("false", "no", "0", "nein"):
        assert inbound("boolean", text) is False
    assert inbound("boolean", True, {"negate": True}) is False
    assert outbound("boolean", False, {"negate": True, "as_string": True}) == "true"
    with pytest.raises(ValueProblem):
        inbound("boolean", "maybe")


def test_number_parses_text_and_writes_json_or_text() -> None:
    assert inbound("number", "1,234.5") == 1234.5
    assert inbound("number", "1.234,5", {"decimal_comma": True}) == 1234.5
    assert inbound("number", "17", "integer") == 17
    assert inbound("number", "12'000", "integer") == 12000
    assert inbound("number", 2.5, {"type": "decimal"}) == Decimal("2.5")
    assert outbound("number", 17, {"type": "integer", "as_string": True}) == "17"
    with pytest.raises(ValueProblem, match="whole number"):
        inbound("number", "17.5", "integer")
    with pytest.raises(ValueProblem, match="not a number"):
        inbound("number", "12abc")


def test_currency_rounds_and_drops_symbols() -> None:
    assert inbound("currency", "€ 1.234,567", {"decimal_comma": True}) == Decimal("1234.57")
    assert inbound("currency", "USD 1,000") == Decimal("1000.00")
    assert outbound("currency", Decimal("1000.00")) == 1000
    assert outbound("currency", Decimal("10.5")) == 10.5
    assert outbound("currency", Decimal("10.5"), {"as_string": True}) == "10.50"


def test_date_iso_epoch_ms_and_pattern() -> None:
    assert inbound("date", "2024-05-01") == date(2024, 5, 1)
    assert inbound("date", "2024-05-01T23:00:00.000+0000") == date(2024, 5, 1)
    assert inbound("date", "1714521600000", "epoch_ms") == date(2024, 5, 1)
    assert outbound("date", date(2024, 5, 1), "epoch_ms") == "1714521600000"
    assert outbound("date", date(2024, 5, 1), {"pattern": "%d.%m.%Y"}) == "01.05.2024"
    assert inbound("date", "01.05.2024", {"pattern": "%d.%m.%Y"}) == date(2024, 5, 1)
    with pytest.raises(ValueProblem, match="not a date"):
        inbound("date", "31.02.2024")


def test_datetime_reads_salesforce_hubspot_and_naive_local_times() -> None:
    moment = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
    assert inbound("datetime", "2024-05-01T12:34:56.789+0000") == moment
    assert inbound("datetime", "2024-05-01T12:34:56.789Z") == moment
    assert inbound("datetime", "1714566896789") == moment
    assert inbound("datetime", 1714566896789) == moment
    berlin = inbound("datetime", "2024-05-01T14:34:56.789", {"timezone": "Europe/Berlin"})
    assert berlin == moment and berlin.tzinfo is UTC
    assert outbound("datetime", moment, "salesforce") == "2024-05-01T12:34:56.789+0000"
    assert outbound("datetime", moment, "epoch_ms") == "1714566896789"
    assert outbound("datetime", moment) == "2024-05-01T12:34:56.789000Z"
    local = outbound("datetime", moment, {"timezone": "Europe/Berlin"})
    assert local == "2024-05-01T14:34:56.789000+02:00"
    with pytest.raises(ValueProblem, match="not a date-time"):
        inbound("datetime", "yesterday")


def test_datetime_rejects_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        make("datetime", {"timezone": "Mars/Olympus"})


def test_phone_to_e164_with_the_leads_country() -> None:
    assert inbound("phone", "030 1234567", **{"address.country": "DE"}) == "+49301234567"
    assert inbound("phone", "01 234 56 78", **{"address.country": "AT"}) == "+4312345678"
    assert inbound("phone", "030 1234567", "DE") == "+49301234567"  # default region
    assert inbound("phone", "+49 30 1234567") == "+49301234567"
    assert inbound("phone", "call me", "DE") == "call me"  # invalid: keep (default)
    assert inbound("phone", "call me", {"region": "DE", "invalid": "drop"}) is None
    with pytest.raises(ValueProblem, match="not a valid phone number"):
        inbound("phone", "123", {"region": "DE", "invalid": "error"})
    assert outbound("phone", "+49301234567", {"format": "international"}) == "+49 30 1234567"
    assert outbound("phone", "+49301234567", {"format": "national"}) == "030 1234567"


def test_country_names_and_codes() -> None:
    assert inbound("country", "Deutschland") == "DE"
    assert inbound("country", "AUT") == "AT"
    assert inbound("country", "CH") == "CH"
    assert outbound("country", "DE", "name") == "Germany"
    assert outbound("country", "DE", {"remote": "name", "language": "de"}) == "Deutschland"
    assert outbound("country", "de") == "DE"
    with pytest.raises(ValueProblem, match="unknown country"):
        inbound("country", "Atlantis")


def test_the_docs_describe_every_transform() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "mappings.md").read_text(encoding="utf-8")
    for name in REGISTRY:
        assert f"| `{name}`" in docs or f"`{name}` |" in docs or f" `{name}` " in docs, name
