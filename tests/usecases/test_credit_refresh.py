"""The weekly credit refresh: who is decided, exactly once per cycle, in partitions, after crashes."""

import hashlib
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from credit import decide_limit, load_policy
from credit.canonical import canonical_json
from credit.policy import DEFAULT_POLICY_PATH
from farmtrust.credit_refresh import run_refresh
from store.audit import verify_log
from store.credit_refresh import CyclePolicyError, pending_farms, start_cycle
from store.tenants import create_organization, grant_consent
from tests.credit.farms_db import AS_OF, make_farm
from tests.credit.refresh_db import FAR_FUTURE, decisions_per_pair, make_book
from tests.signers import TEST_SIGNER
from usecases.credit_limits import replay_decision
from usecases.credit_refresh import Partition, cycle_as_of
from usecases.errors import RefreshInputError
from usecases.farm_records import load_farm_record, load_farm_records

POLICY = load_policy(DEFAULT_POLICY_PATH)


def _reference_partition(farm_id: uuid.UUID, count: int) -> int:
    """The documented formula, written with hashlib: first 7 bytes of SHA-256(id bytes), big-endian, mod n."""
    return int.from_bytes(hashlib.sha256(farm_id.bytes).digest()[:7], "big") % count


def test_the_partition_hash_is_the_documented_sha256_formula(conn):
    ids = [uuid.UUID(int=i * 7919 + 1) for i in range(50)] + [uuid.uuid4() for _ in range(150)]
    for count in (1, 2, 3, 7, 16):
        rows = conn.execute(
            "SELECT f, ft_farm_partition(f, %s) FROM unnest(%s::uuid[]) f", (count, [str(i) for i in ids])
        ).fetchall()
        assert {r[0]: r[1] for r in rows} == {i: _reference_partition(i, count) for i in ids}
    # a fixed vector: sha256 of the nil UUID's 16 zero bytes starts 374708fff7719d (15,559,227,698,803,101)
    assert hashlib.sha256(bytes(16)).hexdigest()[:14] == "374708fff7719d"
    nil = conn.execute("SELECT ft_farm_partition('00000000-0000-0000-0000-000000000000', 1000)").fetchone()[0]
    assert nil == 0x374708FFF7719D % 1000 == 101


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/1", Partition(1, 1)), ("2/4", Partition(2, 4)), (" 4/4 ", Partition(4, 4))],
)
def test_a_partition_is_i_of_n(text, expected):
    assert Partition.parse(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "3", "", "1/0", "-1/4", "1/5000"])
def test_a_partition_outside_1_to_n_is_refused_naming_the_option(text):
    with pytest.raises(RefreshInputError, match="--partition"):
        Partition.parse(text)


def test_the_default_cycle_is_the_iso_weeks_monday_and_the_future_is_refused():
    wednesday = datetime(2026, 12, 9, 10, 30, tzinfo=UTC)
    assert cycle_as_of(now=wednesday) == datetime(2026, 12, 7, tzinfo=UTC)
    assert cycle_as_of(date(2026, 12, 1), now=wednesday) == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(RefreshInputError, match="--as-of 2026-12-10 is in the future"):
        cycle_as_of(date(2026, 12, 10), now=wednesday)


def test_the_batched_read_gives_each_farm_the_record_of_the_single_read(conn):
    from credit import Amount, D
    from store.credit_records import record_decision
    from usecases.loans import open_loan, post_repayment

    farms = [make_farm(conn, cattle=9 + i) for i in range(3)]
    # farm 0 has a loan (back-dated) with one late and one on-time instalment before the decision time
    first = load_farm_record(conn, farm_id=farms[0], as_of=AS_OF)
    decision_id, _ = record_decision(
        conn, decision=decide_limit(first, POLICY), record=first, policy=POLICY, signer=TEST_SIGNER
    )
    opened = open_loan(
        conn,
        decision_id=decision_id,
        principal=Amount(D("6000"), "KES"),
        rate=D("0.18"),
        months=6,
        kind="annuity",
        start=date(2025, 2, 1),
        policy=POLICY,
        signer=TEST_SIGNER,
    )
    for key, row, paid in [("a", 0, datetime(2025, 3, 20, tzinfo=UTC)), ("b", 1, datetime(2025, 4, 1, tzinfo=UTC))]:
        amount = Amount(opened.schedule.instalments[row].total, "KES")
        post_repayment(
            conn,
            loan_id=opened.loan_id,
            idempotency_key=key,
            amount=amount,
            paid_at=paid,
            policy=POLICY,
            signer=TEST_SIGNER,
        )
    batch = load_farm_records(conn, farm_ids=farms, as_of=AS_OF, window_days=60, grace_days=3)
    assert sorted(batch) == sorted(farms)
    for farm in farms:
        single = load_farm_record(conn, farm_id=farm, as_of=AS_OF, window_days=60, grace_days=3)
        assert batch[farm] == single and batch[farm].record_hash() == single.record_hash()
    # due by 30 Jun: 1 Mar (paid 19 days late), 1 Apr (paid that day), 1 May and 1 Jun (unpaid): the worst
    # arrears are those of 1 May, 60 days past due on 30 Jun (30 days of May, 30 of June)
    (loan,) = batch[farms[0]].past_loans
    assert (loan.instalments_due, loan.instalments_on_time, loan.max_days_past_due) == (4, 1, 60)


def _consent(conn, farm, lender, coop, **kw):
    grant_consent(conn, farm_id=farm, lender_id=lender, granted_by=coop, **kw)


def test_only_valid_credit_consents_are_decided_once_per_lender(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farms, (l1, l2) = make_book(conn, farms=2, lenders=2)
        coop = conn.execute("SELECT cooperative_id FROM farms WHERE id = %s", (farms[0],)).fetchone()[0]
        revoked, expired, records_only, none = (make_farm(conn) for _ in range(4))
        for farm in (revoked, expired, records_only, none):
            conn.execute("UPDATE farms SET cooperative_id = %s WHERE id = %s", (coop, farm))
        _consent(conn, revoked, l1, coop, expires_at=FAR_FUTURE)
        conn.execute("UPDATE consents SET revoked_at = now() WHERE farm_id = %s", (revoked,))
        _consent(conn, expired, l1, coop, expires_at=datetime.now(UTC) - timedelta(days=1))
        _consent(conn, records_only, l1, coop, expires_at=FAR_FUTURE, scope=("records",))
        # a second consent of the same lender on farm 0 still gives one decision
        _consent(conn, farms[0], l1, coop, expires_at=FAR_FUTURE)
        conn.commit()
        summary = run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY, batch_size=1)
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in farms for lender in (l1, l2)}
        assert (summary.farms, summary.decisions, summary.already_decided) == (2, 4, 0)
        # each stored decision is the engine's decision on the farm's freshly read record, and replays
        for decision_id, farm, output in conn.execute("SELECT id, farm_id::text, output FROM credit_decisions"):
            expected = decide_limit(load_farm_record(conn, farm_id=farm, as_of=AS_OF, grace_days=3), POLICY)
            assert output == canonical_json(expected)
            stored, recomputed = replay_decision(conn, decision_id=decision_id)
            assert stored == recomputed
        # each decision's audit entry is a credit.decision entry naming its output
        rows = conn.execute(
            "SELECT d.output_hash, a.kind, a.payload FROM credit_decisions d JOIN audit_log a ON a.seq = d.audit_seq"
        ).fetchall()
        assert len(rows) == 4 and all(k == "credit.decision" and h in p for h, k, p in rows)
        assert verify_log(conn, public_key=None).ok
        # a rerun of the cycle finds nothing left to decide
        again = run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
        assert (again.farms, again.decisions, again.already_decided) == (0, 0, 4)
        # a new cycle decides every pair again
        later = run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF + timedelta(days=7), policy=POLICY)
        assert later.decisions == 4 and set(decisions_per_pair(conn).values()) == {2}


def test_partitions_split_the_book_without_overlap(conn):
    farms, _ = make_book(conn, farms=12)
    cycle = start_cycle(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
    for count in (1, 2, 3):
        parts = [
            {str(p.farm_id) for p in pending_farms(conn, cycle_id=cycle.id, partition=i, partitions=count)}
            for i in range(count)
        ]
        assert sum(map(len, parts)) == len(farms) and set().union(*parts) == set(farms)
        for i, part in enumerate(parts):
            assert all(_reference_partition(uuid.UUID(f), count) == i for f in part)


def test_an_exception_mid_run_then_a_rerun_decides_the_rest_and_none_twice(fresh_db_url, monkeypatch):
    import usecases.credit_refresh as refresh

    with psycopg.connect(fresh_db_url) as conn:
        farms, (lender,) = make_book(conn, farms=7)
        conn.commit()
        calls = []

        def failing_decide(record, policy, **kw):
            calls.append(record.farm_id)
            if len(calls) == 5:  # the first farm of the third batch of two
                raise RuntimeError("injected crash")
            return decide_limit(record, policy, **kw)

        monkeypatch.setattr(refresh, "decide_limit", failing_decide)
        with pytest.raises(RuntimeError, match="injected crash"):
            run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY, batch_size=2)
        conn.rollback()
        # the two committed batches stand; the batch that crashed left nothing behind
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in sorted(farms)[:4]}
        assert conn.execute("SELECT count(*) FROM credit_refresh_decisions").fetchone()[0] == 4
        monkeypatch.setattr(refresh, "decide_limit", decide_limit)
        summary = run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY, batch_size=2)
        assert (summary.farms, summary.already_decided) == (3, 4)
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in farms}
        assert verify_log(conn, public_key=None).ok


def test_two_workers_on_the_same_partition_never_decide_a_pair_twice(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farms, lenders = make_book(conn, farms=10, lenders=2)
        conn.commit()
    summaries, errors = [], []

    def worker() -> None:
        try:
            with psycopg.connect(fresh_db_url) as mine:
                summaries.append(run_refresh(mine, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY, batch_size=1))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(s.decisions for s in summaries) == 20
    with psycopg.connect(fresh_db_url) as conn:
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in farms for lender in lenders}
        assert verify_log(conn, public_key=None).ok


def test_a_farm_that_cannot_be_decided_is_reported_and_stays_pending(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farms, (lender,) = make_book(conn, farms=3)
        # a delivery paid in another currency than the policy's: the engine refuses to value it
        conn.execute(
            """INSERT INTO coop_deliveries (farm_id, delivered_on, product, quantity, unit, amount, currency)
               VALUES (%s, %s, 'milk', 10, 'L', 5, 'USD')""",
            (farms[1], AS_OF.date() - timedelta(days=3)),
        )
        conn.commit()
        summary = run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
        assert list(summary.failed) == [farms[1]] and "USD" in summary.failed[farms[1]]
        assert summary.farms == 2
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in (farms[0], farms[2])}
        assert conn.execute("SELECT count(*) FROM credit_refresh_decisions").fetchone()[0] == 2
        again = run_refresh(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
        assert list(again.failed) == [farms[1]] and again.already_decided == 2


def test_a_cycle_continues_only_under_its_own_policy(conn):
    start_cycle(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
    other = load_policy(POLICY.text.replace('version = "ft-2025.1"', 'version = "ft-test-refresh"'))
    with pytest.raises(CyclePolicyError, match=r"started under policy ft-2025\.1"):
        start_cycle(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=other)


def test_a_lender_without_farms_has_nothing_to_refresh(conn):
    create_organization(conn, kind="lender", name="Empty lender")
    cycle = start_cycle(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
    assert pending_farms(conn, cycle_id=cycle.id) == []
