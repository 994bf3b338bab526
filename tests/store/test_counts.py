import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from store.counts import CountRow, claim_pending_frames, counts_for_frame, mark_frame, recycled_frames, write_counts
from tests.vision.framesdb import add_frame


def test_write_and_read_back_counts(conn):
    farm = uuid.uuid4()
    at = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
    rows = [
        CountRow(
            time=at,
            farm_id=farm,
            species="cattle",
            count=12,
            method="snapshot",
            frame_sha256="f" * 64,
            phash="0123456789abcdef",
            model_sha256="m" * 64,
            camera_id="c1",
            flags=("recycled_photo",),
        ),
        CountRow(time=at, farm_id=farm, species="pig", count=0, method="snapshot", frame_sha256="f" * 64),
    ]
    assert write_counts(conn=conn, rows=rows) == 2
    back = counts_for_frame(conn=conn, frame_sha256="f" * 64)
    assert [(r.species, r.count, r.flags) for r in back] == [("cattle", 12, ("recycled_photo",)), ("pig", 0, ())]
    assert back[0].time == at and back[0].model_sha256 == "m" * 64


def test_count_must_not_be_negative(conn):
    row = CountRow(time=datetime.now(UTC), farm_id=uuid.uuid4(), species="cattle", count=-1, method="snapshot")
    with pytest.raises(psycopg.errors.CheckViolation):
        write_counts(conn=conn, rows=[row])


def test_recycled_frames_match_within_hamming_distance(conn):
    farm = uuid.uuid4()
    base = CountRow(
        time=datetime.now(UTC),
        farm_id=farm,
        species="cattle",
        count=3,
        method="snapshot",
        frame_sha256="a" * 64,
        phash="ffff0000ffff0000",
    )
    write_counts(conn=conn, rows=[base])
    near = "ffff0000ffff0007"  # 3 bits differ
    far = "0000ffff0000ffff"
    assert recycled_frames(conn=conn, farm_id=farm, phash=near, frame_sha256="b" * 64, max_bits=6) == ["a" * 64]
    assert recycled_frames(conn=conn, farm_id=farm, phash=far, frame_sha256="b" * 64, max_bits=6) == []
    # the same frame is not its own recycled copy, and other farms do not match
    assert recycled_frames(conn=conn, farm_id=farm, phash=near, frame_sha256="a" * 64, max_bits=6) == []
    assert recycled_frames(conn=conn, farm_id=uuid.uuid4(), phash=near, frame_sha256="b" * 64, max_bits=6) == []
    # the search is bounded in time: a photo from before the lookback is not read
    later = base.time + timedelta(seconds=1)
    assert recycled_frames(conn=conn, farm_id=farm, phash=near, frame_sha256="b" * 64, max_bits=6, since=later) == []


def test_two_workers_claim_disjoint_frames(fresh_db_url, tmp_path):
    farm = uuid.uuid4()
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        shas = {add_frame(setup, tmp_path, f"frame {i}".encode(), farm_id=farm) for i in range(5)}
    with psycopg.connect(fresh_db_url) as one, psycopg.connect(fresh_db_url) as two:
        first = claim_pending_frames(conn=one, limit=3)
        second = claim_pending_frames(conn=two, limit=3)
        assert len(first) == 3 and len(second) == 2
        assert {f.sha256 for f in first} | {f.sha256 for f in second} == shas
        for f in first:
            mark_frame(conn=one, sha256=f.sha256, status="counted")
        one.commit()
        two.rollback()
    with psycopg.connect(fresh_db_url) as check:
        statuses = dict(check.execute("SELECT status, count(*) FROM frames GROUP BY status").fetchall())
    assert statuses == {"counted": 3, "pending": 2}


def test_mark_frame_refuses_unknown_status(conn):
    with pytest.raises(ValueError, match="status must be"):
        mark_frame(conn=conn, sha256="x", status="done")


def test_window_count_is_robust_to_one_bad_frame_and_skips_recycled(conn):
    from datetime import timedelta

    from store.counts import window_counts

    farm = uuid.uuid4()
    start = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
    frame_counts = [30, 31, 30, 2, 30, 29, 31]  # one frame where the camera saw almost nothing
    rows = [
        CountRow(
            time=start + timedelta(minutes=i),
            farm_id=farm,
            species="cattle",
            count=c,
            method="snapshot",
            camera_id="c1",
            model_sha256="m" * 64,
        )
        for i, c in enumerate(frame_counts)
    ]
    rows.append(
        CountRow(
            time=start + timedelta(minutes=8),
            farm_id=farm,
            species="cattle",
            count=500,
            method="snapshot",
            camera_id="c1",
            flags=("recycled_photo",),
        )
    )
    rows.append(
        CountRow(
            time=start + timedelta(hours=2),
            farm_id=farm,
            species="cattle",
            count=900,
            method="snapshot",
            camera_id="c1",
        )
    )  # outside the window
    write_counts(conn=conn, rows=rows)
    [window] = window_counts(conn=conn, farm_id=farm, start=start, end=start + timedelta(hours=1))
    assert (window.species, window.count, window.method, window.camera_id) == ("cattle", 30, "window", "c1")
    assert window.spread == pytest.approx(1.0)
    assert window.time == start + timedelta(hours=1) and window.model_sha256 == "m" * 64
    high = window_counts(conn=conn, farm_id=farm, start=start, end=start + timedelta(hours=1), percentile=0.9)
    assert high[0].count == 31
    with pytest.raises(ValueError, match="must be after its start"):
        window_counts(conn=conn, farm_id=farm, start=start, end=start)


def test_herd_summaries_over_frames_that_saw_animals(conn):
    from store.counts import herd_summaries

    farm, other = uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2026, 3, 1, 10, tzinfo=UTC)

    def row(farm_id, day, species, count, frame, evidence):
        return CountRow(
            time=t0 + timedelta(days=day),
            farm_id=farm_id,
            species=species,
            count=count,
            method="snapshot",
            frame_sha256=frame,
            evidence_path=evidence,
        )

    rows = [
        row(farm, 0, "sheep", 3, "f1", "e1"),
        row(farm, 1, "sheep", 5, "f2", "e2"),
        row(farm, 2, "sheep", 4, "f3", "e3"),
        row(farm, 3, "sheep", 0, "f4", "e4"),
        row(farm, 0, "cattle", 0, "f1", "e1"),
        row(other, 0, "sheep", 9, "g1", "x1"),
    ]
    write_counts(conn=conn, rows=rows)
    (summary,) = herd_summaries(conn=conn, farm_ids=[farm])
    # zero counts are left out: 3 photos, largest 5, latest non-zero 4 (day 3) with its evidence
    assert (summary.farm_id, summary.species, summary.photos) == (farm, "sheep", 3)
    assert (summary.max_count, summary.latest_count, summary.latest_evidence_path) == (5, 4, "e3")
    both = herd_summaries(conn=conn, farm_ids=[farm, other])
    assert sorted((s.farm_id, s.max_count) for s in both) == sorted([(farm, 5), (other, 9)])
