"""Sensor drivers: a simulated one with daily cycles and noise, and a generic command/file driver.

A driver returns readings as ``(metric, value, time)`` triples; metric names, units and physical
ranges come from :mod:`vocabulary.metrics`.
"""

from __future__ import annotations

import logging
import math
import random
import shlex
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from edge.errors import SensorError
from vocabulary.metrics import METRIC_RANGES, Metric

log = logging.getLogger(__name__)


class Sample(NamedTuple):
    """One reading taken by a driver."""

    metric: str
    value: float
    time: datetime


class SensorDriver(Protocol):
    """Anything that reads its sensors now."""

    def read(self, *, now: datetime) -> list[Sample]:
        """Return the readings taken at ``now``."""
        ...


@dataclass(frozen=True)
class _Cycle:
    mean: float
    amplitude: float
    noise: float
    peak_hour: float


# Barn climate peaks mid-afternoon; water and feed follow the animals' day (morning and evening peaks).
# Values are clamped to the metric's physical range in vocabulary.metrics.
_CYCLES: dict[str, _Cycle] = {
    Metric.BARN_TEMPERATURE_C: _Cycle(18.0, 6.0, 0.4, 15.0),
    Metric.HUMIDITY_PCT: _Cycle(65.0, -12.0, 1.5, 15.0),
    Metric.WATER_FLOW_L_MIN: _Cycle(6.0, 4.0, 0.8, 8.0),
}


@dataclass
class SimulatedDriver:
    """Realistic simulated sensors: daily sine cycles plus Gaussian noise, a draining feed hopper, GPS jitter.

    Args:
        metrics: which metrics to produce (default: every :class:`vocabulary.metrics.Metric`).
        seed: random seed, so simulated farms are reproducible.
        lat_deg: latitude of the barn; lon_deg: its longitude.
    """

    metrics: tuple[str, ...] = tuple(m.value for m in Metric)
    seed: int = 0
    lat_deg: float = 50.85
    lon_deg: float = 4.35
    feed_capacity_kg: float = 500.0
    _rng: random.Random = field(init=False, repr=False)
    _feed_kg: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Seed the generator and fill the feed hopper."""
        self._rng = random.Random(self.seed)
        self._feed_kg = self.feed_capacity_kg * (0.5 + self._rng.random() / 2)

    def value(self, metric: str, now: datetime) -> float:
        """Return one simulated value of ``metric`` at ``now``."""
        hour = now.hour + now.minute / 60 + now.second / 3600
        if metric in _CYCLES:
            c, span = _CYCLES[metric], METRIC_RANGES[metric]
            v = c.mean + c.amplitude * math.cos(2 * math.pi * (hour - c.peak_hour) / 24) + self._rng.gauss(0, c.noise)
            return round(min(span.high, max(span.low, v)), 3)
        if metric == Metric.FEED_WEIGHT_KG:
            self._feed_kg -= abs(self._rng.gauss(0.05, 0.02))
            if self._feed_kg < 0.1 * self.feed_capacity_kg:
                self._feed_kg = self.feed_capacity_kg  # refilled
            return round(self._feed_kg, 3)
        if metric == Metric.GPS_LAT_DEG:
            return round(self.lat_deg + self._rng.gauss(0, 2e-5), 7)
        if metric == Metric.GPS_LON_DEG:
            return round(self.lon_deg + self._rng.gauss(0, 2e-5), 7)
        raise SensorError(f"Simulated driver has no metric {metric!r}; choose from {', '.join(Metric)}")

    def read(self, *, now: datetime) -> list[Sample]:
        """Return one reading per configured metric."""
        return [Sample(m, self.value(m, now), now) for m in self.metrics]


@dataclass(frozen=True)
class CommandDriver:
    """Real hardware through a command or a file: each output line is ``metric value`` (or ``value``).

    Exactly one of ``command`` (run each read, e.g. a vendor CLI) or ``path`` (read each time, e.g. a
    1-wire sysfs file) is set; ``metric`` names lines that carry only a value; ``scale`` multiplies
    values (sysfs temperatures are in milli-degrees).
    """

    command: str | None = None
    path: Path | None = None
    metric: str | None = None
    scale: float = 1.0
    timeout_s: float = 10.0

    def _text(self) -> str:
        if self.command:
            try:
                done = subprocess.run(
                    shlex.split(self.command), capture_output=True, text=True, timeout=self.timeout_s, check=True
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise SensorError(f"Sensor command {self.command!r} failed: {exc}") from None
            return done.stdout
        if self.path:
            try:
                return self.path.read_text()
            except OSError as exc:
                raise SensorError(f"Sensor file {self.path} cannot be read: {exc}") from None
        raise SensorError("Command driver needs `command` or `path` in its [[sensors]] entry")

    def read(self, *, now: datetime) -> list[Sample]:
        """Run the command (or read the file) and parse each non-empty line.

        Raises:
            SensorError: the command failed or a line is not ``metric value``.
        """
        out = []
        for line in self._text().splitlines():
            parts = line.split()
            if not parts:
                continue
            try:
                if len(parts) == 1 and self.metric:
                    out.append(Sample(self.metric, float(parts[0]) * self.scale, now))
                elif len(parts) == 2:
                    out.append(Sample(parts[0], float(parts[1]) * self.scale, now))
                else:
                    raise ValueError(line)
            except ValueError:
                raise SensorError(
                    f"Sensor output line {line!r} is not 'metric value'; set `metric` for value-only output"
                ) from None
        return out


def utcnow() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)
