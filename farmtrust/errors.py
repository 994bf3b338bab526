"""Errors of the composition root.

Exception tree::

    FarmTrustError
    └── SettingsError (ValueError)   a setting is missing or inconsistent
"""

from __future__ import annotations


class FarmTrustError(Exception):
    """Base class of the composition root's errors."""


class SettingsError(FarmTrustError, ValueError):
    """A setting is missing or inconsistent; the message names it."""
