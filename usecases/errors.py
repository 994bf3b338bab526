"""Errors of the use cases: a request the data cannot satisfy, in words the user can act on.

Exception tree::

    UseCaseError
    ├── DeviceNotFoundError (LookupError)       no device has that id
    ├── FarmFieldsNotFoundError (LookupError)   the farm has no fields to estimate
    ├── FarmNotFoundError (LookupError)         no farm has that id
    ├── IdempotencyKeyReusedError (ValueError)  an idempotency key was already used for another request
    ├── RefreshInputError (ValueError)          a credit refresh partition or decision time it cannot use
    ├── WriteOffConflictError (ValueError)      the loan is already written off from another day
    └── WriteOffDateError (ValueError)          a write-off dated before the loan started
"""

from __future__ import annotations


class UseCaseError(Exception):
    """Base class of the use cases' errors; the message says what happened and what to do."""


class DeviceNotFoundError(UseCaseError, LookupError):
    """No device has the given id."""


class FarmFieldsNotFoundError(UseCaseError, LookupError):
    """The farm has no fields with a geometry in the ``fields`` table."""


class FarmNotFoundError(UseCaseError, LookupError):
    """No farm has the given id."""


class IdempotencyKeyReusedError(UseCaseError, ValueError):
    """The idempotency key was already used by the organization for a different request."""


class RefreshInputError(UseCaseError, ValueError):
    """A credit refresh ``--partition`` that is not ``i/n`` with 1 <= i <= n, or an ``--as-of`` in the future."""


class WriteOffConflictError(UseCaseError, ValueError):
    """The loan is already written off from another day (a write-off is not moved)."""


class WriteOffDateError(UseCaseError, ValueError):
    """A write-off dated before the loan started."""
