"""An independent reference of the servicing rules in exact fractions, for the property tests.

Written from the rules in the README ("Credit: how a repayment is applied"), not from the engine: each
instalment is a small dict of Fractions, amounts are rounded to the cent only where the rules say
(accrued interest half-even, recomputed interest half-even, reduce-amount shares down).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from fractions import Fraction

PARTS = ("penalty", "fees", "interest", "principal")


def cents_half_even(x: Fraction) -> Fraction:
    """``x`` rounded half-even to the cent (Python's ``round`` of a Fraction rounds half to even)."""
    return Fraction(round(x * 100), 100)


def cents_down(x: Fraction) -> Fraction:
    """``x`` rounded down to the cent."""
    return Fraction(math.floor(x * 100), 100)


def replay(schedule, payments, as_of: date, *, order, grace_days, late_fee, strategy, recalculation):
    """Allocations by payment key, and (days past due, arrears, outstanding principal, payoff) on ``as_of``."""
    rate = Fraction(schedule.rate)
    starts = [schedule.start] + [r.due_date for r in schedule.instalments]
    book = [
        {
            "due": r.due_date,
            "start": starts[i],
            "days": r.days,
            "interest_total": Fraction(r.interest),
            "owe": {
                "penalty": Fraction(0),
                "fees": Fraction(r.fees),
                "interest": Fraction(r.interest),
                "principal": Fraction(r.principal),
            },
            "fined": False,
        }
        for i, r in enumerate(schedule.instalments)
    ]
    grace = timedelta(days=grace_days)

    def owed(b):
        return sum(b["owe"].values(), Fraction(0))

    def fine(on):
        for b in book:
            scheduled = b["owe"]["fees"] + b["owe"]["interest"] + b["owe"]["principal"]
            if on > b["due"] + grace and not b["fined"] and scheduled > 0 and late_fee > 0:
                b["owe"]["penalty"] += Fraction(late_fee)
                b["fined"] = True

    def accrued_unpaid(on):
        period = next((b for b in book if b["due"] > on), None)
        if period is None:
            return Fraction(0)
        accrued = cents_half_even(period["interest_total"] * (on - period["start"]).days / period["days"])
        return max(accrued - (period["interest_total"] - period["owe"]["interest"]), Fraction(0))

    def payoff(on):
        total = sum((owed(b) for b in book if b["due"] <= on), Fraction(0))
        total += sum((b["owe"]["principal"] for b in book if b["due"] > on), Fraction(0))
        return total + accrued_unpaid(on)

    def pay(b, parts, amount, got):
        for part in order:
            if part in parts:
                x = min(amount, b["owe"][part])
                b["owe"][part] -= x
                got[part] += x
                amount -= x
        return amount

    allocations = {}
    for p in sorted(payments):
        if p.paid_on > as_of:
            continue
        fine(p.paid_on)
        got = dict.fromkeys(PARTS, Fraction(0))
        left = Fraction(p.amount.number)
        for part in order:
            for b in book:
                if b["due"] <= p.paid_on:
                    x = min(left, b["owe"][part])
                    b["owe"][part] -= x
                    got[part] += x
                    left -= x
        ahead = [b for b in book if b["due"] > p.paid_on]
        if left > 0 and ahead:
            needed = payoff(p.paid_on)
            if left >= needed:
                interest = accrued_unpaid(p.paid_on)
                for b in ahead:
                    got["principal"] += b["owe"]["principal"]
                    b["owe"]["principal"] = b["owe"]["interest"] = b["owe"]["fees"] = Fraction(0)
                got["interest"] += interest
                left -= needed
            else:
                owing = [b for b in ahead if owed(b) > 0]
                if owing and recalculation != "none":
                    left = pay(owing[0], ("fees", "interest", "principal"), left, got)
                    rest = owing[1:]
                    later_principal = sum((b["owe"]["principal"] for b in rest), Fraction(0))
                    prepaid = min(left, later_principal)
                    if prepaid > 0:
                        _relay(rest, prepaid, later_principal, rate, recalculation)
                        got["principal"] += prepaid
                        left -= prepaid
                elif owing and strategy == "early-payment":
                    left = pay(owing[0], ("fees", "interest"), left, got)
                    for b in owing:
                        left = pay(b, ("principal",), left, got)
                else:
                    for b in owing:
                        left = pay(b, ("fees", "interest", "principal"), left, got)
        allocations[p.key] = {**got, "unapplied": left}
    fine(as_of)
    late = [b for b in book if b["due"] + grace < as_of and owed(b) > 0]
    dpd = (as_of - late[0]["due"]).days if late else 0
    arrears = sum((owed(b) for b in late), Fraction(0))
    outstanding = sum((b["owe"]["principal"] for b in book), Fraction(0))
    return allocations, (dpd, arrears, outstanding, payoff(as_of))


def _relay(rest, prepaid, total, rate, recalculation):
    if recalculation == "reduce-term":
        for b in reversed(rest):
            x = min(prepaid, b["owe"]["principal"])
            b["owe"]["principal"] -= x
            prepaid -= x
    else:
        keep = total - prepaid
        carrying = [b for b in rest if b["owe"]["principal"] > 0]
        for b in carrying[:-1]:
            b["owe"]["principal"] = cents_down(b["owe"]["principal"] * keep / total)
        carrying[-1]["owe"]["principal"] = keep - sum((b["owe"]["principal"] for b in carrying[:-1]), Fraction(0))
    balance = sum((b["owe"]["principal"] for b in rest), Fraction(0))
    for b in rest:
        b["interest_total"] = min(b["interest_total"], cents_half_even(balance * rate * b["days"] / 365))
        b["owe"]["interest"] = b["interest_total"]
        balance -= b["owe"]["principal"]
