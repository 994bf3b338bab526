"""Telemetry metrics: their names (units in the name), the unit a reading carries and its possible values."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Metric(StrEnum):
    """A telemetry metric a device reports."""

    BARN_TEMPERATURE_C = "barn_temperature_c"
    """Air temperature in the barn, degrees Celsius."""
    HUMIDITY_PCT = "humidity_pct"
    """Relative humidity in the barn, percent."""
    WATER_FLOW_L_MIN = "water_flow_l_min"
    """Drinking-water flow to the animals, litres per minute."""
    FEED_WEIGHT_KG = "feed_weight_kg"
    """Weight of feed left in the hopper, kilograms."""
    GPS_LAT_DEG = "gps_lat_deg"
    """The device's latitude, degrees (WGS 84)."""
    GPS_LON_DEG = "gps_lon_deg"
    """The device's longitude, degrees (WGS 84)."""


class MetricRange(NamedTuple):
    """The unit of a metric and its physically possible values (inclusive)."""

    unit: str
    low: float
    high: float


METRIC_RANGES: dict[str, MetricRange] = {
    Metric.BARN_TEMPERATURE_C: MetricRange("degC", -50.0, 70.0),
    Metric.HUMIDITY_PCT: MetricRange("%", 0.0, 100.0),
    Metric.WATER_FLOW_L_MIN: MetricRange("L/min", 0.0, 1000.0),
    Metric.FEED_WEIGHT_KG: MetricRange("kg", 0.0, 100_000.0),
    Metric.GPS_LAT_DEG: MetricRange("deg", -90.0, 90.0),
    Metric.GPS_LON_DEG: MetricRange("deg", -180.0, 180.0),
}
"""Unit and physical range of every :class:`Metric`; ingest quarantines a reading outside it."""

GPS_METRICS: tuple[str, ...] = (Metric.GPS_LAT_DEG.value, Metric.GPS_LON_DEG.value)
"""The metrics that locate a device rather than measure the farm."""
