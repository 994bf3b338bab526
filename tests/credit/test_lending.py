"""Lending rules: which decisions may open which loans (hand-derived cases)."""

from decimal import Decimal

import pytest

from credit.errors import LoanRefusedError
from credit.lending import check_loan_opening
from credit.money import Amount

LIMIT = Amount(Decimal("10000.00"), "KES")


def _check(**overrides):
    args = {
        "decision_id": "d-1",
        "status": "approved",
        "limit": LIMIT,
        "principal": Amount(Decimal("4000.00"), "KES"),
        "open_principal": Decimal("0"),
        "reviewed_by": None,
    }
    check_loan_opening(**{**args, **overrides})


def test_an_approved_decision_opens_up_to_its_limit_with_what_is_still_open():
    _check()
    _check(principal=Amount(Decimal("10000.00"), "KES"))
    _check(open_principal=Decimal("6000.00"))  # 6,000 + 4,000 = 10,000: exactly the limit
    with pytest.raises(LoanRefusedError, match=r"at most 3999\.99 is left"):
        _check(open_principal=Decimal("6000.01"))
    with pytest.raises(LoanRefusedError, match=r"exceeds the approved limit 10000\.00 KES"):
        _check(principal=Amount(Decimal("10000.01"), "KES"))


def test_a_referred_decision_needs_a_reviewer_and_a_declined_one_opens_nothing():
    with pytest.raises(LoanRefusedError, match="referred for fraud review; pass reviewed_by"):
        _check(status="referred")
    _check(status="referred", reviewed_by="credit officer")
    with pytest.raises(LoanRefusedError, match="decision d-1 is declined"):
        _check(status="declined", reviewed_by="credit officer")


def test_a_principal_in_another_currency_is_refused():
    with pytest.raises(LoanRefusedError, match="principal currency UGX differs from the limit's KES"):
        _check(principal=Amount(Decimal("4000"), "UGX"))
