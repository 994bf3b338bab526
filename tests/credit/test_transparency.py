"""When checkpoints fall due, and receipts refused for a named field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credit.errors import AuditError
from credit.transparency import Receipt, checkpoint_due, entry_leaf_hash

T0 = datetime(2025, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "last_size", "elapsed_s", "due"),
    [
        (0, None, None, False),  # nothing logged yet
        (1, None, None, True),  # the first entry: the first checkpoint
        (10, 10, 10_000, False),  # nothing new, however long ago
        (14, 10, 5, False),  # 4 new of 5, 5 s of 60
        (15, 10, 5, True),  # 5 new entries
        (11, 10, 60, True),  # 60 s with one new entry
        (11, 10, 59.9, False),
    ],
)
def test_checkpoint_every_n_entries_or_t_seconds(size, last_size, elapsed_s, due):
    last_at = None if elapsed_s is None else T0
    now = T0 + timedelta(seconds=elapsed_s or 0)
    assert (
        checkpoint_due(
            size=size, last_size=last_size, last_issued_at=last_at, now=now, every_entries=5, every_seconds=60
        )
        is due
    )


def test_entry_leaf_hash_is_rfc6962_over_the_raw_chain_hash():
    # SHA-256(0x00 || 32 zero bytes), computed with `printf '\0%.0s' {1..33} | sha256sum`
    assert entry_leaf_hash("00" * 32).hex() == "7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9"
    with pytest.raises(AuditError, match="32 expected"):
        entry_leaf_hash("00" * 31)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[]", "entry"),
        ('{"entry": {"seq": 1}}', "entry"),
        ("not json", "not JSON"),
    ],
)
def test_malformed_receipts_name_the_field(text, field):
    with pytest.raises(AuditError, match=field):
        Receipt.from_json(text)
