"""CLI tables print CRM data as written: no Rich markup interpreted, no escape sequence sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli.context import Table, console
from leadbridge.cli.main import _register, app
from leadbridge.connectors.registry import default_registry
from leadbridge.core.intake import take_in
from leadbridge.core.store.database import Database
from tests.builders import TEST_SECRET_KEY, a_lead

HOSTILE = {
    "L-close": "[/bold]",
    "L-link": "[link=https://evil.example]Acme GmbH[/link]",
    "L-esc": "\x1b[2J\x1b]8;;https://evil.example\x07Beta AG",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "leadbridge.yaml").write_text(
        f"database_url: sqlite:///lb.db\nsecret_key: {TEST_SECRET_KEY}\n"
    )
    monkeypatch.chdir(tmp_path)
    database = Database(default_registry().load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url)
    database.upgrade()
    with database.transaction() as session:
        for number, company in enumerate(HOSTILE.values()):
            take_in(session, a_lead(company=company, email=f"x{number}@example.com", campaign=company))
    _register()
    return tmp_path


def test_leads_list_shows_markup_and_escape_sequences_as_text(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 400)  # one line per row, so the values are not wrapped
    result = CliRunner().invoke(app, ["leads", "list"])
    assert result.exit_code == 0, result.output
    assert "[/bold]" in result.output
    assert "[link=https://evil.example]Acme GmbH[/link]" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[2J" in result.output


def test_every_cli_table_treats_strings_as_data() -> None:
    table = Table("a", "b")
    table.add_row("[red]x[/red]", "\x1b[31m")
    with console.capture() as captured:
        console.print(table)
    assert "[red]x[/red]" in captured.get() and "\x1b[31m" not in captured.get()


def test_no_cli_module_builds_a_raw_rich_table() -> None:
    """Every table goes through ``cli.context.Table`` (strings are data); a raw ``rich.table``
    import in a command module would bring markup injection back."""
    cli = Path(__file__).resolve().parents[2] / "leadbridge" / "cli"
    offenders = [
        path.name
        for path in cli.glob("*.py")
        if path.name != "context.py" and "rich.table" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
