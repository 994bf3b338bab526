"""Regenerate the golden schedules: ``python -m tests.credit.golden.make_golden`` (review the diff!)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from credit import Amount, D, build_schedule

HERE = Path(__file__).resolve().parent

# One case per schedule type: 120,000 KES at 18 % over 12 months from 31 Jan 2025 (month-end clamping),
# the seasonal one with principal due in the maize harvest months (July, August) and 2 grace months.
CASES = {
    "annuity": {"kind": "annuity"},
    "equal-principal": {"kind": "equal-principal"},
    "flat": {"kind": "flat"},
    "seasonal": {"kind": "seasonal", "harvest_months": (7, 8), "grace_months": 2},
}


def build(name: str) -> dict:
    case = CASES[name]
    return build_schedule(
        principal=Amount(D("120000"), "KES"),
        rate=D("0.18"),
        months=12,
        start=date(2025, 1, 31),
        upfront_fee=Amount(D("1200"), "KES"),
        **case,
    ).to_plain()


if __name__ == "__main__":
    for name in CASES:
        (HERE / f"{name}.json").write_text(json.dumps(build(name), indent=2, sort_keys=True) + "\n")
