"""``farmtrust api``: serve the HTTP API and dashboard; ``farmtrust api-key``: create an organization's key."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from farmtrust.commands._common import DbUrl, load_settings
from farmtrust.console import console
from vocabulary.organizations import ORGANIZATION_KINDS

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

app = typer.Typer()


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="bind address", envvar="FARMTRUST_API__HOST")] = None,
    port: Annotated[int | None, typer.Option(help="port", envvar="FARMTRUST_API__PORT")] = None,
    db_url: DbUrl = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="server processes; default: one per core this process may run on",
            envvar="FARMTRUST_API__WORKERS",
        ),
    ] = None,
) -> None:
    """Serve the API and the dashboard (uvicorn), by default with one worker process per available core."""
    import uvicorn

    from api.app import create_app
    from farmtrust.errors import SettingsError

    settings = load_settings(db_url=db_url)
    if not settings.db.url:
        raise SettingsError("The API needs a database: set FARMTRUST_DB__URL or pass --db-url.")
    bind: dict[str, Any] = {
        "host": host or settings.api.host,
        "port": port or settings.api.port,
        # X-Forwarded-For/-Proto only from a TLS proxy the operator declared: uvicorn's default trusts
        # them from 127.0.0.1, which would let a local client fake its address past the sign-in throttle
        "proxy_headers": settings.api.trust_forwarded_proto,
    }
    processes = workers or settings.api.workers or cores_available()
    console.print(f"serving on http://{bind['host']}:{bind['port']} with {processes} worker process(es)")
    if processes == 1:
        uvicorn.run(create_app(settings), **bind)
        return
    # worker processes build the app themselves from the environment, so the command line's URL goes there
    os.environ["FARMTRUST_DB__URL"] = settings.db.url
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("farmtrust.commands.api:create_app_from_env", factory=True, workers=processes, **bind)
    try:
        Multiprocess(config, sockets=[_tcp_listener(config)]).run()
    except KeyboardInterrupt:
        pass


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
"""cgroup v2's CPU quota of this process's group: ``"<quota_us> <period_us>"`` or ``"max <period_us>"``."""


def cores_available(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (containers).

    ``os.cpu_count()`` counts the host's cores, which over-counts under ``taskset`` or ``docker --cpus``;
    more server processes than cores only adds context switches. A quota of 1.5 cores counts as 2.

    Args:
        cpu_max: the cgroup ``cpu.max`` file to read (absent: no quota).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()
    except (OSError, ValueError):
        return max(1, cores)
    if quota != "max":
        cores = min(cores, math.ceil(int(quota) / int(period)))
    return max(1, cores)


def create_app_from_env() -> FastAPI:
    """Build the API from the environment's settings (the factory each uvicorn worker process calls)."""
    from api.app import create_app
    from farmtrust.settings import Settings

    return create_app(Settings())


def _tcp_listener(config: uvicorn.Config) -> socket.socket:
    """The listening socket for worker processes, marked as TCP so every connection gets TCP_NODELAY.

    ``uvicorn.Config.bind_socket`` leaves the socket's protocol at 0, and asyncio only disables Nagle's
    algorithm on accepted sockets whose protocol is ``IPPROTO_TCP``: with ``--workers`` every
    keep-alive response would wait ~40 ms for the client's delayed ACK (uvicorn issue #3149, open).
    The same file descriptor is re-wrapped with the protocol set, as uvicorn's proposed fix does.
    """
    sock = config.bind_socket()
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    return tcp


@app.command("api-key")
def api_key(
    kind: Annotated[str, typer.Option(help=f"organization kind: {' | '.join(ORGANIZATION_KINDS)}")] = "admin",
    name: Annotated[str, typer.Option(help="organization name")] = "FarmTrust operations",
    db_url: DbUrl = None,
) -> None:
    """Create (or reuse) an organization and print a new API key for it (shown once)."""
    from farmtrust.errors import SettingsError
    from store.db import connect
    from store.tenants import create_api_key, create_organization

    if kind not in ORGANIZATION_KINDS:
        raise SettingsError(f"--kind has value {kind!r}; use one of {', '.join(ORGANIZATION_KINDS)}.")
    settings = load_settings(db_url=db_url)
    if not settings.db.url:
        raise SettingsError("Creating a key needs a database: set FARMTRUST_DB__URL or pass --db-url.")
    with connect(settings.db.url) as conn:
        org_id = create_organization(conn, kind=kind, name=name)
        key_id, token = create_api_key(conn, organization_id=org_id, label="cli")
        conn.commit()
    console.print(f"{kind} {name} ({org_id}): key {key_id}")
    console.print(token)
