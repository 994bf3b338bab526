"""The ``farmtrust`` command groups, one module each; ``register`` adds them to the root app."""

from __future__ import annotations

import importlib

import typer

# (module, group name or None for top-level commands). Each module defines ``app`` (a typer.Typer).
GROUPS: tuple[tuple[str, str | None], ...] = (
    ("farmtrust.commands.db", "db"),
    ("farmtrust.commands.services", "services"),
)


def register(root: typer.Typer) -> None:
    """Add every command group to ``root``."""
    for module_name, group in GROUPS:
        module = importlib.import_module(module_name)
        if group is None:
            root.registered_commands.extend(module.app.registered_commands)
        else:
            root.add_typer(module.app, name=group)
