"""Lending terms: schedule kinds, allocation components, alert severities and the statuses of decisions and loans."""

from __future__ import annotations

from enum import StrEnum


class ScheduleKind(StrEnum):
    """How a loan's repayments are laid out over its months."""

    ANNUITY = "annuity"
    """The same instalment every month (principal rising, interest falling)."""
    EQUAL_PRINCIPAL = "equal-principal"
    """The same principal every month plus interest on the declining balance."""
    FLAT = "flat"
    """Interest on the original principal every month, principal in equal parts."""
    SEASONAL = "seasonal"
    """Interest monthly, principal in the harvest months, when the farm has income."""


SCHEDULE_KINDS: tuple[str, ...] = tuple(k.value for k in ScheduleKind)
"""Every schedule kind name."""


class AllocationComponent(StrEnum):
    """The part of a loan's dues that (part of) a repayment settles."""

    PENALTY = "penalty"
    """Late fees charged on overdue instalments."""
    FEES = "fees"
    """Scheduled fees."""
    INTEREST = "interest"
    """Scheduled interest."""
    PRINCIPAL = "principal"
    """Scheduled principal."""
    UNAPPLIED = "unapplied"
    """What is left of a repayment after every due component is settled (overpayment)."""


DUE_COMPONENTS: tuple[str, ...] = tuple(c.value for c in AllocationComponent if c is not AllocationComponent.UNAPPLIED)
"""The components a repayment is allocated to, in the default order (penalty first, principal last)."""

ALLOCATION_COMPONENTS: tuple[str, ...] = tuple(c.value for c in AllocationComponent)
"""Every component a stored allocation may name: the due components and ``unapplied``."""


class AllocationStrategy(StrEnum):
    """Where the part of a repayment beyond what is due goes (a product's choice, in the policy)."""

    STANDARD = "standard"
    """An in-advance payment settles the next instalments like on-time ones: fees, interest, then principal."""
    EARLY_PAYMENT = "early-payment"
    """An in-advance payment settles the current instalment's fees and interest, then prepays principal."""


ALLOCATION_STRATEGIES: tuple[str, ...] = tuple(s.value for s in AllocationStrategy)
"""Every allocation strategy name; ``standard`` is the default."""


class PrepaymentRecalculation(StrEnum):
    """How the instalments after the current one change when principal is prepaid."""

    NONE = "none"
    """The schedule stands: interest of later instalments stays as scheduled."""
    REDUCE_AMOUNT = "reduce-amount"
    """Same number of instalments, each with less principal and the interest of the lower balance."""
    REDUCE_TERM = "reduce-term"
    """Same instalments, the last ones dropped: the prepayment repays the last principal first."""


PREPAYMENT_RECALCULATIONS: tuple[str, ...] = tuple(r.value for r in PrepaymentRecalculation)
"""Every prepayment recalculation name; ``none`` is the default."""


class ArrearsBucket(StrEnum):
    """How late a loan is on a day, by its days past due (the buckets of portfolio-at-risk reports)."""

    CURRENT = "current"
    """Nothing is past due (an instalment within its grace days is not)."""
    DPD_1_30 = "1-30"
    """1 to 30 days past due."""
    DPD_31_60 = "31-60"
    """31 to 60 days past due."""
    DPD_61_90 = "61-90"
    """61 to 90 days past due."""
    DPD_OVER_90 = "90+"
    """More than 90 days past due."""


ARREARS_BUCKETS: tuple[str, ...] = tuple(b.value for b in ArrearsBucket)
"""Every arrears bucket name, least late first."""


class Severity(StrEnum):
    """How serious an early warning or a fraud signal is, mildest first."""

    INFO = "info"
    """Worth knowing; no action needed."""
    WARNING = "warning"
    """Watch the farm; a review may be due."""
    HIGH = "high"
    """Act: review the farm before lending more."""
    CRITICAL = "critical"
    """Stop: freeze new draws until the cause is cleared."""


SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
"""Every severity name, mildest first."""

SEVERITY_RANK: dict[str, int] = {s: rank for rank, s in enumerate(SEVERITIES)}
"""Each severity's rank (0 for ``info``); a higher rank is more serious."""


class DecisionStatus(StrEnum):
    """The outcome of a credit decision."""

    APPROVED = "approved"
    """A limit was granted without review."""
    REFERRED = "referred"
    """A limit was computed but a credit officer must review it before a loan opens."""
    DECLINED = "declined"
    """No credit."""
    INSUFFICIENT_DATA = "insufficient_data"
    """The record is too thin to decide."""


DECISION_STATUSES: tuple[str, ...] = tuple(s.value for s in DecisionStatus)
"""Every decision status name."""


class LoanStatus(StrEnum):
    """Whether a loan still runs."""

    ACTIVE = "active"
    """Repayments are still due."""
    CLOSED = "closed"
    """Fully repaid (or written off)."""


LOAN_STATUSES: tuple[str, ...] = tuple(s.value for s in LoanStatus)
"""Every loan status name."""


class CreditLineStatus(StrEnum):
    """Whether a revolving credit line may be drawn."""

    ACTIVE = "active"
    """New draws are allowed up to the limit."""
    FROZEN = "frozen"
    """New draws are stopped (an early warning or a zero limit)."""


CREDIT_LINE_STATUSES: tuple[str, ...] = tuple(s.value for s in CreditLineStatus)
"""Every credit line status name."""
