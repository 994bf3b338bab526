"""Receipts on the API's answers: credit decisions, loan openings and repayments, checked as a lender would.

The expected leaf hashes, roots and inclusion proofs come from RFC 9162 section 2.1 written out here (MTH
and PATH, recursively over the leaves read from ``audit_log``), not from :mod:`credit.merkle`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from credit.signed_note import note_key
from credit.tree_head import verify_checkpoint_note
from farmtrust.audit_checkpoints import checkpoint_issuer
from tests.api.conftest import auth, sign_in
from usecases.checkpoint_files import issue_checkpoint

CLI = [sys.executable, "-m", "farmtrust.cli"]


def mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def leaves_of(url: str) -> list[bytes]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT entry_hash FROM audit_log ORDER BY seq").fetchall()
    return [hashlib.sha256(b"\x00" + bytes.fromhex(r[0])).digest() for r in rows]


def settings_of(world):
    return world["client"].app.state.settings


def check_receipt(world, receipt: dict, *, seq: int, kind: str) -> int:
    """Assert ``receipt`` proves entry ``seq`` of ``kind`` against a checkpoint signed by the server; its size."""
    settings = settings_of(world)
    assert receipt["entry"]["seq"] == seq and receipt["entry"]["kind"] == kind
    assert receipt["index"] == seq - 1
    leaves = leaves_of(world["db"])
    assert bytes.fromhex(receipt["leaf_hash"]) == leaves[seq - 1]
    public = settings.audit_key_file.with_suffix(".pub").read_bytes()
    head = verify_checkpoint_note(receipt["checkpoint"], [note_key(settings.audit.origin, public)])
    assert seq <= head.size <= len(leaves)
    assert head.root == mth(leaves[: head.size])
    assert [bytes.fromhex(p) for p in receipt["inclusion_proof"]] == path(seq - 1, leaves[: head.size])
    return head.size


@pytest.fixture
def decided(world):
    c = world["client"]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    c.post(
        f"/v1/farms/{world['farm_a']}/consents",
        json={"lender_id": str(world["lender"]), "expires_at": expires},
        headers=auth(world["key_a"]),
    )
    r = c.post(
        f"/v1/farms/{world['farm_a']}/credit-limit", headers={**auth(world["key_l"]), "Idempotency-Key": "limit-rcpt-1"}
    )
    assert r.status_code == 201, r.text
    return {**world, "decision": r.json()}


def test_a_credit_decision_carries_a_receipt_and_its_checkpoint_is_published(decided):
    d = decided["decision"]
    size = check_receipt(decided, d["receipt"], seq=d["audit_entry_seq"], kind="credit.decision")
    assert d["receipt"]["entry"]["entry_hash"] == d["audit_receipt"]
    assert json.loads(d["receipt"]["entry"]["payload"])["record_hash"] == d["record_hash"]
    # none covered the decision: one was signed for it, is the latest, and is served and on disk
    served = decided["client"].get("/v1/audit/checkpoint")
    assert served.text == d["receipt"]["checkpoint"]
    on_disk = settings_of(decided).audit_checkpoint_dir / f"checkpoint.{size}"
    assert on_disk.read_text() == d["receipt"]["checkpoint"]
    assert on_disk.stat().st_mode & 0o777 == 0o644  # readable by whoever publishes the folder


def test_the_schedule_counts_from_a_receipts_checkpoint(decided):
    """A receipt's checkpoint is the schedule's latest: with 1,000 entries or 300 s to go, none is due."""
    with psycopg.connect(decided["db"]) as conn:
        assert issue_checkpoint(conn, checkpoint_issuer(settings_of(decided))) is None


def test_a_retry_returns_the_same_decision_and_a_receipt_of_the_same_entry(decided):
    again = decided["client"].post(
        f"/v1/farms/{decided['farm_a']}/credit-limit",
        headers={**auth(decided["key_l"]), "Idempotency-Key": "limit-rcpt-1"},
    )
    assert again.json() == decided["decision"]


def test_loan_opening_and_repayment_carry_receipts(decided):
    c = decided["client"]
    body = {
        "decision_id": decided["decision"]["decision_id"],
        "principal": "1000",
        "rate": "0.18",
        "months": 6,
        "kind": "annuity",
        "start": date.today().isoformat(),
    }
    opened = c.post("/v1/loans", json=body, headers=auth(decided["key_l"]))
    assert opened.status_code == 201, opened.text
    seq = decided["decision"]["audit_entry_seq"] + 1
    check_receipt(decided, opened.json()["receipt"], seq=seq, kind="loan.opened")
    assert c.get(f"/v1/loans/{opened.json()['loan_id']}", headers=auth(decided["key_l"])).json()["receipt"] is None
    paid = c.post(
        f"/v1/loans/{opened.json()['loan_id']}/repayments",
        json={"amount": "100", "paid_at": datetime.now(UTC).isoformat()},
        headers={**auth(decided["key_l"]), "Idempotency-Key": "pay-rcpt-0001"},
    )
    assert paid.status_code == 201, paid.text
    check_receipt(decided, paid.json()["receipt"], seq=seq + 1, kind="loan.repayment")


def _verify_receipt(file, public_key):
    return subprocess.run(
        [*CLI, "audit", "verify-receipt", str(file), "--public-key", str(public_key)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FARMTRUST_DATA_DIR": str(file.parent / "elsewhere")},
    )


def test_verify_receipt_checks_a_saved_api_response_offline(decided, tmp_path):
    public = settings_of(decided).audit_key_file.with_suffix(".pub")
    saved = tmp_path / "decision.json"
    saved.write_text(json.dumps(decided["decision"]))
    done = _verify_receipt(saved, public)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"entry {decided['decision']['audit_entry_seq']} (credit.decision)" in done.stdout
    # the receipt alone verifies too; a raised limit in the kept entry does not
    alone = tmp_path / "receipt.json"
    alone.write_text(json.dumps(decided["decision"]["receipt"]))
    assert _verify_receipt(alone, public).returncode == 0
    forged = json.loads(alone.read_text())
    payload = json.loads(forged["entry"]["payload"])
    payload["limit"] = {**payload["limit"], "amount": "99999999"} if isinstance(payload["limit"], dict) else "99999999"
    forged["entry"]["payload"] = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    alone.write_text(json.dumps(forged))
    done = _verify_receipt(alone, public)
    assert done.returncode == 1
    assert "does not verify" in done.stderr and "altered" in done.stderr


def test_the_lender_page_shows_the_decision_is_in_the_log(decided):
    c = decided["client"]
    sign_in(c, decided["key_l"])
    page = c.get("/ui").text
    index = decided["decision"]["audit_entry_seq"] - 1
    assert f"In the transparency log: leaf index {index}, proven against" in page


def test_a_checkpoint_folder_ahead_of_the_log_is_a_500_and_no_fork_is_signed(decided):
    """Regression: a published checkpoint larger than the log (truncated, or another database's) was a 422."""
    from credit.tree_head import TreeHead, sign_checkpoint_note

    issuer = checkpoint_issuer(settings_of(decided))
    ahead = sign_checkpoint_note(TreeHead(issuer.origin, 999, bytes(32)), issuer.skey())
    (issuer.directory / "checkpoint").write_text(ahead)
    before = sorted(p.name for p in issuer.directory.iterdir())
    r = decided["client"].post(
        f"/v1/farms/{decided['farm_a']}/credit-limit",
        headers={**auth(decided["key_l"]), "Idempotency-Key": "limit-rcpt-ahead"},
    )
    assert r.status_code == 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "checkpoint at size 999 is ahead of the log" in r.json()["detail"]
    assert sorted(p.name for p in issuer.directory.iterdir()) == before
    assert (issuer.directory / "checkpoint").read_text() == ahead
