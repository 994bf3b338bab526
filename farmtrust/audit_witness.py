"""A witness of the audit log, run by a lender or a cooperative: ``farmtrust audit witness``.

It fetches the log's checkpoint over HTTP, verifies the log's signature and, against the checkpoint it holds,
the consistency proof the log serves; it checks that every entry the new checkpoint adds is signed by the
log's key (``GET /v1/audit/signatures``: hashes and signatures, rebuilt into the new root from the held tree's
subtrees), so an append made without the server's key is refused; then it cosigns (C2SP tlog-cosignature/v1),
posts the cosignature back and holds the new checkpoint. A checkpoint that does not extend the held one
(smaller, a different root at the same size, or a consistency proof that fails) is refused and kept as
evidence: a log that shows different histories to different witnesses (a split view) is caught by the witness
holding the other one.

The state folder holds ``checkpoint`` (the last one verified), ``log.vkey`` (the log's key, given once
with ``--log-key``), ``witness.key``/``witness.vkey`` (created on first use unless ``--key`` is given)
and ``evidence/`` (refused checkpoints with the held one and the proof).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from credit.entry_signing import SignedHash, entry_signature_problems
from credit.errors import AuditError
from credit.merkle import root_after_appending, verify_consistency
from credit.signed_note import COSIGNATURE_V1, cosign, format_note, generate_skey, parse_note, public_vkey
from credit.transparency import entry_leaf_hash
from credit.tree_head import TreeHead, verify_checkpoint_note
from usecases.checkpoint_files import load_public_keys

__all__ = ["SplitView", "Witnessed", "witness_once"]


class SplitView(AuditError):
    """The log offered a checkpoint that does not extend the one held; ``evidence`` is where it was kept."""

    def __init__(self, message: str, evidence: Path) -> None:
        """Keep the reason and the evidence file."""
        super().__init__(message)
        self.evidence = evidence


@dataclass(frozen=True)
class Witnessed:
    """One round: the checkpoint cosigned, the one held before (None on the first round), whether it was posted."""

    head: TreeHead
    previous: TreeHead | None
    posted: bool


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _witness_skey(state: Path, key: Path | None, name: str) -> str:
    path = key or state / "witness.key"
    if not path.is_file():
        if key is not None:
            raise AuditError(f"witness key {key} does not exist")
        _write(path, generate_skey(name, COSIGNATURE_V1) + "\n")
        path.chmod(0o600)
        _write(state / "witness.vkey", public_vkey(path.read_text().strip()) + "\n")
    return path.read_text().strip()


def _log_keys(state: Path, log_key: Path | None, origin_hint: str) -> list:
    kept = state / "log.vkey"
    if log_key is not None:
        keys = load_public_keys(log_key, origin=origin_hint)
        _write(kept, "".join(k.vkey + "\n" for k in keys))
        return keys
    if not kept.is_file():
        raise AuditError("the log's public key is not known yet: give it once with --log-key")
    return load_public_keys(kept, origin=origin_hint)


def _get(http: httpx.Client, url: str) -> httpx.Response:
    try:
        response = http.get(url)
    except httpx.HTTPError as exc:
        raise AuditError(f"GET {url}: {exc}") from None
    if response.status_code != 200:
        raise AuditError(f"GET {url}: HTTP {response.status_code} {response.text[:200]}")
    return response


def _consistency(http: httpx.Client, base: str, old: int, new: int) -> list[bytes]:
    body = _get(http, f"{base}/v1/audit/consistency?from={old}&to={new}").json()
    try:
        return [base64.b64decode(p, validate=True) for p in body["proof"]]
    except (KeyError, TypeError, binascii.Error):
        raise AuditError("the log's consistency proof is malformed") from None


SIGNATURES_PAGE = 10_000
"""Entries fetched per ``GET /v1/audit/signatures`` (the server's limit)."""


def _check_entries(http: httpx.Client, base: str, old: TreeHead | None, head: TreeHead, keys: list) -> None:
    """Check the entries the new checkpoint adds: each signed by the log's key, and together the tree's leaves.

    Raises:
        AuditError: an entry is unsigned or signed by another key (an append the server's key did not
            make), or the entries served do not rebuild the checkpoint's root.
    """
    start = 0 if old is None else old.size
    frontier: list[bytes] = []
    entries: list[SignedHash] = []
    for page in range(start, head.size, SIGNATURES_PAGE):
        body = _get(http, f"{base}/v1/audit/signatures?from={page}&to={min(page + SIGNATURES_PAGE, head.size)}").json()
        try:
            if page == start:
                frontier = [base64.b64decode(h, validate=True) for h in body["frontier"]]
            entries += [
                SignedHash(
                    int(e["seq"]),
                    str(e["kind"]),
                    str(e["entry_hash"]),
                    None if e["signature"] is None else bytes.fromhex(e["signature"]),
                )
                for e in body["entries"]
            ]
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise AuditError("the log's entry signatures are malformed") from None
    if [e.seq for e in entries] != list(range(start + 1, head.size + 1)):
        raise AuditError(f"the log served the wrong entries for sizes {start} to {head.size}")
    leaves = [entry_leaf_hash(e.entry_hash) for e in entries]
    if root_after_appending(start, frontier, leaves) != head.root:
        raise AuditError(f"the entries the log serves do not rebuild its checkpoint's root at size {head.size}")
    problems = entry_signature_problems(entries, [k.public_key for k in keys])
    if problems:
        first = problems[0]
        raise AuditError(
            f"not cosigned: {len(problems)} entries between sizes {start} and {head.size} are not signed by the"
            f" log's key, the first {first.seq} ({first.code}): {first.message}"
        )


def _refuse(state: Path, reason: str, held: str, offered: str, proof: list[bytes], log_url: str) -> SplitView:
    now = datetime.now(UTC)
    evidence = state / "evidence" / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    record = {
        "reason": reason,
        "log": log_url,
        "seen_at": now.isoformat(),
        "held_checkpoint": held,
        "offered_checkpoint": offered,
        "consistency_proof": [base64.b64encode(p).decode() for p in proof],
    }
    _write(evidence, json.dumps(record, indent=2) + "\n")
    return SplitView(reason, evidence)


def witness_once(
    log_url: str,
    state: Path,
    *,
    key: Path | None = None,
    log_key: Path | None = None,
    name: str = "farmtrust-witness",
    api_key: str | None = None,
    http: httpx.Client | None = None,
) -> Witnessed:
    """Fetch, verify, cosign and post the log's checkpoint once.

    Raises:
        SplitView: the offered checkpoint does not extend the held one (kept as evidence, not held).
        AuditError: the log cannot be reached, its checkpoint is not signed by its key, or a key is missing.
    """
    base = log_url.rstrip("/")
    state.mkdir(parents=True, exist_ok=True)
    skey = _witness_skey(state, key, name)
    client = http or httpx.Client(timeout=30)
    try:
        offered = _get(client, f"{base}/v1/audit/checkpoint").text
        origin_hint = offered.split("\n", 1)[0]
        keys = _log_keys(state, log_key, origin_hint)
        head = verify_checkpoint_note(offered, keys)
        held_path = state / "checkpoint"
        previous = verify_checkpoint_note(held_path.read_text(), keys) if held_path.is_file() else None
        if previous is not None:
            held = held_path.read_text()
            if head.origin != previous.origin:
                raise AuditError(f"the log now calls itself {head.origin!r}, not {previous.origin!r}")
            if head.size < previous.size:
                raise _refuse(state, f"the log shrank from {previous.size} to {head.size}", held, offered, [], base)
            proof = _consistency(client, base, previous.size, head.size) if head.size > previous.size else []
            if not verify_consistency(previous.size, head.size, previous.root, head.root, proof):
                raise _refuse(
                    state,
                    f"the checkpoint at size {head.size} is not an extension of the held one at size {previous.size}",
                    held,
                    offered,
                    proof,
                    base,
                )
        _check_entries(client, base, previous, head, keys)
        text = parse_note(offered).text
        line = cosign(text, skey, timestamp=int(datetime.now(UTC).timestamp()))
        _write(held_path, offered)
        posted = False
        if api_key:
            body = {"checkpoint": format_note(text, [line]), "witness_key": public_vkey(skey)}
            try:
                response = client.post(
                    f"{base}/v1/audit/cosignatures", json=body, headers={"Authorization": f"Bearer {api_key}"}
                )
            except httpx.HTTPError as exc:
                raise AuditError(f"POST {base}/v1/audit/cosignatures: {exc}") from None
            if response.status_code != 201:
                raise AuditError(f"the log refused the cosignature: HTTP {response.status_code} {response.text[:300]}")
            posted = True
        return Witnessed(head, previous, posted)
    finally:
        if http is None:
            client.close()
