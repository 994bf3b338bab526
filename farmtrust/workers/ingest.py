"""The ingest worker: MQTT in, batches into PostgreSQL, acknowledgements only after commit.

paho runs its network loop in a background thread and queues each message; the worker thread
collects a batch (up to ``max_messages`` / ``max_readings`` or ``max_wait_s``), writes it with
:class:`usecases.ingest.IngestWriter` (the ingest use case) in one transaction, and only then sends the PUBACKs
(``manual_ack=True``). If the database fails, the batch is retried (reconnecting with backoff) and
nothing is acknowledged, so nothing is lost; if the worker dies, its persistent MQTT session makes
the broker deliver the unacknowledged messages again, and the message-id ledger stores them once.
Only connection-level and transient failures are retried (:func:`store.db_failures.is_transient`); a
message the database refuses is quarantined by the writer and the rest of its batch is stored.
Under MQTT 5 the subscription is shared (``$share/{share_group}/{topic_root}/...``), so N workers split
the load; the topic root and the group come from ``Settings.mqtt``, so deployments sharing a broker
stay apart.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.protocol import TOPIC_ROOT
from farmtrust.settings import MqttProtocol, MqttSettings
from store.db import redact
from store.db_failures import is_transient
from store.ingest_writer import save_counters
from store.timescale import run_retention
from usecases.ingest import BatchResult, IngestWriter
from usecases.ingest_checks import Inbound
from usecases.ingest_counters import IngestCounters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    """Batching, subscription and bookkeeping of one ingest worker.

    Args:
        worker_id: the MQTT client id (its persistent session) and the ``ingest_counters`` key.
        share_group: the MQTT 5 shared-subscription group; None takes ``Settings.mqtt.share_group``.
        max_messages: most messages per batch.
        max_readings: most readings per batch (large telemetry messages close a batch early).
        max_wait_s: longest wait for a batch to fill once its first message arrived.
        receive_maximum: MQTT 5 Receive Maximum: unacknowledged messages the broker may send ahead.
        counters_every_s: how often the counter snapshot is saved.
        session_expiry_s: how long the broker keeps this worker's session (and unacked messages) after it dies.
        retention_days: when set (``Settings.db.retention_days``), raw time series older than this are
            dropped soon after start and then every ``retention_every_s`` (:func:`store.timescale.run_retention`).
        retention_every_s: seconds between retention runs.
    """

    worker_id: str = f"ingest-{socket.gethostname()}-{os.getpid()}"
    share_group: str | None = None
    max_messages: int = 1000
    max_readings: int = 100_000
    max_wait_s: float = 0.05
    receive_maximum: int = 2000
    counters_every_s: float = 5.0
    session_expiry_s: int = 3600
    retention_days: int | None = None
    retention_every_s: float = 6 * 3600.0


def subscription_topic(protocol: MqttProtocol, *, share_group: str, topic_root: str = TOPIC_ROOT) -> str:
    """The topic filter: shared under MQTT 5, plain under 3.1.1 (which has no shared subscriptions)."""
    base = f"{topic_root}/+/+/+"
    return f"$share/{share_group}/{base}" if protocol == MqttProtocol.V5 else base


class IngestWorker:
    """Subscribes, batches, writes and acknowledges until :meth:`stop`.

    Args:
        db_url: PostgreSQL URL.
        mqtt_settings: broker URL, protocol, TLS and credentials (``Settings.mqtt``).
        frame_dir: ``Settings.frame_dir``.
        evidence_dir: ``Settings.evidence_dir``.
        options: batching and subscription options.
        writer: the batch writer (a default one by default).
    """

    def __init__(
        self,
        *,
        db_url: str,
        mqtt_settings: MqttSettings,
        frame_dir: Path,
        evidence_dir: Path,
        options: IngestOptions | None = None,
        writer: IngestWriter | None = None,
    ) -> None:
        """Prepare the MQTT client; nothing connects until :meth:`run`."""
        self.db_url, self.mqtt = db_url, mqtt_settings
        self.options = options or IngestOptions()
        self.writer = writer or IngestWriter(
            frame_dir=frame_dir, evidence_dir=evidence_dir, topic_root=mqtt_settings.topic_root
        )
        self.share_group = self.options.share_group or mqtt_settings.share_group
        self.counters = IngestCounters()
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        self._stop = threading.Event()
        self._generation = 0  # bumped on every (re)connect: a mid is only acked on the connection that sent it
        self._subscribed = threading.Event()
        self.client = self._make_client()
        self._conn: psycopg.Connection | None = None
        self.on_batch: Callable[[BatchResult], None] | None = None
        self.db_failures = 0
        self.retention_runs: list[dict[str, int]] = []

    def _make_client(self) -> mqtt.Client:
        v5 = self.mqtt.protocol == MqttProtocol.V5
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.options.worker_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if self.mqtt.username:
            password = self.mqtt.password.get_secret_value() if self.mqtt.password else None
            client.username_pw_set(self.mqtt.username, password)
        if self.mqtt.tls:
            client.tls_set(
                ca_certs=str(self.mqtt.ca_file) if self.mqtt.ca_file else None,
                certfile=str(self.mqtt.cert_file) if self.mqtt.cert_file else None,
                keyfile=str(self.mqtt.key_file) if self.mqtt.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.max_inflight_messages_set(20)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if reason.is_failure:
            log.error("ingest %s: broker refused the connection: %s", self.options.worker_id, reason)
            return
        self._generation += 1
        topic = subscription_topic(self.mqtt.protocol, share_group=self.share_group, topic_root=self.mqtt.topic_root)
        client.subscribe(topic, qos=1)
        self._subscribed.set()
        log.info(
            "ingest %s subscribed to %s (session present: %s)", self.options.worker_id, topic, flags.session_present
        )

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        self._subscribed.clear()
        if not self._stop.is_set():
            log.warning("ingest %s disconnected from the broker: %s; reconnecting", self.options.worker_id, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        token = (self._generation, message.mid, message.qos)
        self.inbox.put(Inbound(message.topic, bytes(message.payload), datetime.now(UTC), token))

    @property
    def connections(self) -> int:
        """How many times the broker accepted this worker's connection (reconnects included)."""
        return self._generation

    def connect(self) -> None:
        """Connect to the broker and start paho's network thread (it reconnects by itself)."""
        kwargs: dict[str, Any] = {}
        if self.mqtt.protocol == MqttProtocol.V5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.options.session_expiry_s
            props.ReceiveMaximum = self.options.receive_maximum
            kwargs = {"clean_start": False, "properties": props}
        self.client.connect(self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s, **kwargs)
        self.client.loop_start()

    def wait_subscribed(self, timeout_s: float = 10.0) -> bool:
        """Wait until the subscription is in place (tests and benchmarks)."""
        return self._subscribed.wait(timeout_s)

    def stop(self) -> None:
        """Ask :meth:`run` to finish its current batch and return."""
        self._stop.set()

    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.db_url, connect_timeout=5)
        return self._conn

    def _next_batch(self) -> list[Inbound]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch, size = [first], len(first.payload)
        deadline = time.monotonic() + self.options.max_wait_s
        # ~40 bytes per reading on the wire: a cheap bound on readings without parsing here.
        while len(batch) < self.options.max_messages and size < self.options.max_readings * 40:
            left = deadline - time.monotonic()
            try:
                item = self.inbox.get_nowait() if left <= 0 else self.inbox.get(timeout=left)
            except queue.Empty:
                break
            batch.append(item)
            size += len(item.payload)
        return batch

    def _write(self, batch: list[Inbound]) -> BatchResult | None:
        """Write ``batch``, retrying transient failures with backoff; None when :meth:`stop` came first."""
        delay = 0.2
        while True:
            try:
                return self.writer.write_batch_isolating(self._db(), batch)
            except psycopg.Error as exc:
                self.db_failures += 1
                if is_transient(exc, self._conn):
                    log.warning("ingest: database unavailable (%s); retrying the batch in %.1f s", exc, delay)
                else:  # the writer quarantines what the database refuses; this is its own bookkeeping failing
                    log.error("ingest: writing the batch failed (%s); retrying it in %.1f s", exc, delay)
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
            if self._stop.wait(delay * random.uniform(0.5, 1.0)):
                log.warning("ingest: stopping while the database fails; %d messages left unacknowledged", len(batch))
                return None
            delay = min(delay * 2, 10.0)

    def _ack(self, batch: list[Inbound]) -> None:
        for item in batch:
            generation, mid, qos = item.token
            if generation == self._generation and qos > 0:
                self.client.ack(mid, qos)

    def _save_counters(self) -> None:
        try:
            conn = self._db()
            save_counters(conn, worker_id=self.options.worker_id, snapshot=self.counters.snapshot())
            conn.commit()
        except psycopg.OperationalError as exc:
            self.db_failures += 1
            log.warning("ingest: counters not saved (%s)", exc)
            self._conn = None

    def _run_retention(self) -> None:
        days = self.options.retention_days
        assert days is not None
        conn: psycopg.Connection | None = None
        try:
            conn = self._db()
            removed = run_retention(conn, days=days)
            conn.commit()
        except psycopg.Error as exc:  # retention must never stop ingest; it is tried again next time
            log.warning("ingest: retention not run (%s)", exc)
            if isinstance(exc, psycopg.OperationalError):
                self.db_failures += 1
                self._conn = None
            elif conn is not None:
                conn.rollback()
            return
        if removed is not None:
            self.retention_runs.append(removed)

    def _process(self, batch: list[Inbound]) -> bool:
        """Write and acknowledge one batch; False when it was left unacknowledged because of :meth:`stop`."""
        if not batch:
            return True
        result = self._write(batch)
        if result is None:
            return False  # the broker session redelivers it
        self._ack(batch)
        self.counters.add(result)
        if self.on_batch is not None:
            self.on_batch(result)
        return True

    def run(self) -> None:
        """Process batches until :meth:`stop`; the queue is drained and acknowledged before returning."""
        if not self.client.is_connected():
            self.connect()
        log.info("ingest %s writing to %s", self.options.worker_id, redact(self.db_url))
        next_save = time.monotonic() + self.options.counters_every_s
        next_retention = time.monotonic() if self.options.retention_days else float("inf")
        try:
            written = True
            while written and not self._stop.is_set():
                written = self._process(self._next_batch())
                if time.monotonic() >= next_save:
                    next_save = time.monotonic() + self.options.counters_every_s
                    self._save_counters()
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + self.options.retention_every_s
                    self._run_retention()
            while written and not self.inbox.empty():  # what already arrived is written and acknowledged
                written = self._process(self._next_batch())
        finally:
            self._save_counters()
            self.client.disconnect()
            self.client.loop_stop()
            if self._conn is not None:
                self._conn.close()
