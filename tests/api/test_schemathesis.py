"""Requests generated from the OpenAPI document by schemathesis (its CLI, with every check, bounded and seeded)
against a running server on the real database, for an admin's, a cooperative's and a lender's key: no
failure of any check (no 5xx, every status, content type, header and body as documented, schema-valid data
accepted, schema-invalid data refused, 405 with its Allow header)."""

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

# What JSON Schema cannot say, and so a schema-valid request the server may still refuse with a 422:
# a field's outline must be a valid polygon with closed rings, a consent must expire in the future, a
# loan's principal must fit under its decision's limit and a repayment may not predate its loan; an audit
# range must lie within the log (its size is not in the schema).
BEYOND_SCHEMA = """
[[operations]]
include-operation-id = ["create_field", "grant_consent"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[[operations]]
include-operation-id = [
    "open_loan", "post_repayment", "audit_consistency", "audit_signatures", "post_audit_cosignature"
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""


def test_no_generated_request_fails_any_check(world, tmp_path):
    app = world["client"].app  # its lifespan already opened the pool
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    operations = sum(len(methods) for methods in app.openapi()["paths"].values())
    try:
        for key in ("key_admin", "key_a", "key_l"):
            config = tmp_path / f"{key}.toml"
            # the cooperative's own farm, so farm routes get past 404 to their real answers
            config.write_text(f'[parameters]\n"path.farm_id" = "{world["farm_a"]}"\n{BEYOND_SCHEMA}')
            done = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "--config-file",
                    str(config),
                    "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--checks",
                    "all",
                    "--max-examples",
                    "4",
                    "--seed",
                    "1",
                    "--generation-deterministic",
                    "--phases",
                    "examples,coverage,fuzzing",
                    "-H",
                    f"Authorization: Bearer {world[key]}",
                ],
                capture_output=True,
                text=True,
                timeout=90,  # about 10 s each here; bounded by case count (--max-time would fuzz until it is spent)
                env={**os.environ, "NO_COLOR": "1"},
            )
            assert done.returncode == 0, key + "\n" + done.stdout[-6000:] + done.stderr[-2000:]
            cases = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
            assert cases and cases.group(1) == cases.group(2) and int(cases.group(1)) > 100, done.stdout[-2000:]
            assert re.search(r"Tested: (\d+)", done.stdout).group(1) == str(operations)  # every operation
    finally:
        server.should_exit = True
        thread.join(10)
