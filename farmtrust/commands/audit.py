"""``farmtrust audit``: verify the hash-chained audit log, and sign checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from farmtrust.commands._common import DbUrl, database_url, load_settings
from farmtrust.console import console, err_console

app = typer.Typer(help="Audit log: verify the chain and its signed checkpoints.", no_args_is_help=True)

KeyFile = Annotated[
    Path | None,
    typer.Option("--key", help="raw Ed25519 checkpoint private key; default: <data_dir>/audit/checkpoint.key"),
]


def _key_path(key: Path | None) -> Path:
    return key or load_settings().data_dir / "audit" / "checkpoint.key"


@app.command()
def verify(
    db_url: DbUrl = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="raw 32-byte public key file; default: <data_dir>/audit/checkpoint.pub"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check every entry's hash and link, and every checkpoint's signature; exit 1 on any problem."""
    from credit.canonical import to_plain
    from store.audit import verify_log
    from store.db import connect

    pub_path = public_key or load_settings().data_dir / "audit" / "checkpoint.pub"
    pub = pub_path.read_bytes() if pub_path.is_file() else None
    if public_key is not None and pub is None:
        err_console.print(f"[red]error:[/] --public-key {public_key} does not exist", highlight=False)
        raise typer.Exit(1)
    with database_url(db_url) as url, connect(url) as conn:
        report = verify_log(conn, public_key=pub)
    if as_json:
        typer.echo(json.dumps({**to_plain(report), "ok": report.ok}, indent=2))
    else:
        signed = "signatures checked" if report.signatures_checked else "signatures NOT checked (no public key)"
        console.print(
            f"{report.entries} entries, last {report.last_seq}, {report.checkpoints} checkpoint(s), {signed}",
            highlight=False,
        )
        for p in report.problems:
            console.print(f"[red]entry {p.seq}: {p.code}[/]: {p.message}", highlight=False)
        console.print("[green]audit log intact[/]" if report.ok else "[red]audit log has problems[/]")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def checkpoint(db_url: DbUrl = None, key: KeyFile = None) -> None:
    """Sign the last entry's hash (creates the key pair on first use; keep the .pub file outside the database)."""
    from credit.audit import generate_signing_key, public_key_of
    from store.audit import write_checkpoint
    from store.db import connect

    path = _key_path(key)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generate_signing_key())
        path.chmod(0o600)
        path.with_suffix(".pub").write_bytes(public_key_of(path.read_bytes()))
        console.print(f"created checkpoint key {path} (public key {path.with_suffix('.pub')})")
    with database_url(db_url) as url, connect(url) as conn:
        cp = write_checkpoint(conn, private_key=path.read_bytes())
        conn.commit()
    console.print(f"checkpoint at entry {cp.seq} ({cp.entry_hash[:12]})" if cp else "nothing new to checkpoint")
