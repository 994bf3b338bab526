"""A farm's records: the frozen production record of a credit decision, and what the API and dashboard show.

The reads (herd, counted frames, sensor series, crop areas, device coverage, open alerts) are one store
query each; tenancy is checked by the caller before.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from credit.money import Amount
from credit.record import FarmRecord, PastLoan
from credit.schedule import Schedule, stored_schedule
from credit.servicing import past_loan
from store.coverage import DeviceCoverageRow, device_coverage
from store.credit_records import read_farm_record, read_farm_records
from store.crop_areas import FieldCropAreaRow, field_crop_areas
from store.herd import CountedFrame, HerdDayRow, counted_frames, evidence_path, herd_days
from store.loan_histories import StoredLoan, farms_loans
from store.loans import AlertRow, farm_loan_ids, list_alerts, load_payments
from store.sensor_series import SensorDayRow, sensor_days
from store.tenants import Principal, visible_farm_ids
from usecases.loans import load_schedule

log = logging.getLogger(__name__)

__all__ = [
    "coverage",
    "crop_areas",
    "evidence",
    "evidence_file",
    "herd",
    "load_farm_record",
    "load_farm_records",
    "loan_history",
    "open_alerts",
    "sensor_series",
]


def loan_history(
    conn: psycopg.Connection, *, farm_id: UUID | str, as_of: datetime, grace_days: int = 0
) -> tuple[PastLoan, ...]:
    """How each of the farm's loans started before ``as_of`` was repaid before it (``grace_days``: the policy's)."""
    end = as_of.astimezone(UTC).date()
    return tuple(
        past_loan(
            str(loan_id),
            schedule=load_schedule(conn, loan_id=loan_id),
            payments=load_payments(conn, loan_id=loan_id),
            as_of=end,
            grace_days=grace_days,
        )
        for loan_id in farm_loan_ids(conn, farm_id=farm_id, started_before=end)
    )


def load_farm_record(
    conn: psycopg.Connection, *, farm_id: UUID | str, as_of: datetime, window_days: int = 60, grace_days: int = 0
) -> FarmRecord:
    """The frozen record of ``farm_id`` over ``[as_of - window_days, as_of)`` with its loan history.

    ``grace_days`` is the lending policy's ``servicing.grace_days``: lateness within it is neither late
    nor days past due in the loan history.

    Raises:
        store.credit_records.FarmNotFoundError: no farm has ``farm_id``.
        credit.RecordError: ``as_of`` has no time zone or the window is out of range.
    """
    stored = read_farm_record(conn, farm_id=farm_id, as_of=as_of, window_days=window_days)
    record = dataclasses.replace(
        stored, past_loans=loan_history(conn, farm_id=stored.farm_id, as_of=stored.as_of, grace_days=grace_days)
    )
    log.info(
        "loaded record of farm %s: %d herd days, %d sensor days, %d devices, %d fields, %d loans (hash %s)",
        record.farm_id,
        len(record.herd_days),
        len(record.sensor_days),
        len(record.devices),
        len(record.fields),
        len(record.past_loans),
        record.record_hash()[:12],
    )
    return record


def _schedule(loan: StoredLoan) -> Schedule:
    """The schedule ``loan`` was opened with, as :func:`usecases.loans.load_schedule` rebuilds it."""
    t = loan.terms
    return stored_schedule(
        kind=t.kind,
        principal=Amount(t.principal, t.currency),
        rate=t.rate,
        months=t.months,
        start=t.start_date,
        grace_months=t.grace_months,
        harvest_months=tuple(t.harvest_months),
        upfront_fee=Amount(t.upfront_fee, t.currency),
        instalments=loan.instalments,
        apr=t.apr,
    )


def load_farm_records(
    conn: psycopg.Connection,
    *,
    farm_ids: Sequence[UUID | str],
    as_of: datetime,
    window_days: int = 60,
    grace_days: int = 0,
) -> dict[str, FarmRecord]:
    """The frozen records of ``farm_ids`` (see :func:`load_farm_record`), keyed by farm id text.

    The production records of the whole batch are read from the daily rollups with one query per table
    (:func:`store.credit_records.read_farm_records`); the loan history of every farm in one query
    (:func:`store.loan_histories.farms_loans`).

    Raises:
        store.credit_records.FarmNotFoundError: a farm id is unknown.
        credit.RecordError: ``as_of`` has no time zone or the window is out of range.
    """
    stored = list(read_farm_records(conn, farm_ids=farm_ids, as_of=as_of, window_days=window_days).values())
    if not stored:
        return {}
    end = stored[0].as_of.date()
    loans: dict[str, list[PastLoan]] = {r.farm_id: [] for r in stored}
    for loan in farms_loans(conn, farm_ids=list(loans), started_before=end):
        loans[str(loan.farm_id)].append(
            past_loan(
                str(loan.loan_id), schedule=_schedule(loan), payments=loan.payments, as_of=end, grace_days=grace_days
            )
        )
    records = {r.farm_id: dataclasses.replace(r, past_loans=tuple(loans[r.farm_id])) for r in stored}
    log.info(
        "loaded the records of %d farms as of %s (%d earlier loans)", len(records), end, sum(map(len, loans.values()))
    )
    return records


def herd(conn: psycopg.Connection, *, farm_id: UUID, days: int) -> list[HerdDayRow]:
    """Daily maximum head count per species over the last ``days``, by day then species."""
    return herd_days(conn, farm_id=farm_id, days=days)


def evidence(
    conn: psycopg.Connection, *, farm_id: UUID, limit: int, with_evidence_only: bool = False
) -> list[CountedFrame]:
    """The latest counted frames (only those with a thumbnail when ``with_evidence_only``), newest first."""
    return counted_frames(conn, farm_id=farm_id, limit=limit, with_evidence_only=with_evidence_only)


def evidence_file(conn: psycopg.Connection, *, principal: Principal, frame_sha256: str) -> str | None:
    """The stored thumbnail path of a frame of a farm ``principal`` may see with the ``records`` scope, or None."""
    farm_ids = visible_farm_ids(conn, principal=principal, scope="records")
    return evidence_path(conn, farm_ids=farm_ids, frame_sha256=frame_sha256)


def sensor_series(conn: psycopg.Connection, *, farm_id: UUID, metric: str, days: int) -> list[SensorDayRow]:
    """Daily mean, minimum and maximum of ``metric`` over the last ``days``."""
    return sensor_days(conn, farm_id=farm_id, metric=metric, days=days)


def crop_areas(conn: psycopg.Connection, *, farm_id: UUID) -> list[FieldCropAreaRow]:
    """Each field of the farm with its latest crop-area estimate, by external id."""
    return field_crop_areas(conn, farm_ids=[farm_id])


def coverage(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID], days: int, now: datetime | None = None
) -> list[DeviceCoverageRow]:
    """Coverage of the farms' devices over the ``days`` before ``now`` (see :mod:`store.coverage`)."""
    end = (now or datetime.now(UTC)).astimezone(UTC)
    return device_coverage(conn, farm_ids=farm_ids, start=end - timedelta(days=days), end=end)


def open_alerts(conn: psycopg.Connection, *, farm_ids: Sequence[UUID]) -> list[AlertRow]:
    """The open early-warning alerts of the farms, newest first."""
    return list_alerts(conn, farm_ids=list(farm_ids), open_only=True)
