"""The content-addressed frame store: ``frame_dir / sha256[:2] / f"{sha256}.jpg"``.

Files are written to a temporary name and renamed, so a reader never sees half a frame, and writing
the same content twice is harmless. Evidence thumbnails of on-device counts use the same layout
under ``evidence_dir / "edge"``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def frame_relpath(sha256: str) -> str:
    """The path of a frame relative to the store root (as in ``frames.path``)."""
    return f"{sha256[:2]}/{sha256}.jpg"


def put_blob(root: Path, *, data: bytes, sha256: str | None = None) -> tuple[str, str]:
    """Store ``data`` under its sha256; return ``(sha256, relative path)``.

    Raises:
        ValueError: ``sha256`` is given and does not match the data.
    """
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and sha256 != digest:
        raise ValueError(f"sha256 {sha256} does not match the data (actual {digest})")
    rel = frame_relpath(digest)
    target = root / rel
    if target.exists() and target.stat().st_size == len(data):
        return digest, rel
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest, rel
