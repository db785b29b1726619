"""The repository's LICENSE is the licence ``pyproject.toml`` declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TITLES = {"Apache-2.0": ("Apache License", "Version 2.0, January 2004")}


def test_the_license_file_matches_the_declared_licence() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    text = (ROOT / "LICENSE").read_text()
    assert declared in TITLES, f"no LICENSE check for {declared}"
    for line in TITLES[declared]:
        assert line in text[:400]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
