"""Sequence and gap rows of ingest, written and read through the named functions of store/ingest_sequences.py."""

from __future__ import annotations

import uuid

from store.ingest_devices import ensure_farm
from store.ingest_sequences import (
    OpenGap,
    SequenceAdvance,
    advance_sequences,
    close_gap,
    lock_open_gap,
    lock_sequences,
    record_gap,
    reshape_gap,
    split_gap,
)


def _farm(conn):
    farm = str(uuid.uuid4())
    ensure_farm(conn, farm_id=farm, name="sequence farm")
    return farm


def _gaps(conn, device_id):
    return conn.execute(
        "SELECT key_epoch, seq_from, seq_to, closed_at IS NOT NULL FROM device_gaps WHERE device_id = %s "
        "ORDER BY key_epoch, seq_from",
        (device_id,),
    ).fetchall()


def test_sequences_start_empty_and_advance_keeping_the_first_seq(conn):
    farm, device = _farm(conn), f"seq-{uuid.uuid4().hex[:8]}"
    assert lock_sequences(conn, {(device, 0): farm, (device, 1): farm}) == {(device, 0): -1, (device, 1): -1}
    advance_sequences(conn, [SequenceAdvance(device, 0, last_seq=4, first_seq=2)])
    advance_sequences(conn, [SequenceAdvance(device, 0, last_seq=9, first_seq=7)])  # first_seq stays 2
    assert lock_sequences(conn, {(device, 0): farm, (device, 1): farm}) == {(device, 0): 9, (device, 1): -1}
    row = conn.execute(
        "SELECT first_seq, last_seq FROM device_seq WHERE device_id = %s AND key_epoch = 0", (device,)
    ).fetchone()
    assert row == (2, 9)


def test_a_gap_is_found_by_any_seq_inside_it_and_can_be_reshaped_split_and_closed(conn):
    farm, device = _farm(conn), f"gap-{uuid.uuid4().hex[:8]}"
    key = (device, 0)
    record_gap(conn, key, farm_id=farm, seq_from=3, seq_to=9)
    record_gap(conn, (device, 1), farm_id=farm, seq_from=3, seq_to=4)  # another epoch: another sequence
    assert lock_open_gap(conn, key, seq=3) == OpenGap(3, 9)
    assert lock_open_gap(conn, key, seq=9) == OpenGap(3, 9)
    assert lock_open_gap(conn, key, seq=10) is None
    reshape_gap(conn, key, seq_from=3, new_from=3, new_to=5)  # 6 arrived
    split_gap(conn, key, seq_from=3, new_from=7, new_to=9)
    assert _gaps(conn, device) == [(0, 3, 5, False), (0, 7, 9, False), (1, 3, 4, False)]
    close_gap(conn, key, seq_from=7)
    assert lock_open_gap(conn, key, seq=8) is None
    assert _gaps(conn, device) == [(0, 3, 5, False), (0, 7, 9, True), (1, 3, 4, False)]
