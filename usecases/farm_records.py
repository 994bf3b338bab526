"""A farm's frozen production record: what the store holds, plus how its earlier loans were repaid."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from uuid import UUID

import psycopg

from credit.record import FarmRecord, PastLoan
from credit.servicing import past_loan
from store.credit_records import read_farm_record
from store.loans import farm_loan_ids, load_payments
from usecases.loans import load_schedule

log = logging.getLogger(__name__)

__all__ = ["load_farm_record", "loan_history"]


def loan_history(conn: psycopg.Connection, *, farm_id: UUID | str, as_of: datetime) -> tuple[PastLoan, ...]:
    """How each of the farm's loans started before ``as_of`` was repaid before it."""
    end = as_of.astimezone(UTC).date()
    return tuple(
        past_loan(
            str(loan_id),
            schedule=load_schedule(conn, loan_id=loan_id),
            payments=load_payments(conn, loan_id=loan_id),
            as_of=end,
        )
        for loan_id in farm_loan_ids(conn, farm_id=farm_id, started_before=end)
    )


def load_farm_record(
    conn: psycopg.Connection, *, farm_id: UUID | str, as_of: datetime, window_days: int = 60
) -> FarmRecord:
    """The frozen record of ``farm_id`` over ``[as_of - window_days, as_of)`` with its loan history.

    Raises:
        store.credit_records.FarmNotFoundError: no farm has ``farm_id``.
        credit.RecordError: ``as_of`` has no time zone or the window is out of range.
    """
    stored = read_farm_record(conn, farm_id=farm_id, as_of=as_of, window_days=window_days)
    record = dataclasses.replace(stored, repayments=loan_history(conn, farm_id=stored.farm_id, as_of=stored.as_of))
    log.info(
        "loaded record of farm %s: %d herd days, %d sensor days, %d devices, %d fields, %d loans (hash %s)",
        record.farm_id,
        len(record.herd_days),
        len(record.sensor_days),
        len(record.devices),
        len(record.fields),
        len(record.repayments),
        record.record_hash()[:12],
    )
    return record
