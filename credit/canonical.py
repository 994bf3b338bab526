"""Canonical JSON: one byte string per value, so hashes name exactly which data and outputs were used.

Decimals are written as strings (never floats), datetimes as ISO 8601 in UTC, keys sorted, no spaces.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json", "sha256_hex", "to_plain"]


OMIT_IF_NONE = {"canonical": "omit_if_none"}
"""Field metadata for a field added after records were first stored: left out of the canonical JSON
while it is None, so every record stored before it existed still hashes as it did."""


@functools.cache
def _field_names(cls: type) -> tuple[tuple[str, bool], ...]:
    return tuple((f.name, f.metadata.get("canonical") == "omit_if_none") for f in dataclasses.fields(cls))


def _identity(value: Any) -> Any:
    return value


def _datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise TypeError(f"datetime {value!r} has no time zone; use timezone-aware UTC datetimes")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_PLAIN_TYPES = (str, int, bool, type(None))
"""Types whose values are their own plain value: :func:`_plain_item` returns them without a call."""


def _plain_item(item: Any) -> Any:
    return item if type(item) in _PLAIN_TYPES else to_plain(item)


def _dataclass(cls: type) -> Callable[[Any], Any]:
    names = _field_names(cls)

    def convert(value: Any) -> dict[str, Any]:
        out = {}
        for name, optional in names:
            item = getattr(value, name)
            if item is None:
                if not optional:
                    out[name] = None
            elif type(item) in _PLAIN_TYPES:
                out[name] = item
            else:
                out[name] = to_plain(item)
        return out

    return convert


def _named_tuple(value: Any) -> dict[str, Any]:
    return {name: to_plain(getattr(value, name)) for name in value._fields}


def _sequence(value: Any) -> list[Any]:
    return [_plain_item(v) for v in value]


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): to_plain(v) for k, v in value.items()}


def _float(value: float) -> Any:
    raise TypeError(f"float {value!r} cannot be hashed canonically; convert it with credit.money.D first")


def _converter(cls: type) -> Callable[[Any], Any] | None:
    """How values of exactly ``cls`` become plain values; the checks run in :func:`to_plain`'s documented order."""
    if cls is type(None) or issubclass(cls, bool | int | str):
        return _identity
    if issubclass(cls, Decimal):
        return str
    if issubclass(cls, float):
        return _float
    if issubclass(cls, datetime):
        return _datetime
    if issubclass(cls, date):
        return date.isoformat
    if hasattr(cls, "__dataclass_fields__") and not issubclass(cls, type):
        return _dataclass(cls)
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return _named_tuple
    if issubclass(cls, list | tuple):
        return _sequence
    if issubclass(cls, dict):
        return _mapping
    return None


_CONVERTERS: dict[type, Callable[[Any], Any]] = {}
"""The converter of each type met so far: a record holds thousands of values of a dozen types, so the
type checks run once per type instead of once per value."""


def to_plain(value: Any) -> Any:
    """Turn dataclasses, NamedTuples, Decimals, dates and tuples into JSON-ready values.

    None, bools, ints and strings stay as they are; Decimals become strings, datetimes ISO 8601 in UTC
    with ``Z``, dates ISO 8601, dataclasses and NamedTuples dicts of their fields, lists and tuples lists,
    dicts dicts with string keys.

    Raises:
        TypeError: ``value`` holds a float or an unsupported type (a programmer error).
    """
    cls = type(value)
    convert = _CONVERTERS.get(cls)
    if convert is None:
        convert = _converter(cls)
        if convert is None:
            raise TypeError(f"cannot serialise {cls.__name__} canonically")
        _CONVERTERS[cls] = convert
    return convert(value)


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (sorted keys, compact, UTF-8 characters kept)."""
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    """Return the hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
