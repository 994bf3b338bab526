"""The demo's devices at work: 60 days of signed telemetry and herd photos through MQTT into ingest.

Each simulated device has been offline for the window and now drains its spool: every message is
signed with the device's key and carries its real device time, so ingest stores the history exactly as
a farm with a flaky link would deliver it (in order per device, at least once on the wire, once in the
database).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from edge.agent import Agent
from edge.protocol import reading_dict
from edge.publisher import MqttOptions, Publisher
from edge.spool import Spool
from farmtrust.settings import Settings
from farmtrust.workers.ingest import IngestOptions, IngestWorker
from store.messages import count_messages
from usecases.demo_seed import DemoFarm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FramePlan:
    """One herd photo a farm's camera sends: when, and which file."""

    captured_at: datetime
    path: Path


def barn_readings(*, farm: DemoFarm, start: datetime, end: datetime, step: timedelta, seed: int) -> list[list[dict]]:
    """Hourly telemetry batches for one farm: barn climate with a daily cycle, water scaled to the herd, feed, GPS."""
    rng = random.Random(seed)
    head = sum(farm.declared_herd.values()) or 1
    batches: list[list[dict]] = []
    feed_kg = 400.0
    at = start
    while at < end:
        batch = []
        for minute in range(0, 60, int(step.total_seconds() // 60) or 10):
            t = at + timedelta(minutes=minute)
            if t >= end:  # never a reading from the future: ingest would rightly quarantine it
                break
            hour = t.hour + t.minute / 60
            daily = math.cos(2 * math.pi * (hour - 15) / 24)
            feed_kg = 400.0 if feed_kg < 60 else feed_kg - abs(rng.gauss(0.25, 0.05))
            values = {
                "barn_temperature_c": 14 + 6 * daily + rng.gauss(0, 0.6),
                "humidity_pct": 70 - 15 * daily + rng.gauss(0, 2),
                # sheep drink about 7 L/head/day from a trough that refills around the clock
                "water_flow_l_min": max(0.0, head * 7 / 1440 * (1 + 0.1 * daily) + rng.gauss(0, 0.0005)),
                "feed_weight_kg": feed_kg,
                "gps_lat_deg": 50.8105 + rng.gauss(0, 2e-5),
                "gps_lon_deg": 3.0205 + rng.gauss(0, 2e-5),
            }
            batch += [reading_dict(metric=m, value=round(v, 6), time=t) for m, v in values.items()]
        if batch:
            batches.append(batch)
        at += timedelta(hours=1)
    return batches


class IngestThread:
    """The ingest worker running in a background thread for the demo's lifetime."""

    def __init__(self, settings: Settings) -> None:
        """Build the worker from the settings (database, broker, frame and evidence stores)."""
        assert settings.db.url is not None
        self.worker = IngestWorker(
            db_url=settings.db.url,
            mqtt_settings=settings.mqtt,
            frame_dir=settings.frame_dir,
            evidence_dir=settings.evidence_dir,
            # its own share group: on a broker shared with other ingest workers, the demo's messages
            # must not be load-balanced to a worker writing to another database
            options=IngestOptions(
                worker_id=f"demo-ingest-{int(time.time())}", share_group=f"demo{int(time.time())}", session_expiry_s=60
            ),
        )
        self.thread = threading.Thread(target=self.worker.run, name="ingest", daemon=True)

    def start(self) -> None:
        """Connect, subscribe and start writing batches."""
        self.worker.connect()
        if not self.worker.wait_subscribed(15):
            raise RuntimeError("the ingest worker did not subscribe to the broker within 15 s")
        self.thread.start()

    def stop(self) -> None:
        """Finish the current batch, acknowledge and disconnect."""
        self.worker.stop()
        self.thread.join(30)


def make_agent(farm: DemoFarm, *, settings: Settings, spool_dir: Path) -> Agent:
    """A device agent for ``farm`` with its own spool and MQTT client (backlog drains quickly for the demo)."""
    spool = Spool(path=spool_dir / f"{farm.device.device_id}.sqlite", synchronous="NORMAL", max_bytes=1 << 30)
    assert settings.mqtt.url is not None
    options = MqttOptions.from_url(
        settings.mqtt.url,
        protocol=settings.mqtt.protocol.value,
        username=farm.device.device_id,
        topic_root=settings.mqtt.topic_root,
    )
    publisher = Publisher(
        spool=spool, options=options, client_id=farm.device.device_id, max_inflight=100, backlog_rate_per_s=400
    )
    return Agent(
        farm_id=farm.farm_id,
        device_id=farm.device.device_id,
        signer=farm.device.key,
        spool=spool,
        publisher=publisher,
        status_interval_s=3600,
    )


def feed(
    farms: Sequence[DemoFarm],
    *,
    settings: Settings,
    spool_dir: Path,
    now: datetime,
    days: int,
    frames: dict[str, list[FramePlan]],
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Spool ``days`` of telemetry and the planned frames on every farm's device, then drain them all.

    Returns the number of messages delivered.
    """
    agents = []
    total = 0
    for index, farm in enumerate(farms):
        agent = make_agent(farm, settings=settings, spool_dir=spool_dir)
        start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0) if days else now
        for batch in barn_readings(farm=farm, start=start, end=now, step=timedelta(minutes=10), seed=index):
            agent.emit_telemetry(batch, now=datetime.fromisoformat(batch[-1]["time"].replace("Z", "+00:00")))
            total += 1
        for plan in frames.get(str(farm.farm_id), []):
            agent.emit_frame(camera_id="paddock-1", jpeg=plan.path.read_bytes(), captured_at=plan.captured_at)
            total += 1
        agents.append(agent)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for agent in agents:
            agent.publisher.step(timeout_s=0.005)
        left = sum(a.spool.depth for a in agents)
        if on_progress:
            on_progress(total - left, total)
        if left == 0:
            break
    for agent in agents:
        agent.close()
    return total


def wait_stored(db_url: str, *, device_ids: Sequence[str], expected: int, timeout_s: float = 120) -> int:
    """Wait until ingest has stored ``expected`` messages of these devices; return how many it stored."""
    deadline = time.monotonic() + timeout_s
    stored = 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            stored = count_messages(conn, device_ids=device_ids)
            if stored >= expected:
                break
            time.sleep(0.3)
    return stored
