"""`farmtrust edge register` sets a device's camera profile, from the option or from its edge.toml (issue #16)."""

from __future__ import annotations

import subprocess
import sys

import psycopg

from edge.keys import DeviceKey

KEY = "cd" * 32


def _register(db_url, *args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "farmtrust.cli", "edge", "register", "--db-url", db_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def _profile(db_url, device):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT camera_profile, public_key FROM devices WHERE id = %s", (device,)).fetchone()


def test_the_option_sets_the_profile_and_a_re_key_keeps_it(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farm = conn.execute("INSERT INTO farms (name) VALUES ('gate farm') RETURNING id").fetchone()[0]
    args = ["--device-id", "gate-cam", "--farm-id", str(farm), "--public-key", KEY]
    done = _register(fresh_db_url, *args, "--camera-profile", "race")
    assert done.returncode == 0, done.stderr
    assert "registered device gate-cam of farm" in done.stdout and "with camera profile race" in done.stdout
    assert _register(fresh_db_url, *args[:-1], "ef" * 32).returncode == 0
    assert _profile(fresh_db_url, "gate-cam") == ("race", bytes.fromhex("ef" * 32))


def test_the_edge_config_names_device_farm_profile_and_key(fresh_db_url, tmp_path):
    with psycopg.connect(fresh_db_url) as conn:
        farm = conn.execute("INSERT INTO farms (name) VALUES ('drone farm') RETURNING id").fetchone()[0]
    key = DeviceKey.generate()
    key.save(tmp_path / "device.key")
    (tmp_path / "edge.toml").write_text(
        f'[device]\nfarm_id = "{farm}"\ndevice_id = "drone-1"\ncamera_profile = "aerial"\nkey_file = "device.key"\n'
    )
    done = _register(fresh_db_url, "--config", str(tmp_path / "edge.toml"))
    assert done.returncode == 0, done.stderr
    assert _profile(fresh_db_url, "drone-1") == ("aerial", key.public_raw)


def test_a_bad_profile_in_the_config_or_nothing_to_register_is_one_line(fresh_db_url, tmp_path):
    (tmp_path / "edge.toml").write_text(
        '[device]\nfarm_id = "6f1c0000-0000-0000-0000-000000000000"\ndevice_id = "d-1"\ncamera_profile = "drone"\n'
    )
    bad = _register(fresh_db_url, "--config", str(tmp_path / "edge.toml"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "camera_profile" in bad.stderr
    empty = _register(fresh_db_url, "--device-id", "d-2")
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "Pass --device-id, --farm-id and --public-key, or --config edge.toml" in empty.stderr
