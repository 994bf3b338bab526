"""The ``farmtrust`` command groups, one module each; ``register`` adds them to the root app."""

from __future__ import annotations

import importlib
import importlib.util

import typer

# (module, group name, or None to add the module's commands at the top level).
# Each module defines ``app`` (a typer.Typer) and imports heavy packages inside command bodies.
GROUPS: tuple[tuple[str, str | None], ...] = (
    ("farmtrust.commands.db", "db"),
    ("farmtrust.commands.services", "services"),
    ("farmtrust.commands.edge", "edge"),
    ("farmtrust.commands.ingest", None),
    ("farmtrust.commands.vision", "vision"),
    ("farmtrust.commands.rs", "rs"),
    ("farmtrust.commands.credit", "credit"),
    ("farmtrust.commands.loans", "loans"),
    ("farmtrust.commands.audit", "audit"),
    ("farmtrust.commands.api", None),
    ("farmtrust.commands.demo", None),
)


def register(root: typer.Typer) -> None:
    """Add every command group that is present in this install to ``root``."""
    for module_name, group in GROUPS:
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        if group is None:
            root.registered_commands.extend(module.app.registered_commands)
        else:
            root.add_typer(module.app, name=group)
