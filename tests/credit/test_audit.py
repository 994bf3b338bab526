import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from credit import AuditChain, generate_signing_key, public_key_of, sign_checkpoint, verify_chain

T0 = datetime(2025, 6, 1, tzinfo=UTC)
KEY = generate_signing_key()
PUB = public_key_of(KEY)


def log(n: int, checkpoint_at: int | None = None):
    chain = AuditChain()
    entries = [
        chain.append(
            kind="credit.decision", payload={"i": i, "limit": f"{i}000.00"}, created_at=T0 + timedelta(minutes=i)
        )
        for i in range(n)
    ]
    cps = [sign_checkpoint(entries[checkpoint_at - 1], private_key=KEY, signed_at=T0)] if checkpoint_at else []
    return entries, cps


def test_an_intact_log_verifies():
    entries, cps = log(10, checkpoint_at=7)
    report = verify_chain(entries, cps, public_key=PUB)
    assert report.ok and report.entries == 10 and report.last_seq == 10 and report.signatures_checked


def test_a_forged_checkpoint_signature_is_found():
    entries, cps = log(5, checkpoint_at=5)
    forged = dataclasses.replace(cps[0], signature=bytes(64))
    assert [p.code for p in verify_chain(entries, [forged], public_key=PUB).problems] == ["bad_signature"]


def test_a_full_rewrite_is_found_with_the_trusted_key():
    entries, cps = log(5, checkpoint_at=5)
    chain = AuditChain()
    rewritten = [
        chain.append(kind=e.kind, payload={"i": 0, "limit": "999999.00"}, created_at=e.created_at) for e in entries
    ]
    other_key = generate_signing_key()
    resigned = [sign_checkpoint(rewritten[-1], private_key=other_key, signed_at=T0)]
    problems = verify_chain(rewritten, resigned + cps, public_key=PUB).problems
    assert {"bad_signature", "rewritten"} <= {p.code for p in problems}


MUTATIONS = ("edit_payload", "edit_kind", "edit_time", "delete", "insert", "swap", "truncate")


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 25), data=st.data(), mutation=st.sampled_from(MUTATIONS))
def test_verify_detects_any_single_edit_deletion_insertion_reorder_or_truncation(n, data, mutation):
    checkpoint_at = data.draw(st.integers(1, n))
    entries, cps = log(n, checkpoint_at=checkpoint_at)
    i = data.draw(st.integers(0, n - 1))
    mutated = list(entries)
    if mutation == "edit_payload":
        mutated[i] = dataclasses.replace(entries[i], payload_json=entries[i].payload_json.replace("000.00", "999.00"))
    elif mutation == "edit_kind":
        mutated[i] = dataclasses.replace(entries[i], kind="policy.registered")
    elif mutation == "edit_time":
        mutated[i] = dataclasses.replace(entries[i], created_at=entries[i].created_at + timedelta(seconds=1))
    elif mutation == "delete":
        if i == n - 1 and checkpoint_at < n:
            i = checkpoint_at - 1  # deleting the unsigned tail is truncation after the checkpoint: undetectable
        del mutated[i]
    elif mutation == "insert":
        forged = AuditChain(last_seq=entries[i].seq, last_hash=entries[i].entry_hash).append(
            kind="credit.decision", payload={"forged": True}, created_at=T0
        )
        mutated.insert(i + 1, forged)
        if i == n - 1:
            return  # appending after the last entry is an append, not an insertion
    elif mutation == "swap":
        j = (i + 1) % n
        mutated[i], mutated[j] = mutated[j], mutated[i]
    elif mutation == "truncate":
        mutated = mutated[: data.draw(st.integers(0, checkpoint_at - 1))]
    assert not verify_chain(mutated, cps, public_key=PUB).ok
