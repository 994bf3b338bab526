"""``farmtrust loans``: the nightly close of day over the whole book, and writing a loan off."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from farmtrust.commands._common import DbUrl, PolicyFile, database_url, load_policy_option, load_settings
from farmtrust.console import progress_bar
from farmtrust.errors import FarmTrustError

if TYPE_CHECKING:
    from usecases.close_of_day import CloseOfDay

app = typer.Typer(
    help="Loans: close of day (accrual, days past due, buckets, PAR) over the book; write-offs.", no_args_is_help=True
)

_STEPS = {"replay": "Replaying loans with new repayments", "advance": "Advancing every loan to the day"}


class CloseDayError(FarmTrustError, ValueError):
    """The day asked for cannot be closed or written off; the message names the option or argument."""


def parse_as_of(text: str | None, *, today: date) -> date:
    """The day to close: ``--as-of`` (YYYY-MM-DD), by default yesterday (the last day that has ended, UTC).

    Raises:
        CloseDayError: not a date, or after ``today``.
    """
    if text is None:
        return today - timedelta(days=1)
    return parse_day(text, option="--as-of", today=today, fix="close a day that has come")


def parse_day(text: str, *, option: str, today: date, fix: str) -> date:
    """A YYYY-MM-DD day, not after ``today``; ``fix`` says what to do when it is.

    Raises:
        CloseDayError: not a date, or after ``today`` (names ``option``).
    """
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise CloseDayError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-06-30") from None
    if day > today:
        raise CloseDayError(f"{option} {day} is in the future (today is {today} UTC); {fix}")
    return day


def parse_loan_id(text: str) -> UUID:
    """The LOAN_ID argument as a UUID.

    Raises:
        CloseDayError: not a UUID.
    """
    try:
        return UUID(text.strip())
    except ValueError:
        raise CloseDayError(f"LOAN_ID {text!r} is not a loan id; pass the loan's UUID") from None


@app.command("write-off")
def write_off_command(
    loan_id: Annotated[str, typer.Argument(help="the loan's id (UUID)")],
    on: Annotated[str, typer.Option("--on", help="the first day the loan is written off, YYYY-MM-DD (UTC)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as one JSON object")] = False,
    db_url: DbUrl = None,
) -> None:
    """Write LOAN_ID off from --on: from that day close of day and PAR leave it out. Audited.

    Writing it off again from the same day changes nothing; from another day is refused.
    """
    from farmtrust.audit_checkpoints import entry_signer
    from store.db import connect
    from usecases.loans import write_off

    loan = parse_loan_id(loan_id)
    day = parse_day(on, option="--on", today=datetime.now(UTC).date(), fix="write a loan off from a day that has come")
    with database_url(db_url) as url, connect(url) as conn:
        done = write_off(conn, loan_id=loan, on=day, signer=entry_signer(load_settings()))
        conn.commit()
    if as_json:
        plain = {
            "loan_id": str(done.loan_id),
            "written_off_on": done.written_off_on.isoformat(),
            "created": done.created,
            "audit_seq": done.audit_seq,
        }
        typer.echo(json.dumps(plain, sort_keys=True))
        return
    what = "wrote off" if done.created else "already written off:"
    typer.echo(f"{what} loan {done.loan_id} from {done.written_off_on} (audit entry {done.audit_seq})")


@app.command("close-of-day")
def close_of_day_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="the day to close, YYYY-MM-DD (UTC); default: yesterday")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as one JSON object")] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="processes that replay ledgers; default: one per core"),
    ] = None,
    policy_file: PolicyFile = None,
    db_url: DbUrl = None,
) -> None:
    """Close a day for every loan: accrued interest, days past due, arrears bucket, and PAR30/PAR90.

    Stores one row per loan and day, and PAR per lender and currency; rerunning a day replaces them.
    Only loans with repayments since their last close are replayed; the others advance in SQL.
    """
    import psycopg

    from store.db import connect
    from usecases.close_of_day import close_of_day

    day = parse_as_of(as_of, today=datetime.now(UTC).date())
    policy = load_policy_option(policy_file)
    started = time.perf_counter()
    with database_url(db_url) as url, connect(url) as conn, progress_bar() as progress:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        tasks: dict[str, Any] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(_STEPS.get(step, step), total=total)
            progress.update(tasks[step], completed=done, total=total)

        result = close_of_day(
            conn, as_of=day, policy=policy, on_progress=report, workers=workers or os.cpu_count() or 1
        )
        conn.commit()
    seconds = time.perf_counter() - started
    if as_json:
        typer.echo(json.dumps(_plain(result, seconds), sort_keys=True))
        return
    typer.echo(_summary(result, seconds))


def _summary(result: CloseOfDay, seconds: float) -> str:
    pars = "; ".join(
        f"{c.currency} PAR30 {c.par30 * 100:.2f} % PAR90 {c.par90 * 100:.2f} % ({c.loans:,} loans)"
        for c in result.currencies
    )
    return (
        f"closed {result.as_of}: {result.loans:,} loans ({result.replayed:,} replayed) in {seconds:.1f} s"
        f"{'; ' + pars if pars else ''}"
    )


def _plain(result: CloseOfDay, seconds: float) -> dict[str, Any]:
    return {
        "as_of": result.as_of.isoformat(),
        "loans": result.loans,
        "replayed": result.replayed,
        "replayed_in_sql": result.replayed_in_sql,
        "seconds": round(seconds, 3),
        "currencies": [
            {
                "currency": c.currency,
                "loans": c.loans,
                "outstanding_principal": str(c.outstanding_principal),
                "par30": str(c.par30),
                "par90": str(c.par90),
            }
            for c in result.currencies
        ],
        "portfolios": [
            {
                "lender_organization_id": str(p.lender_organization_id) if p.lender_organization_id else None,
                "currency": p.currency,
                "loans": p.loans,
                "outstanding_principal": str(p.outstanding_principal),
                "at_risk_30": str(p.at_risk_30),
                "at_risk_90": str(p.at_risk_90),
                "par30": str(p.par30),
                "par90": str(p.par90),
            }
            for p in result.portfolios
        ],
    }
