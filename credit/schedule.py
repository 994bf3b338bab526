"""Repayment schedules: annuity, equal principal, flat and seasonal, with actual/365 interest and a disclosed APR.

Every schedule is exact to the currency's minor unit: interest is rounded per instalment, and the last
instalment takes whatever rounding left over, so the principal column always sums to the loan.

- ``annuity``: equal instalments on a declining balance (the instalment solves the actual/365 day counts);
- ``equal-principal``: the same principal each month plus the interest on the declining balance;
- ``flat``: interest on the original principal for the whole tenor, spread equally;
- ``seasonal``: interest only in most months, principal due in the harvest months (and the last month).

``grace_months`` makes the first months interest-only for every type. The APR is the effective annual
rate that discounts the instalments, at their actual day counts, to the amount disbursed net of fees.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from credit.canonical import to_plain
from credit.errors import ScheduleError
from credit.money import ONE, ZERO, Amount, quantize
from vocabulary.lending import SCHEDULE_KINDS

SCHEDULE_TYPES = SCHEDULE_KINDS
DAYS_PER_YEAR = Decimal(365)
MAX_PRINCIPAL = Decimal("1e15")
"""The largest principal a schedule accepts (in major units), far above any farm loan and any currency."""
FIRST_START = date(2000, 1, 1)
LAST_START = date(2100, 12, 31)
"""Disbursement dates a schedule accepts: the last instalment of the longest tenor stays a valid date."""

__all__ = [
    "FIRST_START",
    "LAST_START",
    "MAX_PRINCIPAL",
    "SCHEDULE_TYPES",
    "Instalment",
    "Schedule",
    "add_months",
    "build_schedule",
    "effective_apr",
    "stored_schedule",
]


@dataclass(frozen=True)
class Instalment:
    """One instalment: what is due on ``due_date`` and the principal balance after it is paid."""

    number: int
    due_date: date
    days: int
    principal: Decimal
    interest: Decimal
    fees: Decimal
    total: Decimal
    balance_after: Decimal


@dataclass(frozen=True)
class Schedule:
    """A repayment schedule with its totals and disclosed APR (a fraction: ``0.1956`` is 19.56 %)."""

    kind: str
    principal: Amount
    rate: Decimal
    months: int
    start: date
    grace_months: int
    harvest_months: tuple[int, ...]
    upfront_fee: Amount
    instalments: tuple[Instalment, ...]
    total_interest: Amount
    total_payable: Amount
    apr: Decimal
    day_count: str = "actual/365"

    def to_plain(self) -> dict[str, Any]:
        """The schedule as JSON-ready values (Decimals as strings)."""
        plain: dict[str, Any] = to_plain(self)
        return plain


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def effective_apr(*, net_disbursed: Decimal, start: date, payments: list[tuple[date, Decimal]]) -> Decimal:
    """The effective annual rate ``a`` with ``sum(p / (1 + a) ** (days / 365)) = net_disbursed``, to 6 places."""
    if net_disbursed <= ZERO or not payments:
        return ZERO
    with localcontext() as ctx:
        ctx.prec = 40
        times = [(Decimal((d - start).days) / DAYS_PER_YEAR, p) for d, p in payments]

        def present_value(rate: Decimal) -> Decimal:
            log = (ONE + rate).ln()
            return sum(((-t * log).exp() * p for t, p in times), ZERO)

        low, high = Decimal("-0.99"), Decimal(100)
        for _ in range(90):
            mid = (low + high) / 2
            if present_value(mid) > net_disbursed:
                low = mid
            else:
                high = mid
        apr = ((low + high) / 2).quantize(Decimal("0.000001"))
        return apr.copy_abs() if apr.is_zero() else apr  # never "-0.000000" for a 0 % loan


def _check(
    principal: Amount,
    rate: Decimal,
    months: int,
    kind: str,
    grace_months: int,
    harvest_months: tuple[int, ...],
    max_rate: Decimal,
    upfront_fee: Amount | None,
    start: date,
    places: int,
) -> None:
    if principal.number <= ZERO:
        raise ScheduleError(f"principal={principal.number} must be greater than zero; give the amount lent, e.g. 50000")
    if principal.number > MAX_PRINCIPAL:
        raise ScheduleError(f"principal={principal.number} is above the largest accepted amount {MAX_PRINCIPAL:,f}")
    if principal.number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ScheduleError(
            f"principal={principal.number} has more than {places} decimals; "
            f"{principal.currency} amounts are in whole minor units"
        )
    if not FIRST_START <= start <= LAST_START:
        raise ScheduleError(
            f"start={start} is out of range; use a disbursement date from {FIRST_START} to {LAST_START}"
        )
    if not ZERO <= rate <= max_rate:
        raise ScheduleError(
            f"rate={rate} is out of range 0..{max_rate}; give the nominal annual rate as a fraction, e.g. 0.18 for 18 %"
        )
    if not 1 <= months <= 120:
        raise ScheduleError(f"months={months} is out of range; use a tenor of 1 to 120 months")
    if kind not in SCHEDULE_TYPES:
        raise ScheduleError(f"type={kind!r} is unknown; use one of {', '.join(SCHEDULE_TYPES)}")
    if not 0 <= grace_months < months:
        raise ScheduleError(f"grace_months={grace_months} must be >= 0 and less than months={months}")
    if any(not 1 <= m <= 12 for m in harvest_months):
        raise ScheduleError(f"harvest_months={list(harvest_months)} must be month numbers 1..12, e.g. 7,8")
    if kind == "seasonal" and not harvest_months:
        raise ScheduleError("harvest_months is empty; a seasonal schedule needs the harvest months, e.g. 7,8")
    if upfront_fee is not None and (
        upfront_fee.currency != principal.currency or not ZERO <= upfront_fee.number < principal.number
    ):
        raise ScheduleError(f"upfront_fee={upfront_fee} must be in {principal.currency} and below the principal")


def _annuity_payment(balance: Decimal, rate: Decimal, days: list[int]) -> Decimal:
    factors = [ONE + rate * Decimal(d) / DAYS_PER_YEAR for d in days]
    growth = ONE
    for f in factors:
        growth *= f
    tail, acc = ZERO, ONE
    for f in reversed(factors):
        tail += acc
        acc *= f
    return balance * growth / tail


def build_schedule(
    *,
    principal: Amount,
    rate: Decimal,
    months: int,
    kind: str,
    start: date,
    harvest_months: tuple[int, ...] = (),
    grace_months: int = 0,
    upfront_fee: Amount | None = None,
    max_rate: Decimal = ONE,
    places: int = 2,
) -> Schedule:
    """Build a repayment schedule with instalments due monthly from one month after ``start``.

    Args:
        principal: the amount lent.
        rate: nominal annual interest rate as a fraction (``Decimal("0.18")``), day count actual/365.
        months: tenor in months (one instalment a month).
        kind: ``annuity``, ``equal-principal``, ``flat`` or ``seasonal``.
        start: disbursement date.
        harvest_months: for ``seasonal``, the months (1..12) in which principal falls due.
        grace_months: the first months are interest-only.
        upfront_fee: a fee withheld at disbursement (raises the APR).
        max_rate: the policy's highest allowed rate.
        places: decimals of the currency's minor unit.

    Raises:
        ScheduleError: principal not positive, above :data:`MAX_PRINCIPAL` or finer than ``places``
            decimals; start outside :data:`FIRST_START`..:data:`LAST_START`; rate out of range, unknown
            type, bad tenor or harvest months.
    """
    harvest_months = tuple(sorted(set(harvest_months)))
    _check(principal, rate, months, kind, grace_months, harvest_months, max_rate, upfront_fee, start, places)
    q = Decimal(1).scaleb(-places)
    dates = [add_months(start, i) for i in range(months + 1)]
    days = [(dates[i] - dates[i - 1]).days for i in range(1, months + 1)]
    loan = principal.number.quantize(q)
    amortizing = list(range(grace_months + 1, months + 1))
    if kind == "seasonal":
        amortizing = [n for n in amortizing if dates[n].month in harvest_months or n == months]
    # shares round down, so the last instalment takes a non-negative remainder
    share = (loan / len(amortizing)).quantize(q, rounding=ROUND_DOWN)
    payment = quantize(_annuity_payment(loan, rate, days[grace_months:]), places=places) if kind == "annuity" else ZERO
    flat_interest = quantize(loan * rate * Decimal(sum(days)) / DAYS_PER_YEAR, places=places)
    flat_share = (flat_interest / months).quantize(q, rounding=ROUND_DOWN)
    balance = loan
    rows = []
    for n in range(1, months + 1):
        d = days[n - 1]
        if kind == "flat":
            interest = flat_share if n < months else flat_interest - flat_share * (months - 1)
        else:
            interest = quantize(balance * rate * Decimal(d) / DAYS_PER_YEAR, places=places)
        if n == months:
            part = balance
        elif n not in amortizing:
            part = ZERO.quantize(q)
        elif kind == "annuity":
            part = min(max(payment - interest, ZERO), balance)
        else:
            part = min(share, balance)
        balance -= part
        rows.append(Instalment(n, dates[n], d, part, interest, ZERO.quantize(q), part + interest, balance))
    fee = upfront_fee or Amount(ZERO, principal.currency)
    total_interest = sum((r.interest for r in rows), ZERO)
    apr = effective_apr(net_disbursed=loan - fee.number, start=start, payments=[(r.due_date, r.total) for r in rows])
    return Schedule(
        kind,
        Amount(loan, principal.currency),
        rate,
        months,
        start,
        grace_months,
        harvest_months,
        fee,
        tuple(rows),
        Amount(total_interest, principal.currency),
        Amount(total_interest + loan, principal.currency),
        apr,
    )


def stored_schedule(
    *,
    kind: str,
    principal: Amount,
    rate: Decimal,
    months: int,
    start: date,
    grace_months: int,
    harvest_months: tuple[int, ...],
    upfront_fee: Amount,
    instalments: tuple[Instalment, ...],
    apr: Decimal,
) -> Schedule:
    """A schedule as it was stored: its terms and instalments kept as they are, its totals summed from them."""
    interest = sum((i.interest for i in instalments), ZERO)
    return Schedule(
        kind,
        principal,
        rate,
        months,
        start,
        grace_months,
        tuple(harvest_months),
        upfront_fee,
        tuple(instalments),
        Amount(interest, principal.currency),
        Amount(interest + principal.number, principal.currency),
        apr,
    )
