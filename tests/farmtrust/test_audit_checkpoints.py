"""The checkpoint schedule in a background thread (the demo runs it while it serves)."""

import threading
import time
from datetime import UTC, datetime

import psycopg

from credit.signed_note import note_key
from credit.tree_head import verify_checkpoint_note
from farmtrust.audit_checkpoints import start_checkpoint_schedule
from farmtrust.settings import Settings
from store.audit import append_entry
from tests.signers import TEST_SIGNER

ORIGIN = "farmtrust.test/schedule"


def _append(url, n):
    with psycopg.connect(url) as conn:
        for i in range(n):
            append_entry(conn, signer=TEST_SIGNER, kind="test.schedule", payload={"i": i}, created_at=datetime.now(UTC))
        conn.commit()


def _wait_for(path, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} was never written"


def test_the_background_schedule_issues_when_due_and_stops(fresh_db_url, mqtt_url, tmp_path):
    settings = Settings(
        db={"url": fresh_db_url},
        mqtt={"url": mqtt_url},
        data_dir=tmp_path,
        audit={"origin": ORIGIN, "checkpoint_every_entries": 2, "checkpoint_every_s": 3600},
    )
    settings.audit_key_file.parent.mkdir(parents=True)
    settings.audit_key_file.write_bytes(TEST_SIGNER.seed)
    folder = settings.audit_checkpoint_dir
    stop = threading.Event()
    thread = start_checkpoint_schedule(settings, stop=stop, interval_s=0.05)
    try:
        _append(fresh_db_url, 1)
        _wait_for(folder / "checkpoint.1")  # the first is due at the first entry
        _append(fresh_db_url, 2)  # two more: due again (every 2 entries); the clock (an hour) is not
        _wait_for(folder / "checkpoint.3")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint", "checkpoint.1", "checkpoint.3"]
    head = verify_checkpoint_note((folder / "checkpoint").read_text(), [note_key(ORIGIN, TEST_SIGNER.public_key)])
    assert head.size == 3
