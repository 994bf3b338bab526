"""``farmtrust edge``: device keys, the agent, and a fleet simulator."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from farmtrust.commands._common import DbUrl, MqttUrl, load_settings
from farmtrust.console import console
from vocabulary.cameras import CameraProfile

app = typer.Typer(help="Edge devices: keys, the agent, and simulated fleets.", no_args_is_help=True)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="where to write the private key (PEM, mode 0600)")] = Path(
        "device.key"
    ),
    force: Annotated[bool, typer.Option(help="overwrite an existing key file")] = False,
) -> None:
    """Make a device's Ed25519 key pair; print the public key to register."""
    from edge.errors import KeyFileError
    from edge.keys import DeviceKey

    if out.exists() and not force:
        raise KeyFileError(f"Key file {out} already exists; pass --force to replace it or choose another --out")
    key = DeviceKey.generate()
    key.save(out)
    console.print(f"private key: {out}")
    typer.echo(f"public key (hex): {key.public_raw.hex()}")  # never wrapped: scripts read it
    console.print("register it: farmtrust edge register --device-id ID --farm-id FARM --public-key HEX")


@app.command()
def register(
    device_id: Annotated[str | None, typer.Option(help="the device id (also its MQTT username)")] = None,
    farm_id: Annotated[str | None, typer.Option(help="UUID of the farm the device belongs to")] = None,
    public_key: Annotated[str | None, typer.Option(help="hex public key printed by `farmtrust edge keygen`")] = None,
    camera_profile: Annotated[
        CameraProfile | None,
        typer.Option(
            help="how its cameras look at the animals (picks their count intervals); "
            "default: the config's, else keep a known device's, 'wide' for a new one",
            case_sensitive=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="the device's edge.toml: its device id, farm id, camera profile and key file"),
    ] = None,
    db_url: DbUrl = None,
) -> None:
    """Register a device (or re-key it) so ingest accepts its signed messages."""
    from edge.errors import ConfigError
    from store.db import connect
    from usecases.devices import register_farm_device

    device, farm, raw, profile = _registration(device_id, farm_id, public_key, camera_profile, config)
    settings = load_settings(db_url=db_url)
    if not settings.db.url:
        raise ConfigError("Pass --db-url (or set FARMTRUST_DB__URL) to register a device")
    with connect(settings.db.url) as conn:
        register_farm_device(
            conn, device_id=device, farm_id=farm, public_key=raw, camera_profile=profile.value if profile else None
        )
    said = f" with camera profile {profile.value}" if profile else ""
    console.print(f"registered device {device} of farm {farm}{said}", soft_wrap=True)


def _registration(
    device_id: str | None,
    farm_id: str | None,
    public_key: str | None,
    camera_profile: CameraProfile | None,
    config: Path | None,
) -> tuple[str, uuid.UUID, bytes, CameraProfile | None]:
    """The device id, farm, raw key and profile to register: the options, else what ``config`` says.

    Raises:
        ConfigError: a value is missing or malformed (the option is named).
    """
    from edge.errors import ConfigError
    from vocabulary.devices import device_id_problem

    raw: bytes | None = None
    if config is not None:
        from edge.config import load_config
        from edge.keys import DeviceKey

        section = load_config(config).device
        device_id = device_id or section.device_id
        farm_id = farm_id or str(section.farm_id)
        camera_profile = camera_profile or section.camera_profile
        if public_key is None:
            raw = DeviceKey.load(section.key_file).public_raw
    if device_id is None or farm_id is None or (raw is None and public_key is None):
        raise ConfigError("Pass --device-id, --farm-id and --public-key, or --config edge.toml")
    try:
        raw = raw if raw is not None else bytes.fromhex(public_key or "")
        farm = uuid.UUID(farm_id)
    except ValueError:
        raise ConfigError(
            f"--public-key must be 64 hex digits and --farm-id a UUID (got {public_key!r}, {farm_id!r})"
        ) from None
    if len(raw) != 32:
        raise ConfigError(f"--public-key must be 32 bytes (64 hex digits), got {len(raw)} bytes")
    if (problem := device_id_problem(device_id)) is not None:
        raise ConfigError(f"--device-id: {problem}")
    return device_id, farm, raw, camera_profile


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", help="edge.toml")] = Path("edge.toml"),
    duration: Annotated[float | None, typer.Option(min=0, help="stop after this many seconds")] = None,
) -> None:
    """Run the agent: sample, sign, spool and publish until Ctrl-C."""
    from edge.agent import agent_from_config
    from edge.config import load_config

    agent = agent_from_config(load_config(config))
    console.print(f"device {agent.device_id} of farm {agent.farm_id}; spool depth {agent.spool.depth}")
    deadline = time.monotonic() + duration if duration is not None else None
    try:
        while deadline is None or time.monotonic() < deadline:
            agent.step(timeout_s=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        agent.close()


@app.command()
def simulate(
    farms: Annotated[int, typer.Option("--farms", min=1, help="simulated farms")] = 1,
    devices: Annotated[int, typer.Option("--devices", min=1, help="devices per farm")] = 2,
    duration: Annotated[float, typer.Option("--duration", min=0, help="seconds of publishing")] = 10.0,
    rate: Annotated[float, typer.Option(min=0.001, help="telemetry messages per device per second")] = 1.0,
    readings_per_message: Annotated[int, typer.Option(min=1, max=20000, help="readings per message")] = 60,
    seed: Annotated[int, typer.Option(help="derives farm ids, device ids and keys")] = 0,
    spool_dir: Annotated[Path | None, typer.Option(help="spool folder (default: data dir)")] = None,
    register: Annotated[
        bool, typer.Option("--register", help="register the simulated farms and devices first")
    ] = False,
    protocol: Annotated[str | None, typer.Option(help="MQTT protocol, 5 or 3.1.1")] = None,
    db_url: DbUrl = None,
    mqtt_url: MqttUrl = None,
) -> None:
    """Run many simulated agents in one process (tests, demos, benchmarks)."""
    from edge.errors import ConfigError
    from edge.publisher import MqttOptions
    from edge.simulate import SimOptions, build_agents, fleet
    from edge.simulate import simulate as run_simulation

    settings = load_settings(db_url=db_url, mqtt_url=mqtt_url)
    sim = fleet(farms=farms, devices=devices, seed=seed)
    if register:
        if not settings.db.url:
            raise ConfigError("--register needs --db-url (or FARMTRUST_DB__URL)")
        from store.db import connect
        from store.ingest_devices import ensure_farm, register_device

        with connect(settings.db.url) as conn:
            for dev in sim:
                ensure_farm(conn, farm_id=dev.farm_id, name=f"Simulated farm {dev.farm_id.hex[:6]}")
                register_device(conn, device_id=dev.device_id, farm_id=dev.farm_id, public_key=dev.key.public_raw)
        console.print(f"registered {farms} farm(s) and {len(sim)} device(s)")
    m = settings.mqtt
    if not m.url:
        raise ConfigError("simulate needs a broker: pass --mqtt-url (or FARMTRUST_MQTT__URL)")
    options = MqttOptions.from_url(
        m.url,
        protocol=(protocol or m.protocol.value),
        username=m.username,
        password=m.password.get_secret_value() if m.password else None,
        ca_file=m.ca_file,
        cert_file=m.cert_file,
        key_file=m.key_file,
        topic_root=m.topic_root,
    )
    sim_options = SimOptions(
        duration_s=duration,
        messages_per_s=rate,
        readings_per_message=readings_per_message,
        spool_dir=spool_dir or settings.data_dir / "sim-spool",
    )
    agents = build_agents(sim, mqtt=options, options=sim_options)
    report = run_simulation(agents, options=sim_options)
    for agent in agents:
        agent.close()
    console.print(
        f"{len(agents)} device(s): {report.messages} messages, {report.readings} readings, "
        f"{report.acked} acknowledged, {report.left_in_spool} left in spools, {report.seconds:.1f} s"
    )
