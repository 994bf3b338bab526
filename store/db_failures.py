"""Tell a database failure worth retrying from a message the database will never accept.

PostgreSQL raises many unrelated conditions as :class:`psycopg.OperationalError`: a lost connection
(worth retrying) but also ``index row size`` (SQLSTATE 54000) or ``out of shared memory`` (53200),
which the same message hits again on every retry. Only the connection-level and transient ones are
retried; anything else means the message itself is poison.
"""

from __future__ import annotations

import psycopg

TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure: the transaction may succeed when run again
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (the server is starting up)
    }
)
"""SQLSTATEs outside class 08 (connection exception) that a retry of the same batch can get past."""


def is_transient(exc: BaseException, conn: psycopg.Connection | None = None) -> bool:
    """Return True when ``exc`` is a connection-level or transient failure, so the batch should be retried.

    Args:
        exc: the error a database call raised.
        conn: the connection it ran on; a closed or broken one always means "retry on a new connection".
    """
    if not isinstance(exc, psycopg.Error):
        return False
    if conn is not None and (conn.closed or conn.broken):
        return True
    state = exc.sqlstate
    if state is None:  # raised by libpq itself: refused, reset, closed, timed out
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith("08") or state in TRANSIENT_SQLSTATES
