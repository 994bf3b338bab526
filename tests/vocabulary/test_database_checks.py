"""Every CHECK constraint of a migrated database allows exactly the values of its vocabulary."""

from __future__ import annotations

import re

import psycopg
import pytest

from edge.protocol import MessageKind
from vocabulary.cameras import CAMERA_PROFILES
from vocabulary.devices import DEVICE_ID_PATTERN, DEVICE_STATUSES, FRAME_STATUSES, is_device_id
from vocabulary.lending import (
    ALLOCATION_COMPONENTS,
    ARREARS_BUCKETS,
    CREDIT_LINE_STATUSES,
    DECISION_STATUSES,
    LOAN_STATUSES,
    SCHEDULE_KINDS,
    SEVERITIES,
)
from vocabulary.organizations import CONSENT_SCOPES, ORGANIZATION_KINDS

VALUE_LISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("organizations", "kind"): ORGANIZATION_KINDS,
    ("devices", "status"): DEVICE_STATUSES,
    ("devices", "camera_profile"): CAMERA_PROFILES,
    ("ingest_messages", "kind"): tuple(k.value for k in MessageKind),
    ("frames", "status"): FRAME_STATUSES,
    ("credit_decisions", "status"): DECISION_STATUSES,
    ("loans", "kind"): SCHEDULE_KINDS,
    ("loans", "status"): LOAN_STATUSES,
    ("repayment_allocations", "component"): ALLOCATION_COMPONENTS,
    ("credit_lines", "status"): CREDIT_LINE_STATUSES,
    ("credit_alerts", "severity"): SEVERITIES,
    ("loan_daily_states", "bucket"): ARREARS_BUCKETS,
    ("consents", "scope"): CONSENT_SCOPES,
}
"""The vocabulary of each column whose CHECK lists allowed values."""

PATTERNS: dict[tuple[str, str], str] = {("devices", "id"): DEVICE_ID_PATTERN}
"""The vocabulary rule of each column whose CHECK is a regular expression."""


def _checks(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(table, column, definition) of every single-column CHECK in the public schema."""
    return conn.execute(
        """SELECT c.conrelid::regclass::text, a.attname, pg_get_constraintdef(c.oid)
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
           WHERE c.contype = 'c' AND c.connamespace = 'public'::regnamespace AND cardinality(c.conkey) = 1
           ORDER BY 1, 2"""
    ).fetchall()


def test_every_value_list_check_equals_its_vocabulary(conn):
    found: dict[tuple[str, str], set[str]] = {}
    for table, column, definition in _checks(conn):
        if "ARRAY[" not in definition:
            continue
        values = set(re.findall(r"'((?:[^']|'')*)'::text", definition))
        assert (table, column) in VALUE_LISTS, (
            f"{table}.{column} has CHECK {definition} but no vocabulary here; add one to vocabulary/ and VALUE_LISTS"
        )
        found[(table, column)] = values
    assert set(found) == set(VALUE_LISTS), f"no CHECK found for {sorted(set(VALUE_LISTS) - set(found))}"
    for key, values in found.items():
        assert values == set(VALUE_LISTS[key]), (
            f"{key}: database allows {sorted(values)}, vocabulary {VALUE_LISTS[key]}"
        )


def test_every_pattern_check_equals_its_vocabulary_rule(conn):
    found = {}
    for table, column, definition in _checks(conn):
        match = re.search(r" ~ '((?:[^']|'')*)'::text", definition)
        if match:
            found[(table, column)] = match.group(1).replace("''", "'")
    assert found == PATTERNS


DEVICE_IDS = [
    ("barn-1", True),
    ("b8:27:eb:12:34:56", True),
    ("cam_2.pen", True),
    ("x", True),
    ("a" * 64, True),
    ("a" * 65, False),
    ("", False),
    ("barn 1", False),
    ("barn/1", False),
    ("cam+", False),
    ("pen#", False),
    ("barn-ü", False),
    ("barn-1\n", False),
    ("it's", False),
]
"""Device ids and whether the rule (1-64 of letters, digits, ``_ . : -``) admits them, by hand."""


@pytest.mark.parametrize(("device_id", "valid"), DEVICE_IDS)
def test_postgres_and_python_agree_on_each_device_id(conn, device_id, valid):
    farm = conn.execute("INSERT INTO farms (name) VALUES ('check farm') RETURNING id").fetchone()[0]
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)", (device_id, farm, bytes(32))
            )
        accepted = True
    except psycopg.errors.CheckViolation:
        accepted = False
    assert accepted == valid
    assert is_device_id(device_id) == valid
