"""``farmtrust api``: serve the HTTP API and dashboard; ``farmtrust api-key``: create an organization's key."""

from __future__ import annotations

from typing import Annotated

import typer

from farmtrust.commands._common import DbUrl, load_settings
from farmtrust.console import console

app = typer.Typer()


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="bind address", envvar="FARMTRUST_API__HOST")] = None,
    port: Annotated[int | None, typer.Option(help="port", envvar="FARMTRUST_API__PORT")] = None,
    db_url: DbUrl = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="server processes (one per core spreads the Python work)", envvar="FARMTRUST_API__WORKERS"
        ),
    ] = None,
) -> None:
    """Serve the API and the dashboard (uvicorn)."""
    import os

    import uvicorn

    from api.app import create_app
    from farmtrust.errors import SettingsError

    settings = load_settings(db_url=db_url)
    if not settings.db.url:
        raise SettingsError("The API needs a database: set FARMTRUST_DB__URL or pass --db-url.")
    bind = {"host": host or settings.api.host, "port": port or settings.api.port}
    processes = workers or settings.api.workers
    if processes == 1:
        uvicorn.run(create_app(settings), **bind)
        return
    # worker processes build the app themselves from the environment, so the command line's URL goes there
    os.environ["FARMTRUST_DB__URL"] = settings.db.url
    uvicorn.run("api.app:create_app_from_env", factory=True, workers=processes, **bind)


@app.command("api-key")
def api_key(
    kind: Annotated[str, typer.Option(help="organization kind: admin, cooperative or lender")] = "admin",
    name: Annotated[str, typer.Option(help="organization name")] = "FarmTrust operations",
    db_url: DbUrl = None,
) -> None:
    """Create (or reuse) an organization and print a new API key for it (shown once)."""
    from farmtrust.errors import SettingsError
    from store.db import connect
    from store.tenants import create_api_key, create_organization

    if kind not in {"admin", "cooperative", "lender"}:
        raise SettingsError(f"--kind has value {kind!r}; use admin, cooperative or lender.")
    settings = load_settings(db_url=db_url)
    if not settings.db.url:
        raise SettingsError("Creating a key needs a database: set FARMTRUST_DB__URL or pass --db-url.")
    with connect(settings.db.url) as conn:
        org_id = create_organization(conn, kind=kind, name=name)
        key_id, token = create_api_key(conn, organization_id=org_id, label="cli")
        conn.commit()
    console.print(f"{kind} {name} ({org_id}): key {key_id}")
    console.print(token)
