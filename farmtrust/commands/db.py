"""``farmtrust db``: migrate and inspect the database."""

from __future__ import annotations

import typer

from farmtrust.commands._common import DbUrl, database_url
from farmtrust.console import console

app = typer.Typer(help="Database schema: migrate and status.", no_args_is_help=True)


@app.command()
def migrate(db_url: DbUrl = None) -> None:
    """Apply pending migrations (a no-op when the schema is up to date)."""
    from store.db import connect
    from store.migrations import migrate as run_migrations

    with database_url(db_url) as url, connect(url, autocommit=True) as conn:
        done = run_migrations(conn)
    if done:
        console.print(f"Applied {len(done)} migration(s): " + ", ".join(m.name for m in done))
    else:
        console.print("Database schema is up to date; nothing to apply.")


@app.command()
def status(db_url: DbUrl = None) -> None:
    """Show each migration, when it was applied, and whether TimescaleDB is in use."""
    from rich.table import Table

    from store.db import connect
    from store.migrations import status as migration_status
    from store.timescale import hypertables, timescale_enabled

    with database_url(db_url) as url, connect(url, autocommit=True) as conn:
        rows = migration_status(conn)
        ts = timescale_enabled(conn)
        hyper = sorted(hypertables(conn))
    table = Table("version", "name", "applied at", "state")
    for r in rows:
        state = "[red]edited after apply[/]" if r.changed else "applied" if r.applied_at else "[yellow]pending[/]"
        table.add_row(
            f"{r.version:04d}",
            r.name,
            r.applied_at.isoformat(timespec="seconds") if r.applied_at else "-",
            state,
        )
    console.print(table)
    console.print(
        f"TimescaleDB: {'enabled; hypertables: ' + ', '.join(hyper) if ts else 'not available (plain tables)'}"
    )
