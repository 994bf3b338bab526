"""``farmtrust audit``: verify the audit log, sign checkpoints, and issue and check receipts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from farmtrust.commands._common import DbUrl, database_url, load_settings
from farmtrust.console import console, err_console
from farmtrust.settings import Settings

if TYPE_CHECKING:
    from credit.audit import AuditReport
    from credit.tree_head import TreeHead

app = typer.Typer(
    help="Audit log: verify the chain, its Merkle tree and signed checkpoints; issue and check receipts.",
    no_args_is_help=True,
)

KeyFile = Annotated[
    Path | None,
    typer.Option("--key", help="raw Ed25519 checkpoint private key; default: <data_dir>/audit/checkpoint.key"),
]


def _key_path(key: Path | None) -> Path:
    return key or load_settings().audit_key_file


def _settings(key: Path | None = None) -> Settings:
    settings = load_settings()
    if key is not None:
        settings = settings.model_copy(update={"audit": settings.audit.model_copy(update={"key_file": key})})
    return settings


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        _fail(f"{what} {path} does not exist")
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{what} {path} cannot be read: {exc}")


@app.command()
def verify(
    db_url: DbUrl = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="raw 32-byte public key file; default: <data_dir>/audit/checkpoint.pub"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            help="a signed checkpoint kept outside the database: prove the log today extends it (detects "
            "truncation, rewrites and deleted checkpoints); --public-key is then a raw key or vkey file",
        ),
    ] = None,
) -> None:
    """Check every entry's hash and link, and every checkpoint's signature; exit 1 on any problem."""
    from credit.canonical import to_plain
    from store.audit import verify_log
    from store.db import connect

    settings = load_settings()
    pub_path = public_key or settings.audit_key_file.with_suffix(".pub")
    pub = pub_path.read_bytes() if pub_path.is_file() else None
    if public_key is not None and pub is None:
        _fail(f"--public-key {public_key} does not exist")
    if since is not None:
        report = _verify_since(db_url, settings, since, pub_path)
    else:
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
def checkpoint(
    db_url: DbUrl = None,
    key: KeyFile = None,
    if_due: Annotated[
        bool,
        typer.Option(
            "--if-due",
            help="sign a tree checkpoint only when due (settings audit.checkpoint_every_entries / _every_s)",
        ),
    ] = False,
    watch: Annotated[
        float | None,
        typer.Option("--watch", min=0.1, help="keep running: look every this many seconds, issue when due"),
    ] = None,
) -> None:
    """Sign the log: the last entry's chain hash (in the database) and a C2SP tree checkpoint (to the folder).

    The key pair is created on first use; keep the .pub / .vkey file outside the database. The tree
    checkpoint goes to settings' audit checkpoint folder, to be published.
    """
    from farmtrust.audit_checkpoints import ensure_server_key, issue_checkpoint, watch_checkpoints
    from farmtrust.signals import shutdown_event
    from store.audit import write_checkpoint
    from store.db import connect

    settings = _settings(key)
    path = settings.audit_key_file
    if not path.is_file():
        ensure_server_key(path, origin=settings.audit.origin)
        console.print(f"created checkpoint key {path} (public key {path.with_suffix('.pub')})")

    def issued_line(head: TreeHead, written: Path) -> None:
        console.print(f"tree checkpoint at size {head.size} written to {written}", highlight=False)

    with database_url(db_url) as url:
        if watch is not None:
            settings = settings.model_copy(update={"db": settings.db.model_copy(update={"url": url})})
            watch_checkpoints(settings, interval_s=watch, stop=shutdown_event(), on_issued=issued_line)
            return
        with connect(url) as conn:
            issued = issue_checkpoint(conn, settings, force=not if_due)
            cp = write_checkpoint(conn, private_key=path.read_bytes())
            conn.commit()
    if issued:
        issued_line(*issued)
    console.print(f"checkpoint at entry {cp.seq} ({cp.entry_hash[:12]})" if cp else "nothing new to checkpoint")


def _verify_since(db_url: str | None, settings: Settings, since: Path, pub_path: Path) -> AuditReport:
    from credit.errors import AuditError
    from farmtrust.audit_checkpoints import load_public_keys
    from store.db import connect
    from usecases.audit import verify_extends

    note = _read_text(since, "--since checkpoint")
    try:
        keys = load_public_keys(pub_path, origin=note.split("\n", 1)[0])
    except AuditError as exc:
        _fail(f"--public-key: {exc}")
    with database_url(db_url) as url, connect(url) as conn:
        try:
            return verify_extends(conn, checkpoint=note, keys=keys)
        except AuditError as exc:
            _fail(f"--since {since}: {exc}")


@app.command()
def receipt(
    seq: Annotated[int, typer.Argument(help="the audit entry's sequence number")],
    db_url: DbUrl = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the receipt here; default: stdout")] = None,
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="the signed checkpoint to prove against; default: the latest issued"),
    ] = None,
) -> None:
    """Write entry SEQ's receipt: the entry, its leaf hash, its inclusion proof and the signed checkpoint."""
    from credit.audit import public_key_of
    from credit.signed_note import note_key
    from farmtrust.audit_checkpoints import ensure_server_key, issue_checkpoint, latest_checkpoint
    from store.db import connect
    from usecases.audit import make_receipt

    settings = load_settings()
    seed = ensure_server_key(settings.audit_key_file, origin=settings.audit.origin)
    keys = [note_key(settings.audit.origin, public_key_of(seed))]
    with database_url(db_url) as url, connect(url) as conn:
        if checkpoint_file is not None:
            note = _read_text(checkpoint_file, "--checkpoint")
        else:
            latest = latest_checkpoint(settings.audit_checkpoint_dir)
            if latest is None or latest[0].size < seq:
                issue_checkpoint(conn, settings, force=True)
                latest = latest_checkpoint(settings.audit_checkpoint_dir)
            if latest is None:
                _fail("the audit log is empty: there is nothing to give a receipt for")
            note = latest[1]
        made = make_receipt(conn, seq=seq, checkpoint=note, keys=keys)
    if out is None:
        typer.echo(made.to_json())
    else:
        out.write_text(made.to_json() + "\n")
        console.print(f"receipt of entry {seq} written to {out}", highlight=False)


def _receipt_text(text: str) -> str:
    """The receipt in ``text``: the file itself, or the ``receipt`` member of a saved API response."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(data, dict) and isinstance(data.get("receipt"), dict):
        return json.dumps(data["receipt"])
    return text


@app.command("verify-receipt")
def verify_receipt_command(
    receipt_file: Annotated[
        Path, typer.Argument(help="a receipt JSON file (farmtrust audit receipt), or a saved API response carrying one")
    ],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="the log's public key: raw 32 bytes (.pub) or a vkey file")
    ],
    origin: Annotated[str | None, typer.Option("--origin", help="the log's expected origin line")] = None,
) -> None:
    """Verify a receipt offline, with no database: entry hash, leaf, inclusion proof and checkpoint signature."""
    from credit.errors import AuditError
    from credit.transparency import Receipt, verify_receipt
    from farmtrust.audit_checkpoints import load_public_keys

    text = _receipt_text(_read_text(receipt_file, "receipt"))
    try:
        made = Receipt.from_json(text)
        keys = load_public_keys(public_key, origin=origin or made.checkpoint.split("\n", 1)[0])
        head = verify_receipt(made, keys, origin=origin)
    except AuditError as exc:
        _fail(f"receipt {receipt_file} does not verify: {exc}")
    console.print(
        f"[green]receipt verified[/]: entry {made.entry.seq} ({made.entry.kind}) is leaf {made.index} of "
        f"{head.origin} at tree size {head.size}",
        highlight=False,
    )


@app.command()
def witness(
    log: Annotated[str, typer.Option("--log", help="the log's API base URL, e.g. https://farmtrust.example")],
    state: Annotated[Path, typer.Option("--state", help="the witness's folder: held checkpoint, keys, evidence")],
    key: Annotated[
        Path | None, typer.Option("--key", help="the witness's skey file (type 0x04); default: <state>/witness.key")
    ] = None,
    log_key: Annotated[
        Path | None,
        typer.Option("--log-key", help="the log's public key (.pub or .vkey); needed once, then kept in the state"),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="the witness key's name, when it is created")
    ] = "farmtrust-witness",
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="FARMTRUST_API_KEY", help="API key to post the cosignature back with"),
    ] = None,
) -> None:
    """Witness the log: verify its checkpoint and consistency with the one held, cosign it and post it back.

    A checkpoint that does not extend the held one is refused and kept under <state>/evidence (exit 2).
    """
    from credit.errors import AuditError
    from farmtrust.audit_witness import SplitView, witness_once

    try:
        done = witness_once(log, state, key=key, log_key=log_key, name=name, api_key=api_key)
    except SplitView as exc:
        err_console.print(f"[red]REFUSED[/]: {exc}; evidence kept in {exc.evidence}", highlight=False)
        raise typer.Exit(2) from None
    except AuditError as exc:
        _fail(str(exc))
    since = "first checkpoint held" if done.previous is None else f"consistent with the held size {done.previous.size}"
    posted = "posted back" if done.posted else "not posted (no --api-key)"
    console.print(
        f"[green]cosigned[/] {done.head.origin} at size {done.head.size} ({since}); {posted}", highlight=False
    )
