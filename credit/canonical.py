"""Canonical JSON: one byte string per value, so hashes name exactly which data and outputs were used.

Decimals are written as strings (never floats), datetimes as ISO 8601 in UTC, keys sorted, no spaces.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
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


def to_plain(value: Any) -> Any:
    """Turn dataclasses, NamedTuples, Decimals, dates and tuples into JSON-ready values.

    Raises:
        TypeError: ``value`` holds a float or an unsupported type (a programmer error).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        raise TypeError(f"float {value!r} cannot be hashed canonically; convert it with credit.money.D first")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError(f"datetime {value!r} has no time zone; use timezone-aware UTC datetimes")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        return {
            name: to_plain(item)
            for name, optional in _field_names(type(value))
            if (item := getattr(value, name)) is not None or not optional
        }
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: to_plain(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    raise TypeError(f"cannot serialise {type(value).__name__} canonically")


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (sorted keys, compact, UTF-8 characters kept)."""
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    """Return the hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
