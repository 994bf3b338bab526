"""Witnesses through real HTTP servers, databases and the CLI: cosign, post back, and catch a split view.

The log's insider holds the server's key and shows one history to witness A and a forked one (entry 3
rewritten) to witness B. When B is later shown A's history, it refuses and keeps both signed checkpoints
as evidence: two checkpoints signed by the same key that no consistency proof can join.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
import uvicorn

from api.app import create_app
from credit.canonical import to_plain
from credit.signed_note import note_key, parse_vkey, verify_cosignature
from credit.tree_head import verify_checkpoint_note
from farmtrust.audit_checkpoints import checkpoint_issuer
from farmtrust.services import free_port
from farmtrust.settings import Settings
from store.audit import append_entry
from tests.api.factories import org_with_key
from tests.conftest import _clone, _db_url, _drop
from tests.signers import OTHER_SIGNER, TEST_SIGNER
from usecases.checkpoint_files import issue_checkpoint

CLI = [sys.executable, "-m", "farmtrust.cli"]
WHEN = datetime(2025, 4, 1, tzinfo=UTC)
ORIGIN = "farmtrust.test/audit"


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _append(url: str, payloads: list[dict]) -> None:
    with psycopg.connect(url) as conn:
        for payload in payloads:
            append_entry(conn, signer=TEST_SIGNER, kind="test.witness", payload=payload, created_at=WHEN)
        conn.commit()


def _issue(url: str, settings: Settings) -> None:
    with psycopg.connect(url) as conn:
        assert issue_checkpoint(conn, checkpoint_issuer(settings), force=True) is not None


def witness(url: str, state, *args: str):
    return subprocess.run(
        [*CLI, "audit", "witness", "--log", url, "--state", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )


@pytest.fixture
def two_logs(fresh_db_url, admin_url, template_db, mqtt_url, tmp_path):
    """The honest log and an insider's fork of it, signed with the same server key; a lender key on each."""
    fork_name = _clone(admin_url, template_db, "ft_fork")
    fork_url = _db_url(admin_url, fork_name)
    key_file = tmp_path / "server" / "checkpoint.key"
    key_file.parent.mkdir()
    key_file.write_bytes(TEST_SIGNER.seed)  # the server's key signs what the tests append
    made = {}
    for label, url in (("honest", fresh_db_url), ("fork", fork_url)):
        with psycopg.connect(url) as conn:
            made[f"{label}_key"] = org_with_key(conn, "lender", f"Witness lender {label}")[1]
            conn.commit()
        made[f"{label}_settings"] = Settings(
            db={"url": url},
            mqtt={"url": mqtt_url},
            data_dir=tmp_path / label,
            audit={"origin": ORIGIN, "key_file": key_file},
        )
    _append(fresh_db_url, [{"i": i} for i in range(5)])
    _append(fork_url, [{"i": 999} if i == 2 else {"i": i} for i in range(5)])
    _issue(fresh_db_url, made["honest_settings"])
    _issue(fork_url, made["fork_settings"])
    yield {**made, "honest_db": fresh_db_url, "fork_db": fork_url, "pub": key_file.with_suffix(".pub")}
    _drop(admin_url, fork_name)


def test_a_split_view_shown_to_two_witnesses_is_refused_and_kept_as_evidence(two_logs, tmp_path):
    state_a, state_b = tmp_path / "witness-a", tmp_path / "witness-b"
    with serving(two_logs["honest_settings"]) as honest, serving(two_logs["fork_settings"]) as fork:
        first_a = witness(honest, state_a, "--log-key", str(two_logs["pub"]), "--api-key", two_logs["honest_key"])
        assert first_a.returncode == 0, first_a.stdout + first_a.stderr
        assert "at size 5 (first checkpoint held); posted back" in first_a.stdout
        first_b = witness(fork, state_b, "--log-key", str(two_logs["pub"]), "--api-key", two_logs["fork_key"])
        assert first_b.returncode == 0, first_b.stdout + first_b.stderr

        # the server keeps A's cosignature and serves it with the checkpoint
        served = httpx.get(f"{honest}/v1/audit/checkpoint").text
        vkey_a = parse_vkey((state_a / "witness.vkey").read_text().strip())
        assert verify_cosignature(served, vkey_a) > 0

        _append(two_logs["honest_db"], [{"i": 5}, {"i": 6}])
        _issue(two_logs["honest_db"], two_logs["honest_settings"])
        again_a = witness(honest, state_a, "--api-key", two_logs["honest_key"])
        assert again_a.returncode == 0, again_a.stdout + again_a.stderr
        assert "at size 7 (consistent with the held size 5)" in again_a.stdout

        # B, which holds the fork at 5, is shown the honest log: refused, evidence kept, its view unchanged
        held_b = (state_b / "checkpoint").read_text()
        shown_b = witness(honest, state_b, "--api-key", two_logs["fork_key"])
    assert shown_b.returncode == 2, shown_b.stdout + shown_b.stderr
    assert "REFUSED" in shown_b.stderr and "not an extension of the held one at size 5" in shown_b.stderr
    assert (state_b / "checkpoint").read_text() == held_b
    [evidence] = list((state_b / "evidence").iterdir())
    kept = json.loads(evidence.read_text())
    log_key = [note_key(ORIGIN, two_logs["pub"].read_bytes())]
    held = verify_checkpoint_note(kept["held_checkpoint"], log_key)
    offered = verify_checkpoint_note(kept["offered_checkpoint"], log_key)
    assert (held.size, offered.size) == (5, 7)
    # both signed by the log; the honest log's first 5 entries have another root than the fork B held
    honest_at_5 = verify_checkpoint_note((state_a / "checkpoint").read_text(), log_key)
    assert honest_at_5.size == 7 and held.root != offered.root


def test_a_witness_refuses_a_checkpoint_not_signed_by_the_log(two_logs, tmp_path):
    other = tmp_path / "other.pub"
    other.write_bytes(bytes(32 * [7]))
    with serving(two_logs["honest_settings"]) as honest:
        done = witness(honest, tmp_path / "w", "--log-key", str(other))
    assert done.returncode == 1
    assert "no verifiable signature" in done.stderr
    assert not (tmp_path / "w" / "checkpoint").exists()


@pytest.mark.parametrize("how", ["no-signature", "another-key"])
def test_a_witness_refuses_entries_not_signed_by_the_log(two_logs, tmp_path, how):
    state = tmp_path / f"witness-{how}"
    with serving(two_logs["honest_settings"]) as honest:
        first = witness(honest, state, "--log-key", str(two_logs["pub"]))
        assert first.returncode == 0, first.stdout + first.stderr
        with psycopg.connect(two_logs["honest_db"]) as conn:
            if how == "no-signature":
                conn.execute("SELECT ft_audit_append('test.witness', %s, %s, '{}')", (WHEN, to_plain(WHEN)))
            else:
                append_entry(conn, signer=OTHER_SIGNER, kind="test.witness", payload={"i": 5}, created_at=WHEN)
            append_entry(conn, signer=TEST_SIGNER, kind="test.witness", payload={"i": 6}, created_at=WHEN)
            conn.commit()
        _issue(two_logs["honest_db"], two_logs["honest_settings"])
        held = (state / "checkpoint").read_text()
        shown = witness(honest, state)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    code = "unsigned" if how == "no-signature" else "bad_entry_signature"
    assert "not cosigned: 1 entries between sizes 5 and 7" in " ".join(shown.stderr.split())
    assert f"the first 6 ({code})" in " ".join(shown.stderr.split())
    assert (state / "checkpoint").read_text() == held  # not held, not cosigned
