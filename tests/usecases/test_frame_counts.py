import uuid

import psycopg

from store.counts import listen_for_frames, wait_for_frames
from tests.vision.framesdb import add_frame
from tests.vision.test_worker import SquareCounter, jpeg_with_squares
from usecases.frame_counts import count_pending_frames


def test_counts_belong_to_the_callers_transaction(fresh_db_url, tmp_path):
    farm = uuid.uuid4()
    frames = tmp_path / "frames"
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        sha = add_frame(setup, frames, jpeg_with_squares(3, seed=3), farm_id=farm)
    with psycopg.connect(fresh_db_url) as conn:
        result = count_pending_frames(
            conn, model=SquareCounter(), frame_dir=frames, evidence_dir=tmp_path / "ev", batch_size=4
        )
        assert (result.counted, result.quarantined) == (1, 0)
        counts = conn.execute("SELECT species, count FROM livestock_counts WHERE frame_sha256 = %s", (sha,)).fetchall()
        assert sorted(counts) == [("cattle", 3), ("pig", 0)]  # three white squares drawn, no pig
        conn.rollback()  # the use case committed nothing: the caller's rollback undoes the round
        assert conn.execute("SELECT status FROM frames WHERE sha256 = %s", (sha,)).fetchone()[0] == "pending"
        assert conn.execute("SELECT count(*) FROM livestock_counts WHERE frame_sha256 = %s", (sha,)).fetchone()[0] == 0


def test_wait_for_frames_wakes_on_an_announcement(db_url):
    with psycopg.connect(db_url, autocommit=True) as listen, psycopg.connect(db_url, autocommit=True) as ingest:
        listen_for_frames(conn=listen)
        assert wait_for_frames(conn=listen, timeout_s=0.05) is False  # nothing announced yet
        ingest.execute("SELECT pg_notify('farmtrust_frames', 'abc')")
        assert wait_for_frames(conn=listen, timeout_s=30) is True
