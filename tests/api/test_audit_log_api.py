"""The transparency log over HTTP: the signed checkpoint and consistency proofs, through the real app and database.

Expected roots and proofs come from a reference written here from RFC 9162 section 2.1 (MTH and SUBPROOF,
recursively over the leaf list), not from :mod:`credit.merkle`.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from api.app import create_app
from credit.signed_note import note_key
from credit.tree_head import verify_checkpoint_note
from farmtrust.audit_checkpoints import checkpoint_issuer
from farmtrust.settings import Settings
from store.audit import append_entry
from tests.signers import TEST_SIGNER
from usecases.checkpoint_files import issue_checkpoint

WHEN = datetime(2025, 4, 1, tzinfo=UTC)
ORIGIN = "farmtrust.test/audit"


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes (already hashed with 0x00)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def leaf_hashes(url: str) -> list[bytes]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT entry_hash FROM audit_log ORDER BY seq").fetchall()
    return [hashlib.sha256(b"\x00" + bytes.fromhex(r[0])).digest() for r in rows]


@pytest.fixture
def log(fresh_db_url, mqtt_url, tmp_path):
    settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path, audit={"origin": ORIGIN})
    settings.audit_key_file.parent.mkdir(parents=True)
    settings.audit_key_file.write_bytes(TEST_SIGNER.seed)  # the server's key signs what the tests append
    with TestClient(create_app(settings)) as client:
        yield {"client": client, "db": fresh_db_url, "settings": settings}


def _append(url: str, n: int) -> None:
    with psycopg.connect(url) as conn:
        for i in range(n):
            append_entry(conn, signer=TEST_SIGNER, kind="test.api", payload={"i": i}, created_at=WHEN)
        conn.commit()


def _issue(log) -> None:
    with psycopg.connect(log["db"]) as conn:
        issue_checkpoint(conn, checkpoint_issuer(log["settings"]), force=True)


def test_checkpoint_is_404_before_any_is_issued(log):
    response = log["client"].get("/v1/audit/checkpoint")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "No audit checkpoint" in response.json()["detail"]


def test_checkpoint_is_the_signed_note_of_the_log_now(log):
    _append(log["db"], 7)
    _issue(log)
    response = log["client"].get("/v1/audit/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    public = log["settings"].audit_key_file.with_suffix(".pub").read_bytes()
    head = verify_checkpoint_note(response.text, [note_key(ORIGIN, public)], origin=ORIGIN)
    assert head.size == 7
    assert head.root == mth(leaf_hashes(log["db"]))
    assert response.text.splitlines()[:2] == [ORIGIN, "7"]


def test_consistency_proof_is_rfc_9162s(log):
    _append(log["db"], 7)
    leaves = leaf_hashes(log["db"])
    response = log["client"].get("/v1/audit/consistency", params={"from": 3, "to": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (3, 7)
    # SUBPROOF(3, D[0:7], true) = SUBPROOF(1, D[2:4], false) : MTH(D[0:2]) : MTH(D[4:7]) = [L2, L3, H01, H456]
    expected = [leaves[2], leaves[3], mth(leaves[0:2]), mth(leaves[4:7])]
    assert [base64.b64decode(p) for p in body["proof"]] == expected


@pytest.mark.parametrize(("old", "new"), [(0, 5), (5, 5)])
def test_consistency_proof_is_empty_from_nothing_or_to_itself(log, old, new):
    _append(log["db"], 5)
    response = log["client"].get("/v1/audit/consistency", params={"from": old, "to": new})
    assert response.status_code == 200
    assert response.json()["proof"] == []


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"from": 1, "to": 9}, "query/to", "above the log's size (4 entries)"),
        ({"from": 3, "to": 2}, "query/from", "above to=2"),
        ({"from": -1, "to": 2}, "query/from", "greater than or equal to 0"),
        ({"from": "x", "to": 2}, "query/from", "integer"),
        ({"to": 2}, "query/from", "required"),
    ],
)
@pytest.mark.parametrize("route", ["/v1/audit/consistency", "/v1/audit/signatures"])
def test_bad_sizes_are_422_naming_the_field(log, params, field, words, route):
    _append(log["db"], 4)
    response = log["client"].get(route, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["path"] for e in errors] == [field]
    assert words in errors[0]["message"]


def test_both_are_in_the_openapi_document(log):
    paths = log["client"].get("/openapi.json").json()["paths"]
    assert "get" in paths["/v1/audit/checkpoint"]
    params = {p["name"] for p in paths["/v1/audit/consistency"]["get"]["parameters"]}
    assert params == {"from", "to"}


def _lender_key(url: str) -> str:
    from tests.api.factories import org_with_key

    with psycopg.connect(url) as conn:
        key = org_with_key(conn, "lender", "Witnessing lender")[1]
        conn.commit()
    return key


def test_a_cosignature_is_kept_and_served_with_its_checkpoint(log):
    from credit.signed_note import COSIGNATURE_V1, cosign, format_note, generate_skey, parse_note, public_vkey

    _append(log["db"], 3)
    _issue(log)
    key = _lender_key(log["db"])
    note = log["client"].get("/v1/audit/checkpoint").text
    text = parse_note(note).text
    skey = generate_skey("coop.example/witness", COSIGNATURE_V1)
    line = cosign(text, skey, timestamp=1_700_000_000)
    body = {"checkpoint": format_note(text, [line]), "witness_key": public_vkey(skey)}
    posted = log["client"].post("/v1/audit/cosignatures", json=body, headers={"Authorization": f"Bearer {key}"})
    assert posted.status_code == 201, posted.text
    assert posted.json() == {"tree_size": 3}
    assert log["client"].get("/v1/audit/checkpoint").text == note + line.line()


@pytest.mark.parametrize("case", ["not_signed_by_the_log", "log_key_not_a_witness_key", "bad_cosignature"])
def test_a_cosignature_the_server_cannot_check_is_422_naming_the_field(log, case):
    from credit.signed_note import COSIGNATURE_V1, cosign, format_note, generate_skey, parse_note, public_vkey
    from credit.tree_head import TreeHead

    _append(log["db"], 3)
    _issue(log)
    key = _lender_key(log["db"])
    text = parse_note(log["client"].get("/v1/audit/checkpoint").text).text
    skey = generate_skey("coop.example/witness", COSIGNATURE_V1)
    vkey, field = public_vkey(skey), "body/checkpoint"
    if case == "not_signed_by_the_log":
        text = TreeHead(ORIGIN, 3, bytes(32)).text()
    note = format_note(text, [cosign(text, skey, timestamp=1_700_000_000)])
    if case == "log_key_not_a_witness_key":
        vkey, field = public_vkey(generate_skey("coop.example/witness")), "body/witness_key"
    if case == "bad_cosignature":
        note = format_note(text, [cosign(text.replace("\n3\n", "\n2\n"), skey, timestamp=1_700_000_000)])
    posted = log["client"].post(
        "/v1/audit/cosignatures",
        json={"checkpoint": note, "witness_key": vkey},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert posted.status_code == 422, posted.text
    assert [e["path"] for e in posted.json()["errors"]] == [field]
    with psycopg.connect(log["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM audit_cosignatures").fetchone()[0] == 0


def test_signatures_give_a_witness_the_entries_and_the_older_trees_subtrees(log):
    _append(log["db"], 7)
    body = log["client"].get("/v1/audit/signatures", params={"from": 3, "to": 7}).json()
    assert [e["seq"] for e in body["entries"]] == [4, 5, 6, 7]
    leaves = leaf_hashes(log["db"])
    # the tree of 3 is the subtrees [0, 2) and [2, 3): hashed here with the independent MTH
    assert [base64.b64decode(h) for h in body["frontier"]] == [mth(leaves[:2]), leaves[2]]
    for e in body["entries"]:
        message = (
            b"farmtrust audit entry signature v1\n" + str(e["seq"]).encode() + b"\n" + bytes.fromhex(e["entry_hash"])
        )
        Ed25519PublicKey.from_public_bytes(TEST_SIGNER.public_key).verify(bytes.fromhex(e["signature"]), message)
    assert "payload" not in body["entries"][0]  # hashes and signatures only: no entry's content
    too_many = log["client"].get("/v1/audit/signatures", params={"from": 0, "to": 10_001})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["path"] == "query/to"
