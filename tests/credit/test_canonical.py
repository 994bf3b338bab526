"""Canonical JSON: the per-type dispatch of ``to_plain`` gives what the plain isinstance chain gave."""

import enum
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from credit import FarmRecord, decide_limit, load_policy
from credit.canonical import _field_names, canonical_json, to_plain
from credit.policy import DEFAULT_POLICY_PATH
from tests.credit.farms import farm, field, good_payer

POLICY = load_policy(DEFAULT_POLICY_PATH)


def reference_to_plain(value: Any) -> Any:
    """``to_plain`` as it was written before the dispatch table (commit d074ada): one isinstance chain."""
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
            name: reference_to_plain(item)
            for name, optional in _field_names(type(value))
            if (item := getattr(value, name)) is not None or not optional
        }
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: reference_to_plain(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return [reference_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): reference_to_plain(v) for k, v in value.items()}
    raise TypeError(f"cannot serialise {type(value).__name__} canonically")


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Pair(NamedTuple):
    left: Any
    right: Any


class Money(Decimal):
    pass


def _values() -> list[Any]:
    record = farm(fields=(field("f1", "maize", "2.0", "1.2"),), past_loans=good_payer(2))
    return [
        record,
        decide_limit(record, POLICY),
        FarmRecord.from_plain(json.loads(canonical_json(record))),
        {"a": [1, True, None, "x"], 2: (Decimal("1.50"), date(2025, 1, 2))},
        Pair(Colour.RED, Level.HIGH),
        [Money("3.10"), datetime(2025, 6, 30, 12, tzinfo=timezone(timedelta(hours=3)))],
        datetime(2025, 6, 30, 0, 0, 0, 1, tzinfo=UTC),
        (),
        {},
    ]


@pytest.mark.parametrize("value", _values(), ids=lambda v: type(v).__name__)
def test_to_plain_equals_the_isinstance_chain(value):
    assert to_plain(value) == reference_to_plain(value)
    assert canonical_json(value) == json.dumps(
        reference_to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "float 1.5 cannot be hashed"),
        ([Decimal("1"), 0.1], "float 0.1"),
        (datetime(2025, 1, 1), "has no time zone"),
        ({1, 2}, "cannot serialise set"),
        (Path("x"), "cannot serialise PosixPath"),
    ],
)
def test_values_without_a_canonical_form_are_refused(value, message):
    with pytest.raises(TypeError, match=message):
        reference_to_plain(value)
    with pytest.raises(TypeError, match=message):
        to_plain(value)


def test_a_record_stored_before_issue_14_still_hashes_as_it_was_stored():
    from credit.canonical import sha256_hex

    stored = json.loads((Path(__file__).parent / "stored" / "decision_before_issue_14.json").read_text())
    record = FarmRecord.from_plain(json.loads(stored["record"]))
    assert to_plain(record) == reference_to_plain(record)
    assert sha256_hex(stored["record"]) == stored["record_hash"] == record.record_hash()
