"""Policy YAML: defaults, strict keys, clear errors, tiers, the shipped example."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadbridge.core.errors import ConfigError
from leadbridge.core.policy import Fallback, Mode, PerformanceTierName, load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"
INIT_POLICY = Path(__file__).resolve().parents[2] / "leadbridge" / "init_files" / "policy.yaml"


def test_given_only_a_version_when_parsed_then_every_section_has_defaults() -> None:
    policy = parse_policy({"version": 1})
    assert policy.distribution.mode is Mode.ASSIGN
    assert policy.filters.territory.enabled and not policy.filters.language.enabled
    assert policy.fallback is Fallback.DIRECT_SALES
    assert policy.max_rounds == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1, "filterz": {}}, "filterz: Extra inputs are not permitted"),
        ({"version": 2}, "version: Value error, policy version 2 is not supported"),
        ({"version": 1, "distribution": {"mode": "lottery"}}, "distribution.mode"),
        ({"version": 1, "scoring": {"weights": {"distance": -1}}}, "scoring.weights.distance"),
        (
            {"version": 1, "performance": {"tiers": {"weak": {"weight_multipliers": {"luck": 2}}}}},
            "unknown scorer",
        ),
        ({"version": 1, "returns": {"no_fit": "shred"}}, "returns.no_fit"),
        ({}, "version: Field required"),
    ],
)
def test_given_a_bad_policy_when_parsed_then_the_error_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_policy(data, "p.yaml")
    assert "p.yaml: invalid routing policy" in str(error.value)
    assert message in str(error.value)


def test_given_a_filter_as_bool_when_parsed_then_it_is_a_switch() -> None:
    policy = parse_policy({"version": 1, "filters": {"language": True, "capacity": False}})
    assert policy.filters.language.enabled
    assert not policy.filters.capacity.enabled


def test_given_performance_tiers_when_weights_asked_then_multipliers_apply() -> None:
    policy = parse_policy(
        {
            "version": 1,
            "scoring": {"weights": {"win_rate": 2.0}},
            "performance": {
                "tiers": {"high": {"weight_multipliers": {"win_rate": 1.5}, "capacity_multiplier": 2}}
            },
        }
    )
    assert policy.weight_for("win_rate", PerformanceTierName.HIGH) == 3.0
    assert policy.weight_for("win_rate", PerformanceTierName.WEAK) == 2.0
    assert policy.capacity_multiplier(PerformanceTierName.HIGH) == 2.0


def test_given_a_yaml_file_when_loaded_then_errors_carry_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\nmax_rounds: 0\n")
    with pytest.raises(ConfigError, match=r"policy.yaml: invalid routing policy\n  max_rounds"):
        load_policy(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(broken)


def test_given_gazetteer_files_when_loaded_then_paths_are_relative_to_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\ngeo:\n  gazetteer_files: [geo/extra.csv]\n")
    assert load_policy(path).geo.gazetteer_files == [str(tmp_path / "geo" / "extra.csv")]


@pytest.mark.parametrize("path", [EXAMPLE, INIT_POLICY])
def test_given_the_shipped_policies_when_loaded_then_they_validate(path: Path) -> None:
    assert load_policy(path).version == 1
