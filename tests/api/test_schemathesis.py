"""Requests generated from the OpenAPI document by schemathesis (its CLI, bounded and seeded) against a
running server on the real database: no input makes the server fail (no 5xx)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn

from farmtrust.services import free_port

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_no_generated_request_makes_the_server_fail(world):
    app = world["client"].app  # its lifespan already opened the pool
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        for key in ("key_a", "key_l"):  # a cooperative's key and a lender's key
            done = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    "8",
                    "--seed",
                    "1",
                    "--generation-deterministic",
                    "--phases",
                    "examples,fuzzing",
                    "-H",
                    f"Authorization: Bearer {world[key]}",
                ],
                capture_output=True,
                text=True,
                timeout=240,
                env={**os.environ, "NO_COLOR": "1"},
            )
            assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
            cases = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
            assert cases and cases.group(1) == cases.group(2) and int(cases.group(1)) > 100, done.stdout[-2000:]
            operations = sum(len(methods) for methods in app.openapi()["paths"].values())
            assert re.search(r"Tested: (\d+)", done.stdout).group(1) == str(operations)  # every operation
    finally:
        server.should_exit = True
        thread.join(10)
