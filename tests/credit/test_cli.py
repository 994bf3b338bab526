import json
import os
import subprocess
import sys

import psycopg

from tests.credit.farms_db import make_farm

CLI = [sys.executable, "-m", "farmtrust.cli"]


def run(*args, env=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_schedule_json_and_bad_input():
    out = run(
        "credit",
        "schedule",
        "--principal",
        "120000",
        "--rate",
        "18%",
        "--months",
        "12",
        "--type",
        "seasonal",
        "--harvest-months",
        "7,8",
        "--start",
        "2025-01-31",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    plain = json.loads(out.stdout)
    assert plain["kind"] == "seasonal" and plain["rate"] == "0.18"
    assert sum(float(i["principal"]) for i in plain["instalments"]) == 120000
    for args, message in [
        (["--principal", "0", "--rate", "0.1", "--months", "6"], "principal=0 must be greater than zero"),
        (["--principal", "100", "--rate", "abc", "--months", "6"], "--rate 'abc' is not a number"),
        (["--principal", "100", "--rate", "0.1", "--months", "6", "--type", "seasonal"], "harvest_months is empty"),
    ]:
        bad = run("credit", "schedule", *args)
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr


def test_schedule_refuses_the_issue_14_inputs_with_one_line_naming_the_field():
    """Issue #14 item 10: each of these crashed with a traceback or was silently accepted."""
    base = ["--months", "12", "--start", "2025-01-01"]
    for args, message in [
        (["--principal", "1e26", "--rate", "0.1"], "principal=1E+26 is above the largest accepted amount"),
        (["--principal", "100", "--rate", "0.1", "--months", "12", "--start", "9999-06-30"], "start=9999-06-30"),
        (["--principal", "0.004", "--rate", "0.1"], "principal=0.004 has more than 2 decimals"),
        (["--principal", "100", "--rate", "1"], "--rate '1' is ambiguous"),
        (["--principal", "100", "--rate", "18%%"], "--rate '18%%' is not a number"),
        (["--principal", "5.5", "--rate", "0.1", "--currency", "UGX"], "principal=5.5 has more than 0 decimals"),
    ]:
        bad = run("credit", "schedule", *base, *args)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 1, (args, bad.stdout)
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in bad.stderr, (args, bad.stderr)


def test_schedule_accepts_one_percent_written_clearly_and_prints_a_zero_apr_without_sign():
    one = run("credit", "schedule", "--principal", "1200", "--rate", "1%", "--months", "12", "--start", "2025-01-01")
    two = run("credit", "schedule", "--principal", "1200", "--rate", "0.01", "--months", "12", "--start", "2025-01-01")
    assert one.returncode == two.returncode == 0 and one.stdout == two.stdout
    free = run("credit", "schedule", "--principal", "100", "--rate", "0", "--months", "2", "--start", "2025-01-01")
    assert free.returncode == 0 and "APR 0.00%" in free.stdout and "-0.00" not in free.stdout


def test_limit_and_audit_verify_against_a_database(fresh_db_url, tmp_path):
    with psycopg.connect(fresh_db_url) as conn:
        farm = make_farm(conn)
        conn.commit()
    key = tmp_path / "cp.key"  # the server's key: it signs the decision's entry, and then the checkpoint
    env = {"FARMTRUST_AUDIT__KEY_FILE": str(key)}
    out = run("credit", "limit", farm, "--as-of", "2025-06-30", "--json", "--record", "--db-url", fresh_db_url, env=env)
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    assert decision["status"] == "approved" and decision["decision_id"]
    text = run("credit", "limit", farm, "--as-of", "2025-06-30", "--db-url", fresh_db_url)
    assert "approved" in text.stdout and "repayment_capacity" in text.stdout
    assert run("audit", "checkpoint", "--key", str(key), "--db-url", fresh_db_url).returncode == 0
    ok = run("audit", "verify", "--public-key", str(key.with_suffix(".pub")), "--db-url", fresh_db_url)
    assert ok.returncode == 0 and "audit log intact" in ok.stdout
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("UPDATE audit_log SET payload = replace(payload, 'approved', 'declined')")
    bad = run("audit", "verify", "--public-key", str(key.with_suffix(".pub")), "--db-url", fresh_db_url)
    assert bad.returncode == 1 and "edited" in bad.stdout
    missing = run("credit", "limit", "00000000-0000-0000-0000-000000000000", "--db-url", fresh_db_url)
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
