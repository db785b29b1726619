"""The CLI imports only the command modules an invocation needs: the map says which those are."""

from __future__ import annotations

import typer

from leadbridge.cli.main import COMMAND_MODULES, COMMANDS, _command_of, _register


def names(app: typer.Typer) -> set[str]:
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    return commands | {g.name or "" for g in app.registered_groups}


def test_every_registered_command_is_mapped_to_the_modules_that_add_it() -> None:
    everything = typer.Typer()
    _register(None, everything)
    assert names(everything) == set(COMMANDS)
    for command, modules in COMMANDS.items():
        assert set(modules) <= set(COMMAND_MODULES)
        alone = typer.Typer()
        _register([command, "--help"], alone)
        assert command in names(alone), command


def test_leads_gets_its_quarantine_subcommand_from_mappings() -> None:
    alone = typer.Typer()
    _register(["--config", "x.yaml", "leads", "import", "f.csv"], alone)
    (group,) = [g for g in alone.registered_groups if g.name == "leads"]
    assert group.typer_instance is not None
    subcommands = {c.name for c in group.typer_instance.registered_commands}
    assert {"import", "quarantine"} <= subcommands


def test_the_command_is_found_after_the_root_options() -> None:
    assert _command_of(["-c", "leads", "partners", "list"]) == "partners"
    assert _command_of(["--help"]) is None
    assert _command_of(["--config=x.yaml", "db", "upgrade"]) == "db"
