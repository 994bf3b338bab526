"""Organisations that use FarmTrust and the scopes of a farmer's consent to a lender."""

from __future__ import annotations

from enum import StrEnum


class OrganizationKind(StrEnum):
    """What an organisation is, which decides what its API keys may do."""

    COOPERATIVE = "cooperative"
    """Registers member farms, their fields and devices, and grants consents on the farmers' behalf."""
    LENDER = "lender"
    """Sees consented farms, decides credit limits, opens loans and posts repayments."""
    ADMIN = "admin"
    """FarmTrust operations: creates organisations and sees everything."""


ORGANIZATION_KINDS: tuple[str, ...] = tuple(k.value for k in OrganizationKind)
"""Every organisation kind name."""


class ConsentScope(StrEnum):
    """What a farmer's consent lets a lender do with the farm's data."""

    RECORDS = "records"
    """Read the farm's production record (herd, sensors, fields)."""
    CREDIT = "credit"
    """Decide credit limits and open loans from the record."""


CONSENT_SCOPES: tuple[str, ...] = tuple(s.value for s in ConsentScope)
"""Every consent scope name (a consent with no scope given grants all of them)."""
