"""Signed notes, checkpoints and cosignatures against published examples.

Sources:
- golang.org/x/mod, sumdb/note/note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen): the
  PeterNeumann and EnochRoot keys and signatures.
- github.com/C2SP/C2SP, tlog-checkpoint.md and tlog-cosignature.md: the example.com/behind-the-sofa
  checkpoint and its witness.example.com/w1 cosignature at ``time 1679315147``.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from credit.errors import AuditError
from credit.signed_note import (
    COSIGNATURE_V1,
    cosign,
    format_note,
    generate_skey,
    parse_note,
    parse_skey,
    parse_vkey,
    public_vkey,
    sign_note,
    verify_cosignature,
    verify_note,
)
from credit.tree_head import TreeHead, parse_checkpoint_text, sign_checkpoint_note, verify_checkpoint_note

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
SOFA = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_NOTE = (
    SOFA + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo"
    "+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
    "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def test_published_keys_parse_and_agree():
    peter = parse_vkey(PETER_VKEY)
    assert (peter.name, peter.key_id.hex(), peter.kind) == ("PeterNeumann", "c74f20a3", 1)
    public, _seed = parse_skey(PETER_SKEY)
    assert public == peter
    assert public_vkey(PETER_SKEY) == PETER_VKEY
    assert parse_vkey(ENOCH_VKEY).key_id.hex() == "af0cfe78"


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_mangled_vkeys_are_refused(bad):
    with pytest.raises(AuditError):
        parse_vkey(bad)


def test_sign_reproduces_the_published_note():
    assert format_note(TEXT, [sign_note(TEXT, PETER_SKEY)]) == TEXT + "\n" + PETER_SIG


def test_open_checks_known_keys_and_ignores_unknown_ones():
    peter, enoch = parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)
    note = verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert note.text == TEXT
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    both = verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])
    assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(AuditError, match="no verifiable"):
        verify_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(AuditError, match="invalid signature for key PeterNeumann"):
        verify_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter])


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT
        + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_malformed_notes_are_refused(message):
    with pytest.raises(AuditError, match=r"malformed|no verifiable"):
        verify_note(message, [parse_vkey(PETER_VKEY)])


def test_c2sp_checkpoint_example_parses():
    head = parse_checkpoint_text(SOFA)
    assert head.origin == "example.com/behind-the-sofa"
    assert head.size == 20852163
    assert head.text() == SOFA
    note = parse_note(SOFA_NOTE)
    assert note.text == SOFA
    log_sig, witness_sig = note.signatures
    assert (log_sig.name, len(log_sig.signature)) == ("example.com/behind-the-sofa", 64)
    # the cosignature carries key ID || u64be(timestamp) || signature: the spec's "time 1679315147"
    assert witness_sig.name == "witness.example.com/w1"
    assert int.from_bytes(witness_sig.signature[:8], "big") == 1679315147
    assert len(witness_sig.signature) == 72


@pytest.mark.parametrize(
    "text",
    [
        "origin\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "origin\n12\nAAAA\n",
        "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n12\n",
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(AuditError, match="checkpoint"):
        parse_checkpoint_text(text)


def test_checkpoint_round_trip_and_wrong_key_or_origin():
    skey = generate_skey("farmtrust.test/audit")
    key = parse_vkey(public_vkey(skey))
    head = TreeHead("farmtrust.test/audit", 5, bytes(range(32)))
    message = sign_checkpoint_note(head, skey)
    assert message.startswith("farmtrust.test/audit\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n— ")
    assert verify_checkpoint_note(message, [key], origin="farmtrust.test/audit") == head
    with pytest.raises(AuditError, match="not 'other'"):
        verify_checkpoint_note(message, [key], origin="other")
    other = parse_vkey(public_vkey(generate_skey("farmtrust.test/audit")))
    with pytest.raises(AuditError, match="no verifiable"):
        verify_checkpoint_note(message, [other])
    forged = message.replace("\n5\n", "\n6\n")
    with pytest.raises(AuditError, match="invalid signature"):
        verify_checkpoint_note(forged, [key])


def test_cosignature_matches_the_c2sp_message_layout():
    witness_skey = generate_skey("witness.test/w1", COSIGNATURE_V1)
    witness = parse_vkey(public_vkey(witness_skey))
    sig = cosign(SOFA, witness_skey, timestamp=1679315147)
    # independently: the key ID and the signed message as tlog-cosignature.md spells them
    import hashlib

    assert sig.key_id == hashlib.sha256(b"witness.test/w1\n\x04" + witness.public_key).digest()[:4]
    assert sig.signature[:8] == (1679315147).to_bytes(8, "big")
    expected_message = b"cosignature/v1\ntime 1679315147\n" + SOFA.encode()
    Ed25519PublicKey.from_public_bytes(witness.public_key).verify(sig.signature[8:], expected_message)
    note = SOFA_NOTE + sig.line()
    assert verify_cosignature(note, witness) == 1679315147
    tampered = note.replace("20852163", "20852164")
    with pytest.raises(AuditError, match="invalid cosignature"):
        verify_cosignature(tampered, witness)
    with pytest.raises(AuditError, match="needs type 0x04"):
        cosign(SOFA, generate_skey("w"), timestamp=1)


def test_note_signature_line_is_base64_of_id_and_signature():
    sig = sign_note(TEXT, PETER_SKEY)
    raw = base64.b64decode(sig.line().split(" ")[2])
    assert raw[:4].hex() == "c74f20a3"
