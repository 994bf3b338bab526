"""``farmtrust credit``: decide a farm's limit, refresh every consenting farm's line, print repayment schedules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from farmtrust.commands._common import DbUrl, PolicyFile, database_url, load_policy_option, load_settings
from farmtrust.console import console
from vocabulary.lending import SCHEDULE_KINDS

if TYPE_CHECKING:
    from credit.decision import Decision

app = typer.Typer(help="Credit: explained limits and repayment schedules.", no_args_is_help=True)


def _parse_rate(text: str) -> Decimal:
    """The nominal annual rate of ``--rate``: a fraction (``0.18``) or one percentage (``18%``).

    A bare ``1`` is refused: it could mean 1 % or 100 %.
    """
    from credit.errors import ScheduleError
    from credit.money import D, MoneyError

    value = text.strip()
    percent = value.endswith("%")
    body = value.removesuffix("%").strip()
    try:
        number = D(body, field="--rate")
    except MoneyError:
        raise ScheduleError(f"--rate {text!r} is not a number; write 0.18 or 18%") from None
    if not percent and number == 1:
        raise ScheduleError(f"--rate {text!r} is ambiguous; write 1% (0.01) or 100%")
    return number / 100 if percent else number


@app.command()
def limit(
    farm_id: Annotated[str, typer.Argument(help="the farm's id (UUID)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the full decision as JSON")] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="decision time (UTC); default: now", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    ] = None,
    window_days: Annotated[int | None, typer.Option("--window-days", min=1, max=730, help="record window")] = None,
    record: Annotated[bool, typer.Option("--record", help="store the decision and its audit entry")] = False,
    policy_file: PolicyFile = None,
    db_url: DbUrl = None,
) -> None:
    """Decide FARM_ID's credit limit from its verified record, with every factor and reason."""
    from credit.canonical import to_plain
    from farmtrust.audit_checkpoints import entry_signer
    from store.db import connect
    from usecases.credit_limits import decide_credit_limit

    policy = load_policy_option(policy_file)
    when = (as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of) or datetime.now(UTC)
    with database_url(db_url) as url, connect(url) as conn:
        limit = decide_credit_limit(
            conn,
            farm_id=farm_id,
            as_of=when,
            policy=policy,
            signer=entry_signer(load_settings()) if record else None,
            window_days=window_days,
            record=record,
        )
        if record:
            conn.commit()
    decision, decision_id = limit.decision, limit.decision_id
    if as_json:
        plain = to_plain(decision)
        plain["decision_id"] = str(decision_id) if decision_id else None
        typer.echo(json.dumps(plain, indent=2, sort_keys=True, ensure_ascii=False))
        return
    _print_decision(decision, decision_id)


@app.command()
def refresh(
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="the cycle's decision day (00:00 UTC); default: the Monday of the current ISO week",
        ),
    ] = None,
    partition: Annotated[
        str, typer.Option("--partition", help="this worker's share of the farms, i/n (by a hash of the farm id)")
    ] = "1/1",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=5000, help="farms per batch (one transaction each)")
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object")] = False,
    policy_file: PolicyFile = None,
    db_url: DbUrl = None,
) -> None:
    """Decide every farm with a valid credit consent again, for each lender, once per cycle (resumable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from farmtrust.audit_checkpoints import entry_signer
    from farmtrust.console import err_console
    from farmtrust.credit_refresh import run_refresh
    from store.db import connect
    from usecases.credit_refresh import Partition, cycle_as_of

    share = Partition.parse(partition)
    when = cycle_as_of(as_of.date() if as_of else None)
    policy = load_policy_option(policy_file)
    with (
        database_url(db_url) as url,
        connect(url) as conn,
        Progress(
            TextColumn("farms"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
        ) as progress,
    ):
        task = progress.add_task("farms", total=None)
        summary = run_refresh(
            conn,
            as_of=when,
            policy=policy,
            signer=entry_signer(load_settings()),
            partition=share,
            batch_size=batch_size,
            on_start=lambda farms: progress.update(task, total=farms),
            on_batch=lambda farms: progress.advance(task, farms),
        )
    if as_json:
        typer.echo(json.dumps(summary.to_plain(), sort_keys=True))
    else:
        console.print(summary.line(), highlight=False, soft_wrap=True)
        for farm, reason in sorted(summary.failed.items()):
            err_console.print(f"[red]error:[/] farm {farm} was not decided: {reason}", highlight=False)
    if summary.failed:
        raise typer.Exit(1)


def _print_decision(d: Decision, decision_id: object) -> None:
    from rich.table import Table

    console.print(
        f"[bold]{d.status}[/]  limit [bold]{d.limit}[/]  score {d.score}  "
        f"verification {d.verification_score}  fraud {d.fraud_score}",
        highlight=False,
    )
    where = f", decision {decision_id}" if decision_id else ""
    console.print(f"policy {d.policy_version}, record {d.record_hash[:12]}{where}", highlight=False)
    if d.factors:
        table = Table("factor", "value", "how", "binds")
        for f in d.factors:
            value = str(f.amount) if f.amount is not None else f"x {f.multiplier}"
            table.add_row(f.name, value, f.explanation, "*" if f.name == d.binding_factor else "")
        console.print(table)
    for r in d.reasons:
        console.print(f"- {r.message}", highlight=False)
    for s in d.fraud_signals:
        console.print(f"! fraud {s.code} ({s.severity}): {s.message}", highlight=False)
    for c in d.counterfactuals:
        console.print(f"> {c.message}", highlight=False)


@app.command()
def schedule(
    principal: Annotated[str, typer.Option("--principal", help="amount lent, e.g. 50000")],
    rate: Annotated[str, typer.Option("--rate", help="nominal annual rate: 0.18 or 18%")],
    months: Annotated[int, typer.Option("--months", help="tenor in months")],
    kind: Annotated[str, typer.Option("--type", help=" | ".join(SCHEDULE_KINDS))] = "annuity",
    harvest_months: Annotated[
        str | None, typer.Option("--harvest-months", help="seasonal: months principal falls due, e.g. 7,8")
    ] = None,
    grace_months: Annotated[int, typer.Option("--grace-months", help="interest-only months at the start")] = 0,
    start: Annotated[
        datetime | None, typer.Option("--start", formats=["%Y-%m-%d"], help="disbursement date; default today")
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code")] = "KES",
    as_json: Annotated[bool, typer.Option("--json", help="print the schedule as JSON")] = False,
) -> None:
    """Print a repayment schedule with actual/365 interest and its APR."""
    from credit.errors import ScheduleError
    from credit.money import Amount, minor_unit
    from credit.schedule import build_schedule

    months_list: tuple[int, ...] = ()
    if harvest_months:
        try:
            months_list = tuple(int(m) for m in harvest_months.replace(" ", "").split(",") if m)
        except ValueError:
            raise ScheduleError(f"--harvest-months {harvest_months!r}; write month numbers like 7,8") from None
    sched = build_schedule(
        principal=Amount.of(principal, currency.upper(), field="--principal"),
        rate=_parse_rate(rate),
        months=months,
        kind=kind,
        start=start.date() if start else date.today(),
        harvest_months=months_list,
        grace_months=grace_months,
        places=minor_unit(currency),
    )
    if as_json:
        typer.echo(json.dumps(sched.to_plain(), indent=2, sort_keys=True))
        return
    from rich.table import Table

    table = Table("#", "due", "days", "principal", "interest", "total", "balance", title=f"{kind} schedule")
    for i in sched.instalments:
        table.add_row(
            str(i.number),
            i.due_date.isoformat(),
            str(i.days),
            f"{i.principal:,}",
            f"{i.interest:,}",
            f"{i.total:,}",
            f"{i.balance_after:,}",
        )
    console.print(table)
    console.print(
        f"total interest {sched.total_interest}, total payable {sched.total_payable}, "
        f"APR {(sched.apr * 100).quantize(Decimal('0.01'))}% (effective annual, actual/365)",
        highlight=False,
    )
