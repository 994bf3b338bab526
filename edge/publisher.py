"""Publishing from the spool: QoS 1, delete on PUBACK, reconnect with exponential backoff and jitter.

The publisher is single-threaded: :meth:`Publisher.step` runs the paho network loop once, reconnects
when the backoff has elapsed and moves spooled messages onto the wire: live ones (created since the
current connection came up) ahead of the backlog (created before it, while offline), which drains
oldest first, in sequence order, at a bounded rate.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.protocol import TOPIC_ROOT
from edge.spool import Spool

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10
"""MQTT 5 PUBACK reason: accepted, but no subscription matched (the message went nowhere)."""


@dataclass(frozen=True)
class MqttOptions:
    """How to reach the broker; the device id is the MQTT username so broker ACLs pin its topics."""

    host: str = "127.0.0.1"
    port: int = 1883
    protocol: str = "5"
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    topic_root: str = TOPIC_ROOT
    """First levels of the device's topics (the server's ``Settings.mqtt.topic_root``)."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> MqttOptions:
        """Build options from ``mqtt://host:port`` or ``mqtts://`` plus keyword overrides."""
        parts = urlsplit(url)
        tls = parts.scheme in {"mqtts", "ssl"}
        return cls(host=parts.hostname or "127.0.0.1", port=parts.port or (8883 if tls else 1883), tls=tls, **kwargs)


def make_client(options: MqttOptions, *, client_id: str) -> mqtt.Client:
    """Return a paho client (callback API v2) for MQTT 5 or 3.1.1 with TLS and credentials applied."""
    protocol = MQTTProtocolVersion.MQTTv5 if options.protocol == "5" else MQTTProtocolVersion.MQTTv311
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=None if protocol == MQTTProtocolVersion.MQTTv5 else True,
    )
    if options.username:
        client.username_pw_set(options.username, options.password)
    if options.tls:
        client.tls_set(
            ca_certs=str(options.ca_file) if options.ca_file else None,
            certfile=str(options.cert_file) if options.cert_file else None,
            keyfile=str(options.key_file) if options.key_file else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


class Backoff:
    """Exponential backoff with full jitter: the n-th wait is uniform in [base·2ⁿ/2, base·2ⁿ], capped."""

    def __init__(self, *, base_s: float = 0.5, cap_s: float = 60.0, rng: random.Random | None = None) -> None:
        """Start at attempt 0."""
        self.base_s, self.cap_s, self.attempt = base_s, cap_s, 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Return the wait before the next attempt and count the attempt."""
        ceiling = min(self.cap_s, self.base_s * (2**self.attempt))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Forget past failures (after a successful connection)."""
        self.attempt = 0


class Publisher:
    """Moves spooled messages to the broker and deletes each one when its PUBACK arrives.

    Args:
        spool: where the messages wait.
        options: broker address, TLS and credentials.
        client_id: the MQTT client id (the device id).
        will: ``(topic, payload)`` published retained by the broker if this client vanishes.
        max_inflight: messages published but not yet acknowledged.
        backlog_rate_per_s: the most backlog messages sent per second, so a reconnect does not flood the link.
        ack_timeout_s: a message unacknowledged this long is sent again (the server drops duplicates).
        client: a paho client to use instead of a new one (tests).
    """

    def __init__(
        self,
        *,
        spool: Spool,
        options: MqttOptions,
        client_id: str,
        will: tuple[str, bytes] | None = None,
        max_inflight: int = 64,
        backlog_rate_per_s: float = 50.0,
        ack_timeout_s: float = 30.0,
        client: mqtt.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Prepare the client; nothing connects until :meth:`step`."""
        self.spool, self.options, self.client_id = spool, options, client_id
        self.max_inflight, self.backlog_rate_per_s = max_inflight, backlog_rate_per_s
        self.ack_timeout_s = ack_timeout_s
        self._clock = clock
        self.client = client or make_client(options, client_id=client_id)
        self.client.max_inflight_messages_set(max(max_inflight, 1))
        self.client.max_queued_messages_set(0)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.connected = False
        self.backoff = Backoff()
        self._next_attempt = 0.0
        self._started = False
        self._inflight: dict[int, tuple[int, float, bool]] = {}  # mid -> (spool id, sent at, retained)
        self.unrouted_retry_s = 1.0
        self.unrouted = 0
        self._hold_until = 0.0
        self._connected_since = 0.0
        self._acked_ids: list[int] = []
        self._tokens = backlog_rate_per_s
        self._last_refill = clock()
        self.acked = 0

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if not reason.is_failure:
            self.connected = True
            self._connected_since = self._clock()  # anything older is backlog
            self.backoff.reset()
            log.info("device %s connected to %s:%d", self.client_id, self.options.host, self.options.port)
        else:
            log.warning("device %s: broker refused the connection: %s", self.client_id, reason)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if self.connected:
            # a disconnect the agent asked for (reason code 0) is routine; anything else is worth a warning
            level = logging.WARNING if getattr(reason, "is_failure", True) else logging.INFO
            log.log(level, "device %s disconnected: %s", self.client_id, reason)
        self.connected = False
        self._inflight.clear()  # everything unacknowledged is sent again from the spool
        self._next_attempt = self._clock() + self.backoff.next_delay()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        item = self._inflight.pop(mid, None)
        if item is None:
            return
        if getattr(reason, "value", 0) == NO_MATCHING_SUBSCRIBERS and not item[2]:
            # MQTT 5: the broker routed the message to nobody (e.g. the ingest's shared subscription is not back
            # after a broker restart). Keep it and try again shortly instead of trusting a PUBACK to nowhere.
            self.unrouted += 1
            self._hold_until = self._clock() + self.unrouted_retry_s
            log.info("device %s: no subscriber for spool message %d; retrying", self.client_id, item[0])
            return
        if getattr(reason, "is_failure", False):
            log.warning("device %s: broker refused message %d: %s; kept in the spool", self.client_id, item[0], reason)
            return
        self._acked_ids.append(item[0])
        self.acked += 1

    def _connect(self) -> None:
        # Until CONNACK (or a disconnect) arrives, the next attempt waits at least a keepalive period.
        self._next_attempt = self._clock() + max(self.backoff.next_delay(), float(self.options.keepalive_s))
        try:
            if not self._started:
                kwargs: dict[str, Any] = {}
                if self.options.protocol == "5":
                    kwargs["clean_start"] = True
                self.client.connect(self.options.host, self.options.port, self.options.keepalive_s, **kwargs)
                self._started = True
            else:
                self.client.reconnect()
        except OSError as exc:
            delay = self.backoff.next_delay()
            self._next_attempt = self._clock() + delay
            log.info("device %s: broker unreachable (%s); retry in %.1f s", self.client_id, exc, delay)

    def step(self, *, timeout_s: float = 0.01) -> None:
        """Run the network once, reconnect if due, and publish what the window and rate allow."""
        now = self._clock()
        if not self.connected and now >= self._next_attempt:
            self._connect()
        if self._started:
            rc = self.client.loop(timeout=timeout_s)
            if self._acked_ids:  # one spool transaction for all PUBACKs of this round
                self.spool.delete_many(self._acked_ids)
                self._acked_ids = []
            if rc != mqtt.MQTT_ERR_SUCCESS and not self.connected and self._next_attempt <= now:
                self._next_attempt = now + self.backoff.next_delay()
        if self.connected:
            self._drain(now)

    def _drain(self, now: float) -> None:
        if now < self._hold_until:
            return
        stale = [mid for mid, (_sid, sent, _r) in self._inflight.items() if now - sent > self.ack_timeout_s]
        for mid in stale:
            del self._inflight[mid]
        room = self.max_inflight - len(self._inflight)
        if room <= 0 or self.spool.depth == 0:
            return
        busy = {sid for sid, _sent, _r in self._inflight.values()}
        entries = self.spool.live(since=self._connected_since, limit=room, exclude=busy)
        self._tokens = min(self.backlog_rate_per_s, self._tokens + (now - self._last_refill) * self.backlog_rate_per_s)
        self._last_refill = now
        backlog_room = min(room - len(entries), int(self._tokens))
        if backlog_room > 0:
            backlog = self.spool.backlog(before=self._connected_since, limit=backlog_room, exclude=busy)
            self._tokens -= len(backlog)
            entries.extend(backlog)
        for entry in entries:
            info = self.client.publish(entry.topic, entry.payload, qos=1, retain=entry.retain)
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                break
            self._inflight[info.mid] = (entry.id, now, entry.retain)
        if entries:
            log.debug(
                "device %s published %d messages (spool depth %d)", self.client_id, len(entries), self.spool.depth
            )

    def flush(self, *, timeout_s: float = 10.0) -> bool:
        """Keep stepping until the spool is empty or ``timeout_s`` passes; return whether it emptied."""
        deadline = time.monotonic() + timeout_s
        while self.spool.depth and time.monotonic() < deadline:
            self.step(timeout_s=0.01)
        return self.spool.depth == 0

    def close(self) -> None:
        """Disconnect cleanly (the broker then does not publish the last will)."""
        if self._started:
            self.client.disconnect()
            self.client.loop(timeout=0.1)
        if self._acked_ids:
            self.spool.delete_many(self._acked_ids)
            self._acked_ids = []
