"""Random loan books for the close-of-day tests: schedules, payments of every kind, several currencies."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.money import Amount, minor_unit
from credit.schedule import Schedule, build_schedule
from credit.servicing import Payment

CURRENCIES = ("KES", "UGX", "USD")
KINDS = ("annuity", "equal-principal", "flat", "seasonal")


@dataclass(frozen=True)
class BookLoan:
    """One random loan: its schedule, its payments and, maybe, the day it was written off."""

    schedule: Schedule
    payments: tuple[Payment, ...]
    written_off_on: date | None


def random_loan(rng: random.Random, *, first_start: date, number: int) -> BookLoan:
    """A loan with a random schedule and a random mix of on-time, late, partial, early, over- and payoff payments."""
    currency = rng.choice(CURRENCIES)
    step = Decimal(1).scaleb(-minor_unit(currency))
    principal = (Decimal(rng.randint(500, 400_000)) * Decimal(10) ** rng.randint(0, 2) / 10).quantize(step)
    months = rng.randint(1, 18)
    schedule = build_schedule(
        principal=Amount(principal, currency),
        rate=Decimal(rng.choice(("0", "0.12", "0.18", "0.365", "0.24"))),
        months=months,
        kind=rng.choice(KINDS),
        start=first_start + timedelta(days=rng.randint(0, 400)),
        harvest_months=tuple(sorted(rng.sample(range(1, 13), rng.randint(1, 3)))),
        grace_months=rng.randint(0, min(2, months - 1)),
        places=minor_unit(currency),
    )
    style = rng.choice(("on-time", "late", "partial", "early", "over", "payoff", "none", "mixed"))
    payments: list[Payment] = []
    for k, row in enumerate(schedule.instalments):
        kind = style if style != "mixed" else rng.choice(("on-time", "late", "partial", "early", "over", "skip"))
        if kind in ("none", "skip") or (kind == "payoff" and k > 0):
            continue
        shift = {"on-time": rng.randint(-2, 0), "late": rng.randint(1, 70), "early": -rng.randint(5, 25)}.get(
            kind, rng.randint(-10, 10)
        )
        amount = row.total
        if kind == "partial":
            amount = (row.total * Decimal(rng.randint(10, 90)) / 100).quantize(step)
        elif kind == "over":
            amount = (row.total * Decimal(rng.randint(110, 250)) / 100).quantize(step)
        elif kind == "payoff":
            amount = schedule.total_payable.number
        paid_on = max(schedule.start, row.due_date + timedelta(days=shift))
        if amount > 0:
            payments.append(Payment(paid_on, f"p{number}-{k}", Amount(amount, currency)))
    written_off = None
    if rng.random() < 0.1:
        written_off = schedule.start + timedelta(days=rng.randint(60, 500))
    return BookLoan(schedule, tuple(payments), written_off)


def random_book(seed: int, *, loans: int, first_start: date = date(2024, 1, 1)) -> list[BookLoan]:
    """``loans`` random loans from ``seed``."""
    rng = random.Random(seed)
    return [random_loan(rng, first_start=first_start, number=n) for n in range(loans)]
