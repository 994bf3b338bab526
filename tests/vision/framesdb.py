"""Helpers for tests that need ingest's ``frames`` table (migration 0010, docs/CONTRACTS.md)."""

import hashlib
import uuid
from datetime import UTC, datetime

from store.frames import put_blob

FRAMES_DDL = """
CREATE TABLE IF NOT EXISTS frames (
    sha256 text PRIMARY KEY, farm_id uuid NOT NULL, device_id text NOT NULL, camera_id text NOT NULL,
    captured_at timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), path text NOT NULL,
    bytes integer NOT NULL, message_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'counted', 'quarantined')),
    status_reason text
)
"""


def add_frame(conn, frame_dir, data, *, farm_id, camera_id="cam1", at=None, store_bytes=True):
    """Store bytes like ingest does and insert a pending frame row; return the sha256."""
    conn.execute(FRAMES_DDL)
    if store_bytes:
        sha, rel = put_blob(frame_dir, data=data)
    else:
        sha = hashlib.sha256(data).hexdigest()
        rel = f"{sha[:2]}/{sha}.jpg"
    conn.execute(
        "INSERT INTO frames (sha256, farm_id, device_id, camera_id, captured_at, path, bytes, message_id) "
        "VALUES (%s, %s, 'dev1', %s, %s, %s, %s, %s)",
        (sha, farm_id, camera_id, at or datetime.now(UTC), rel, len(data), uuid.uuid4()),
    )
    return sha
