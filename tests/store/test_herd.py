"""store.herd and store.sensor_series: the farm's counts and readings, read back by hand-counted values."""

import uuid
from datetime import UTC, date, datetime, timedelta

from store.farms import create_farm
from store.herd import counted_frames, evidence_path, herd_days, latest_head_counts
from store.sensor_series import sensor_days


def _count(conn, farm, time, species, head, *, sha=None, evidence=None):
    conn.execute(
        """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method, frame_sha256,
                                         evidence_path)
           VALUES (%s, %s, 'cam-1', 'c', %s, %s, 'snapshot', %s, %s)""",
        (time, farm, species, head, sha, evidence),
    )


def _day(n: int) -> datetime:
    """Noon UTC ``n`` days ago (so the day's rows never straddle midnight)."""
    return (datetime.now(UTC) - timedelta(days=n)).replace(hour=12, minute=0, second=0, microsecond=0)


def test_herd_days_take_the_daily_maximum_and_count_distinct_frames(conn):
    farm = create_farm(conn, name="Herd").id
    _count(conn, farm, _day(2), "cattle", 7, sha="a")
    _count(conn, farm, _day(2) + timedelta(hours=1), "cattle", 9, sha="b")
    _count(conn, farm, _day(2) + timedelta(hours=2), "cattle", 8, sha="b")  # the same frame again
    _count(conn, farm, _day(2), "sheep", 3, sha="c")
    _count(conn, farm, _day(1), "cattle", 6, sha="d")
    _count(conn, farm, _day(40), "cattle", 99, sha="e")  # outside 30 days
    rows = herd_days(conn, farm_id=farm, days=30)
    assert [(r.day, r.species, r.head, r.photos) for r in rows] == [
        (_day(2).date(), "cattle", 9, 2),
        (_day(2).date(), "sheep", 3, 1),
        (_day(1).date(), "cattle", 6, 1),
    ]


def test_counted_frames_evidence_and_latest_head(conn):
    farm, other = create_farm(conn, name="Frames").id, create_farm(conn, name="Other").id
    _count(conn, farm, _day(3), "cattle", 5, sha="f1", evidence="f1.jpg")
    _count(conn, farm, _day(2), "cattle", 0, sha="f2", evidence="f2.jpg")  # nothing counted, thumbnail kept
    _count(conn, farm, _day(1), "cattle", 4, sha="f3")
    _count(conn, other, _day(1), "cattle", 1, sha="f9", evidence="other.jpg")
    assert [f.frame_sha256 for f in counted_frames(conn, farm_id=farm, limit=10)] == ["f3", "f1"]
    assert [f.frame_sha256 for f in counted_frames(conn, farm_id=farm, limit=1)] == ["f3"]
    with_thumbs = counted_frames(conn, farm_id=farm, limit=10, with_evidence_only=True)
    assert [(f.frame_sha256, f.evidence_path) for f in with_thumbs] == [("f2", "f2.jpg"), ("f1", "f1.jpg")]
    assert evidence_path(conn, farm_ids=[farm], frame_sha256="f1") == "f1.jpg"
    assert evidence_path(conn, farm_ids=[farm], frame_sha256="f9") is None  # another farm's frame
    assert latest_head_counts(conn, farm_ids=[farm, other, uuid.uuid4()]) == {farm: {"cattle": 4}, other: {"cattle": 1}}


def test_sensor_days_summarise_one_metric(conn):
    farm = create_farm(conn, name="Sensors").id
    for time, metric, value in (
        (_day(2), "water_flow_l_min", 1.0),
        (_day(2) + timedelta(hours=3), "water_flow_l_min", 3.0),
        (_day(1), "water_flow_l_min", 5.0),
        (_day(1), "temperature_c", 20.0),
        (_day(50), "water_flow_l_min", 9.0),
    ):
        conn.execute(
            """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
               VALUES (%s, %s, 'gw', %s, %s, 'x', %s)""",
            (time, farm, metric, value, uuid.uuid4()),
        )
    rows = sensor_days(conn, farm_id=farm, metric="water_flow_l_min", days=30)
    assert [(r.day, r.mean, r.min, r.max, r.readings) for r in rows] == [
        (_day(2).date(), 2.0, 1.0, 3.0, 2),
        (_day(1).date(), 5.0, 5.0, 5.0, 1),
    ]
    assert isinstance(rows[0].day, date)
