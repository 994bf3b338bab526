"""``farmtrust db``: migrate and inspect the database, and trim old time series."""

from __future__ import annotations

from typing import Annotated

import typer

from farmtrust.commands._common import DbUrl, database_url, load_settings
from farmtrust.console import console

app = typer.Typer(help="Database schema: migrate and status; retention.", no_args_is_help=True)


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


@app.command()
def retention(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="drop time series older than this many days (default: FARMTRUST_DB__RETENTION_DAYS)"),
    ] = None,
    db_url: DbUrl = None,
) -> None:
    """Drop sensor readings and livestock counts older than the retention period (for cron or a systemd timer)."""
    from farmtrust.errors import SettingsError
    from store.db import connect
    from store.timescale import hypertables, run_retention

    days = days or load_settings(db_url=db_url).db.retention_days
    if days is None:
        raise SettingsError("retention_days: not set; pass --days N or set FARMTRUST_DB__RETENTION_DAYS")
    with database_url(db_url) as url, connect(url) as conn:
        hyper = hypertables(conn)
        removed = run_retention(conn, days=days)
        conn.commit()
    if removed is None:
        console.print("Another retention run holds the lock; nothing done.")
        return
    done = ", ".join(f"{n} {'chunks' if t in hyper else 'rows'} of {t}" for t, n in removed.items())
    console.print(f"Retention {days} days: removed {done}")
