"""Errors raised by the store.

Exception tree::

    StoreError
    ├── DatabaseUnreachableError   (ConnectionError)  the URL is wrong or the server is down
    ├── ExtensionPrivilegeError    (PermissionError)  TimescaleDB is available but cannot be created
    └── MigrationError
        └── MigrationChecksumError                    an applied migration file was edited
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every store error; its message says what happened and what to do."""


class DatabaseUnreachableError(StoreError, ConnectionError):
    """The database URL is wrong, or the server does not answer."""


class ExtensionPrivilegeError(StoreError, PermissionError):
    """The role may not create the TimescaleDB extension."""


class MigrationError(StoreError):
    """A migration failed; the transaction was rolled back."""


class MigrationChecksumError(MigrationError):
    """A migration file changed after it was applied."""
