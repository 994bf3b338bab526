"""docker-compose.yml stays true to the CLI and the settings (no Docker engine needed)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import typer.main
import yaml

from farmtrust.cli import app
from farmtrust.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
FARMTRUST_SERVICES = [name for name, svc in SERVICES.items() if svc.get("command", [None])[0] == "farmtrust"]


def _resolve(argv: list[str]) -> tuple[click.Command, list[str]]:
    """Walk the click tree for ``argv`` (without the program name); return the command and its options."""
    command: click.Command = typer.main.get_command(app)
    args = list(argv)
    while hasattr(command, "get_command") and args and not args[0].startswith("-"):
        name = args.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"'farmtrust {' '.join(argv)}': no command {name!r}"
        command = sub
    return command, [a for a in args if a.startswith("--")]


def test_every_farmtrust_service_is_listed():
    assert {"api", "ingest", "vision", "edge-sim", "migrate"} <= set(FARMTRUST_SERVICES)
    assert {"timescaledb", "mosquitto"} <= set(SERVICES)


@pytest.mark.parametrize("service", FARMTRUST_SERVICES)
def test_service_command_exists_in_the_cli(service):
    command, options = _resolve(SERVICES[service]["command"][1:])
    known = {opt for param in command.params for opt in param.opts}
    for option in options:
        assert option in known, f"{service}: 'farmtrust' has no option {option} (known: {sorted(known)})"


@pytest.mark.parametrize("service", FARMTRUST_SERVICES)
def test_service_environment_is_valid_settings(service, monkeypatch):
    env = SERVICES[service].get("environment", {})
    for key in list(os.environ):
        if key.startswith("FARMTRUST_"):
            monkeypatch.delenv(key)
    fields = set(Settings.model_fields)
    for key, value in env.items():
        assert key.startswith("FARMTRUST_"), key
        top = key.removeprefix("FARMTRUST_").split("__")[0].lower()
        assert top in fields, f"{service}: {key} is not a setting"
        monkeypatch.setenv(key, str(value))
    settings = Settings()  # raises if a value does not validate
    db = urlsplit(settings.db.url)
    assert db.hostname == "timescaledb"
    assert str(db.port) in SERVICES["timescaledb"]["ports"][0].split(":")
    if "FARMTRUST_MQTT__URL" not in env:
        return
    assert settings.mqtt.host == "mosquitto"
    listener = next(
        line.split()[1]
        for line in (REPO / "deploy/mosquitto/mosquitto.conf").read_text().splitlines()
        if line.startswith("listener")
    )
    assert settings.mqtt.port == int(listener)


def test_api_port_matches_settings_and_published_port():
    api = SERVICES["api"]
    command = api["command"]
    port = int(command[command.index("--port") + 1])
    assert int(api["environment"]["FARMTRUST_API__PORT"]) == port
    assert api["ports"][0].split(":")[1] == str(port)
    assert str(port) in api["healthcheck"]["test"][1]


def test_mosquitto_acl_pins_devices_to_their_own_topics():
    acl = (REPO / "deploy/mosquitto/acl").read_text()
    assert "pattern write farmtrust/v1/+/%u/#" in acl
    passwd = (REPO / "deploy/mosquitto/passwd").read_text()
    ingest_password = SERVICES["ingest"]["environment"]["FARMTRUST_MQTT__PASSWORD"]
    assert passwd.startswith("ingest:$7$")  # hashed, never the plain password
    assert ingest_password not in passwd
