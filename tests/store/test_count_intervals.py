"""Count intervals through the database (vision issue #16): count rows, camera profiles, window combination.

Expected figures are worked out by hand in the comments.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from store.counts import CountRow, claim_pending_frames, counts_for_frame, daily_window_counts, write_counts
from store.farms import create_farm
from store.herd import counted_frames, herd_days, latest_head_intervals
from store.ingest_devices import insert_device, list_devices, register_device, set_camera_profile
from tests.vision.framesdb import add_frame

KEY = bytes(32)
START = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def _row(farm, minute, camera, count, interval, **extra):
    low, high = interval if interval else (None, None)
    return CountRow(
        time=START + timedelta(minutes=minute),
        farm_id=farm,
        device_id=extra.pop("device_id", "dev"),
        camera_id=camera,
        species=extra.pop("species", "cattle"),
        count=count,
        method="snapshot",
        count_low=low,
        count_high=high,
        **extra,
    )


def test_count_rows_keep_their_interval_and_old_rows_have_none(conn):
    farm = uuid.uuid4()
    rows = [
        _row(farm, 0, "c1", 42, (39, 46), frame_sha256="f" * 64),
        _row(farm, 0, "c1", 0, None, frame_sha256="f" * 64, species="sheep"),
    ]
    write_counts(conn=conn, rows=rows)
    back = counts_for_frame(conn=conn, frame_sha256="f" * 64)
    assert [(r.species, r.count, r.count_low, r.count_high) for r in back] == [
        ("cattle", 42, 39, 46),
        ("sheep", 0, None, None),
    ]


def test_an_interval_unbounded_above_is_stored_as_its_lower_end(conn):
    row = CountRow(
        time=START,
        farm_id=uuid.uuid4(),
        species="cattle",
        count=3,
        method="snapshot",
        frame_sha256="u",
        count_low=0,
        count_high=None,
    )
    write_counts(conn=conn, rows=[row])
    (back,) = counts_for_frame(conn=conn, frame_sha256="u")
    assert (back.count_low, back.count_high) == (0, None)


@pytest.mark.parametrize("interval", [(None, 3), (5, 4), (-1, 2)])
def test_an_upper_end_alone_or_a_reversed_interval_is_refused_by_the_database(conn, interval):
    low, high = interval
    row = CountRow(
        time=START, farm_id=uuid.uuid4(), species="cattle", count=3, method="snapshot", count_low=low, count_high=high
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        write_counts(conn=conn, rows=[row])


def test_devices_carry_a_camera_profile_defaulting_to_wide(conn, tmp_path):
    farm = create_farm(conn, name="profiles").id
    assert insert_device(conn, device_id="p-1", farm_id=farm, public_key=KEY).camera_profile == "wide"
    insert_device(conn, device_id="p-2", farm_id=farm, public_key=KEY, camera_profile="race")
    register_device(conn, device_id="p-2", farm_id=farm, public_key=bytes([1]) * 32)  # re-keyed: profile kept
    changed = set_camera_profile(conn, device_id="p-1", camera_profile="aerial")
    assert changed is not None and changed.camera_profile == "aerial"
    assert set_camera_profile(conn, device_id="nobody", camera_profile="pen") is None
    assert [(d.id, d.camera_profile) for d in list_devices(conn, farm_ids=[farm])] == [
        ("p-1", "aerial"),
        ("p-2", "race"),
    ]
    with pytest.raises(psycopg.errors.CheckViolation):
        set_camera_profile(conn, device_id="p-1", camera_profile="drone")


def test_a_claimed_frame_names_its_devices_camera_profile(conn, tmp_path):
    farm = create_farm(conn, name="claim").id
    conn.execute("DELETE FROM frames WHERE status = 'pending'")  # this transaction only (rolled back)
    insert_device(conn, device_id="dev1", farm_id=farm, public_key=KEY, camera_profile="pen")
    add_frame(conn, tmp_path, b"frame", farm_id=farm)
    (frame,) = claim_pending_frames(conn=conn, limit=5)
    assert frame.camera_profile == "pen"


def _two_cameras(conn):
    farm = create_farm(conn, name="two cameras").id
    insert_device(conn, device_id="dev", farm_id=farm, public_key=KEY, camera_profile="pen")
    rows = [
        _row(farm, i, "c1", c, iv)
        for i, (c, iv) in enumerate([(30, (27, 34)), (31, (28, 35)), (30, (26, 33)), (2, (1, 5))])
    ]
    rows += [_row(farm, 10 + i, "c2", c, iv) for i, (c, iv) in enumerate([(8, (7, 10)), (9, (8, 11)), (7, (6, 9))])]
    rows += [_row(farm, 20, "c3", 5, (4, 6)), _row(farm, 21, "c3", 6, None)]  # c3: one frame without an interval
    rows += [_row(farm, 60 * 24, "c1", 33, (30, 36)), _row(farm, 60 * 24 + 1, "c2", 9, (8, 12))]  # 2 May
    write_counts(conn=conn, rows=rows)
    return farm


def test_a_cameras_day_takes_the_low_medians_of_its_frames_interval_ends(conn):
    farm = _two_cameras(conn)
    days = daily_window_counts(conn=conn, farm_id=farm, start=START, end=START + timedelta(days=2))
    # c1 on 1 May: counts 2 30 30 31 -> 30; lower ends 1 26 27 28 -> the 2nd of 4, 26; upper 5 33 34 35 -> 33
    # c2: counts 7 8 9 -> 8; lower 6 7 8 -> 7; upper 9 10 11 -> 10
    # c3: counts 5 6 -> 5, but one frame has no interval -> none for the day
    assert [(str(d.day), d.camera_id, d.head, d.head_low, d.head_high, d.profile) for d in days] == [
        ("2026-05-01", "c1", 30, 26, 33, "pen"),
        ("2026-05-01", "c2", 8, 7, 10, "pen"),
        ("2026-05-01", "c3", 5, None, None, "pen"),
        ("2026-05-02", "c1", 33, 30, 36, "pen"),
        ("2026-05-02", "c2", 9, 8, 12, "pen"),
    ]


def test_an_unbounded_upper_end_counts_as_the_largest_in_the_days_median(conn):
    farm = create_farm(conn, name="unbounded").id
    insert_device(conn, device_id="dev", farm_id=farm, public_key=KEY, camera_profile="aerial")
    # c1: upper ends 12, unbounded, 14 -> sorted 12 14 inf -> 14; c2: 9, unbounded, unbounded -> unbounded
    rows = [_row(farm, i, "c1", c, iv) for i, (c, iv) in enumerate([(10, (8, 12)), (11, (0, None)), (12, (9, 14))])]
    rows += [_row(farm, 10 + i, "c2", c, iv) for i, (c, iv) in enumerate([(7, (5, 9)), (8, (0, None)), (9, (0, None))])]
    rows.append(_row(farm, 0, "c1", 0, (0, 1), species="pig"))  # no pig seen: says nothing of c1's width
    write_counts(conn=conn, rows=rows)
    days = daily_window_counts(conn=conn, farm_id=farm, start=START, end=START + timedelta(days=1))
    # lower ends: c1 0 8 9 -> 8; c2 0 0 5 -> 0
    assert [(d.camera_id, d.species, d.head, d.head_low, d.head_high) for d in days] == [
        ("c1", "cattle", 11, 8, 14),
        ("c1", "pig", 0, 0, 1),
        ("c2", "cattle", 8, 0, None),
    ]

    from store.credit_records import read_farm_record

    record = read_farm_record(conn, farm_id=farm, as_of=START + timedelta(days=1), window_days=5)
    # the farm's cattle day: head 11 + 8 = 19, lower end 8 + 0 = 8, unbounded above because c2 is;
    # pig 0 (0-1), but c1's pig day is left out of its widths: it saw no pig
    assert [(d.species, d.head, d.head_low, d.head_high) for d in record.herd_days] == [
        ("cattle", 19, 8, None),
        ("pig", 0, 0, 1),
    ]
    assert [(c.camera_id, c.days, c.head_total, c.width_total, c.unbounded_days) for c in record.camera_intervals] == [
        ("c1", 1, 11, 6, 0),
        ("c2", 1, 0, 0, 1),
    ]


def test_the_credit_record_sums_the_cameras_intervals(conn):
    from store.credit_records import read_farm_record

    farm = _two_cameras(conn)
    record = read_farm_record(conn, farm_id=farm, as_of=START + timedelta(days=2), window_days=5)
    # 1 May: c3 has no interval, so the farm's day has none (head 30 + 8 + 5 = 43)
    # 2 May: 33 + 9 = 42, interval 30 + 8 = 38 to 36 + 12 = 48
    assert [(str(d.day), d.head, d.head_low, d.head_high, d.cameras) for d in record.herd_days] == [
        ("2026-05-01", 43, None, None, 3),
        ("2026-05-02", 42, 38, 48, 2),
    ]
    # per camera over its days with an interval: c1 heads 30 + 33 = 63, widths 7 + 6 = 13;
    # c2 heads 8 + 9 = 17, widths 3 + 4 = 7; c3 has no day with an interval
    assert [(c.camera_id, c.profile, c.days, c.head_total, c.width_total) for c in record.camera_intervals or ()] == [
        ("c1", "pen", 2, 63, 13),
        ("c2", "pen", 2, 17, 7),
    ]


def test_herd_reads_show_the_interval(conn):
    farm = uuid.uuid4()
    # yesterday 09:00-12:00 UTC: one UTC day, inside the last two days whenever the test runs
    noon = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    rows = [
        CountRow(
            time=noon - timedelta(hours=3),
            farm_id=farm,
            species="cattle",
            count=42,
            method="snapshot",
            frame_sha256="a",
            count_low=39,
            count_high=46,
        ),
        CountRow(
            time=noon - timedelta(hours=2),
            farm_id=farm,
            species="cattle",
            count=42,
            method="snapshot",
            frame_sha256="b",
            count_low=40,
            count_high=45,
        ),
        CountRow(
            time=noon - timedelta(hours=1),
            farm_id=farm,
            species="cattle",
            count=12,
            method="snapshot",
            frame_sha256="c",
            count_low=10,
            count_high=15,
        ),
        CountRow(time=noon, farm_id=farm, species="sheep", count=7, method="snapshot", frame_sha256="c"),
    ]
    write_counts(conn=conn, rows=rows)
    (cattle,) = [d for d in herd_days(conn, farm_id=farm, days=2) if d.species == "cattle"]
    # the day's largest count is 42, from two frames: the one with the higher lower end (40-45) is shown
    assert (cattle.head, cattle.head_low, cattle.head_high) == (42, 40, 45)
    frames = counted_frames(conn, farm_id=farm, limit=2)
    assert [(f.species, f.count, f.count_low, f.count_high) for f in frames] == [
        ("sheep", 7, None, None),
        ("cattle", 12, 10, 15),
    ]
    # the latest cattle count is 12 (10-15); the latest sheep count has no interval
    assert latest_head_intervals(conn, farm_ids=[farm]) == {farm: {"cattle": (10, 15)}}
