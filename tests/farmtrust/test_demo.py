"""`farmtrust demo --once` end to end against the real services: the report's numbers come from the pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg

from tests.conftest import TEST_TOPIC_ROOT
from usecases.credit_limits import replay_decision


def test_demo_once_reports_what_the_pipeline_stored(fresh_db_url, mqtt_url, tmp_path):
    env = {
        **os.environ,
        "FARMTRUST_DATA_DIR": str(tmp_path),
        "COLUMNS": "160",
        # on the shared broker, this session's demo must not take other runs' messages (nor they its own)
        "FARMTRUST_MQTT__TOPIC_ROOT": TEST_TOPIC_ROOT,
    }
    for key in ("FARMTRUST_DB__URL", "FARMTRUST_MQTT__URL", "FARMTRUST_VISION__MODEL_PATH"):
        env.pop(key, None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "farmtrust.cli",
            "demo",
            "--once",
            "--json",
            "--db-url",
            fresh_db_url,
            "--mqtt-url",
            mqtt_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Audit chain" in done.stdout and "Traceback" not in done.stderr

    # every message the devices sent was stored exactly once
    assert figures["ingest"]["stored"] == figures["ingest"]["sent"] > 4000
    assert figures["audit"]["ok"] is True

    with psycopg.connect(fresh_db_url) as conn:
        # herd counts in the report are what the vision worker stored
        for herd in figures["herd"]:
            row = conn.execute(
                """SELECT max(c.count), count(DISTINCT c.frame_sha256) FROM livestock_counts c
                   JOIN farms f ON f.id = c.farm_id WHERE f.name = %s AND c.species = %s AND c.count > 0""",
                (herd["farm"], herd["species"]),
            ).fetchone()
            assert (row[0], row[1]) == (herd["max"], herd["photos"])
        frames = conn.execute("SELECT count(*) FROM frames WHERE status = 'counted'").fetchone()[0]
        assert frames == 18
        # limits are what the credit engine computes from the stored, frozen record
        assert len(figures["decisions"]) == 3
        for decision in figures["decisions"]:
            stored, recomputed = replay_decision(conn, decision_id=decision["decision_id"])
            assert stored == recomputed
            assert json.loads(stored)["limit"]["number"] == decision["limit"]
            audit = conn.execute(
                "SELECT a.kind FROM credit_decisions d JOIN audit_log a ON a.seq = d.audit_seq WHERE d.id = %s",
                (decision["decision_id"],),
            ).fetchone()
            assert audit is not None
        # every field got a crop-area estimate from the real scene
        missing = conn.execute(
            "SELECT count(*) FROM fields f "
            "WHERE NOT EXISTS (SELECT 1 FROM crop_area_estimates e WHERE e.field_id = f.id)"
        ).fetchone()[0]
        assert missing == 0
        # the repayment was posted once although it was sent twice
        assert conn.execute("SELECT count(*) FROM repayments").fetchone()[0] == (1 if figures["loan_id"] else 0)
