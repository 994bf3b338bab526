"""The spool: sequence numbers survive reopening, the size bound drops frames first and counts it."""

from __future__ import annotations

import pytest

from edge.spool import Spool


def put(spool, kind, size, topic="t"):
    return spool.append(kind=kind, topic=topic, make_payload=lambda seq: bytes([seq % 256]) * size)


def test_sequence_numbers_continue_after_reopen_and_are_not_reused_on_failure(tmp_path):
    path = tmp_path / "s.sqlite"
    spool = Spool(path=path)
    assert [put(spool, "telemetry", 10).seq for _ in range(3)] == [0, 1, 2]

    def boom(seq):
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError):
        spool.append(kind="telemetry", topic="t", make_payload=boom)
    spool.close()
    spool = Spool(path=path)
    assert (spool.depth, spool.size_bytes, spool.last_seq) == (3, 30, 2)
    assert put(spool, "telemetry", 10).seq == 3
    status = spool.append(kind="status", topic="s", make_payload=lambda seq: b"x", takes_seq=False)
    assert status.seq == 3 and spool.last_seq == 3


def test_full_spool_drops_oldest_frames_before_telemetry_and_counts_it(tmp_path, caplog):
    spool = Spool(path=tmp_path / "s.sqlite", max_bytes=1000)
    t0 = put(spool, "telemetry", 300)
    f0 = put(spool, "frame", 300)
    f1 = put(spool, "frame", 300)
    put(spool, "telemetry", 300)  # needs room: the oldest frame goes
    kept = {e.id for e in spool.backlog(before=1e12, limit=10, exclude=set())}
    assert f0.id not in kept and {t0.id, f1.id} <= kept
    put(spool, "telemetry", 300)  # the other frame goes
    put(spool, "telemetry", 300)  # only telemetry left: the oldest telemetry goes
    assert spool.dropped() == {"frame": 2, "telemetry": 1}
    assert spool.size_bytes <= 1000
    assert "dropped frame" in caplog.text


def test_live_and_backlog_split_by_time_in_sequence_order(tmp_path):
    now = [100.0]
    spool = Spool(path=tmp_path / "s.sqlite", clock=lambda: now[0])
    old = [put(spool, "telemetry", 5) for _ in range(3)]
    now[0] = 200.0
    new = [put(spool, "telemetry", 5) for _ in range(2)]
    assert [e.seq for e in spool.live(since=150.0, limit=10, exclude=set())] == [e.seq for e in new]
    assert [e.seq for e in spool.backlog(before=150.0, limit=2, exclude={old[0].id})] == [1, 2]
    spool.delete(old[0].id)
    assert spool.depth == 4
