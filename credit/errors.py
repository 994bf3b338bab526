"""Errors raised by the credit engine: only for bad input or programmer error, never for a verdict.

A low score, a fraud signal or too little data is a value in the :class:`~credit.decision.Decision`,
not an exception. Exception tree::

    CreditError
    ├── PolicyError      (ValueError)  the policy file is malformed or names an unknown field
    ├── RecordError      (ValueError)  the farm record is empty, inconsistent or names an unknown species/crop
    ├── MoneyError       (ValueError)  an amount is not a number, or currencies are mixed
    ├── ScheduleError    (ValueError)  principal, rate, tenor or harvest months are out of range
    ├── PaymentError     (ValueError)  a payment is zero, negative, in another currency, or has no time zone
    ├── LoanRefusedError (ValueError)  a decision cannot open this loan (not approved, above its limit)
    └── AuditError       (ValueError)  an audit entry or checkpoint cannot be built (bad key, bad payload)
"""

from __future__ import annotations


class CreditError(Exception):
    """Base class of every credit error; the message names the field, the value and the fix."""


class PolicyError(CreditError, ValueError):
    """The credit policy is malformed: a missing table, a value out of range, an unknown name."""


class RecordError(CreditError, ValueError):
    """The farm record cannot be scored: empty, inconsistent, or an unknown species or crop."""


class MoneyError(CreditError, ValueError):
    """An amount is not a valid decimal number, or two currencies were mixed."""


class ScheduleError(CreditError, ValueError):
    """A repayment schedule was asked with an invalid principal, rate, tenor or harvest months."""


class PaymentError(CreditError, ValueError):
    """A payment is not positive, or its currency differs from the loan's."""


class LoanRefusedError(CreditError, ValueError):
    """A loan cannot be opened from this decision: not approved, above its limit, or in another currency."""


class AuditError(CreditError, ValueError):
    """An audit entry or checkpoint cannot be built or checked (bad payload, bad key)."""
