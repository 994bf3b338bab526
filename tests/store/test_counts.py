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


def _two_camera_day(conn):
    """A farm with a registered device watching two pens (cameras c1 and c2) on 1 May 2026, plus bad evidence."""
    from store.farms import create_farm

    farm = create_farm(conn, name="two pens", declared_herd={"cattle": 40}).id
    conn.execute("INSERT INTO devices (id, farm_id, public_key) VALUES ('dev', %s, %s)", (farm, bytes(32)))
    start = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)

    def row(minute, camera, count, **extra):
        return CountRow(
            time=start + timedelta(minutes=minute),
            farm_id=farm,
            device_id=extra.pop("device_id", "dev"),
            camera_id=camera,
            species="cattle",
            count=count,
            method="snapshot",
            **extra,
        )

    rows = [row(i, "c1", c) for i, c in enumerate([30, 31, 30, 2])]  # one frame where c1 saw almost nothing
    rows += [row(10 + i, "c2", c) for i, c in enumerate([8, 9, 7])]
    rows.append(row(20, "c1", 500, flags=("recycled_photo",)))  # a recycled photo
    rows.append(row(21, "c1", 400, frame_sha256="q" * 64))  # a frame the vision worker quarantined
    rows.append(row(22, "c1", 900, device_id="rogue"))  # no device of this farm: unverified
    rows.append(row(60 * 20, "c1", 33))  # the next day (2 May, 02:00 UTC)
    write_counts(conn=conn, rows=rows)
    conn.execute(
        """INSERT INTO frames (sha256, farm_id, device_id, camera_id, captured_at, path, bytes, message_id, status)
           VALUES (%s, %s, 'dev', 'c1', %s, 'qq/q.jpg', 10, %s, 'quarantined')""",
        ("q" * 64, farm, start, uuid.uuid4()),
    )
    return farm, start


def test_daily_window_counts_take_each_cameras_low_median_of_evidence_frames_only(conn):
    """Issue #14 item 9: recycled, quarantined and unverified frames are left out; one bad frame moves nothing."""
    from store.counts import daily_window_counts

    farm, start = _two_camera_day(conn)
    days = daily_window_counts(conn=conn, farm_id=farm, start=start, end=start + timedelta(days=2))
    # c1 on 1 May: 2, 30, 30, 31 -> low median 30 (IQR 30.25 - 23 = 7.25); c2: 7, 8, 9 -> 8 (IQR 1)
    assert [(str(d.day), d.camera_id, d.head, d.frames) for d in days] == [
        ("2026-05-01", "c1", 30, 4),
        ("2026-05-01", "c2", 8, 3),
        ("2026-05-02", "c1", 33, 1),
    ]
    assert days[0].spread == pytest.approx(7.25) and days[1].spread == pytest.approx(1.0)
    with pytest.raises(ValueError, match="must be after its start"):
        daily_window_counts(conn=conn, farm_id=farm, start=start, end=start)


def test_the_credit_record_herd_sums_the_cameras_daily_medians(conn):
    """Issue #14 item 9: the record's herd was the day's maximum of every frame (here 900, a rogue count)."""
    from store.credit_records import read_farm_record

    farm, start = _two_camera_day(conn)
    record = read_farm_record(conn, farm_id=farm, as_of=start + timedelta(days=2), window_days=5)
    # 1 May: c1 30 + c2 8 = 38 from 7 frames of 2 cameras; 2 May: c1 33 from 1 frame
    assert [(str(d.day), d.head, d.frames, d.cameras) for d in record.herd_days] == [
        ("2026-05-01", 38, 7, 2),
        ("2026-05-02", 33, 1, 1),
    ]


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
