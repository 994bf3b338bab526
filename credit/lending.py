"""Lending rules: when a credit decision may open a loan."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from credit.errors import LoanRefusedError
from credit.money import Amount
from vocabulary.lending import DecisionStatus

__all__ = ["check_loan_opening"]


def check_loan_opening(
    *,
    decision_id: UUID | str,
    status: str,
    limit: Amount,
    principal: Amount,
    open_principal: Decimal,
    reviewed_by: str | None = None,
) -> None:
    """Refuse a loan of ``principal`` from a decision unless every lending rule allows it.

    A ``referred`` decision needs ``reviewed_by`` (the person who cleared the fraud review); any other
    status than approved or referred opens nothing. The principal must be in the limit's currency, and
    with ``open_principal`` (of the decision's loans still active) stay within the limit.

    Raises:
        LoanRefusedError: a rule refuses the loan; the message says which and what is left.
    """
    if status == DecisionStatus.REFERRED and not reviewed_by:
        raise LoanRefusedError(f"decision {decision_id} is referred for fraud review; pass reviewed_by after review")
    if status not in (DecisionStatus.APPROVED, DecisionStatus.REFERRED):
        raise LoanRefusedError(f"decision {decision_id} is {status}; only an approved limit can open a loan")
    if principal.currency != limit.currency:
        raise LoanRefusedError(f"principal currency {principal.currency} differs from the limit's {limit.currency}")
    if principal.number > limit.number:
        raise LoanRefusedError(
            f"principal={principal.number} exceeds the approved limit {limit.number} {limit.currency}"
        )
    if open_principal + principal.number > limit.number:
        raise LoanRefusedError(
            f"principal={principal.number} with the {open_principal} {limit.currency} still open under decision "
            f"{decision_id} exceeds its approved limit {limit.number} {limit.currency}; "
            f"at most {limit.number - open_principal} is left"
        )
