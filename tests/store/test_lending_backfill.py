"""Migration 0061 gives decisions made through the API, and their loans, to the lender that asked."""

from __future__ import annotations

import json
import shutil
import uuid
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from store.migrations import migrate
from tests.conftest import with_dbname

ZEROS = "0" * 64


@pytest.fixture
def empty_db(admin_url):
    name = f"ft_backfill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_dbname(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _decision(c: psycopg.Connection, farm: uuid.UUID, seq: int) -> uuid.UUID:
    c.execute(
        "INSERT INTO audit_log (seq, kind, created_at, payload, prev_hash, entry_hash) VALUES (%s, 'x', now(), '{}', "
        "%s, %s)",
        (seq, ZEROS, f"{seq:064d}"),
    )
    return c.execute(
        """INSERT INTO credit_decisions (farm_id, as_of, window_days, policy_version, record_hash, record, output,
               output_hash, status, limit_amount, currency, verification_score, fraud_score, audit_seq)
           VALUES (%s, now(), 60, 'p1', %s, '{}', '{}', %s, 'approved', 1000, 'KES', 1, 0, %s) RETURNING id""",
        (farm, ZEROS, ZEROS, seq),
    ).fetchone()[0]


def _loan(c: psycopg.Connection, farm: uuid.UUID, decision: uuid.UUID, seq: int) -> uuid.UUID:
    c.execute(
        "INSERT INTO audit_log (seq, kind, created_at, payload, prev_hash, entry_hash) VALUES (%s, 'x', now(), '{}', "
        "%s, %s)",
        (seq, ZEROS, f"{seq:064d}"),
    )
    return c.execute(
        """INSERT INTO loans (farm_id, decision_id, principal, currency, rate, months, kind, start_date, apr,
               policy_version, audit_seq)
           VALUES (%s, %s, 500, 'KES', 0.18, 6, 'annuity', current_date, 0.2, 'p1', %s) RETURNING id""",
        (farm, decision, seq),
    ).fetchone()[0]


def test_api_decisions_and_their_loans_are_backfilled_to_the_lender_that_asked(empty_db, tmp_path: Path):
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(Path(str(resources.files("store") / "migrations")).glob("*.sql")):
        if int(path.name[:4]) < 61:
            shutil.copy(path, before)
    with psycopg.connect(empty_db, autocommit=True) as c:
        migrate(c, directory=before)
        lender = c.execute("INSERT INTO organizations (kind, name) VALUES ('lender', 'L') RETURNING id").fetchone()[0]
        farm = c.execute("INSERT INTO farms (name) VALUES ('F') RETURNING id").fetchone()[0]
        c.execute("INSERT INTO credit_policies (version, sha256, body) VALUES ('p1', %s, '')", (ZEROS,))
        via_api, via_cli = _decision(c, farm, 1), _decision(c, farm, 2)
        c.execute(
            """INSERT INTO idempotency_keys (organization_id, key, request_hash, status_code, response)
               VALUES (%s, 'k-1', %s, 201, %s)""",
            (lender, ZEROS, json.dumps({"decision_id": str(via_api), "limit": "1000"})),
        )
        api_loan, cli_loan = _loan(c, farm, via_api, 3), _loan(c, farm, via_cli, 4)
        migrate(c)
        decisions = dict(c.execute("SELECT id, lender_organization_id FROM credit_decisions").fetchall())
        loans = dict(c.execute("SELECT id, lender_organization_id FROM loans").fetchall())
    assert decisions == {via_api: lender, via_cli: None}
    assert loans == {api_loan: lender, cli_loan: None}
