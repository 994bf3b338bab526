"""The demo's report: read back from the store what the pipeline produced, and print it as rich tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from usecases.demo_report import read_back
from usecases.demo_seed import DemoCast


@dataclass
class DemoReport:
    """Everything the demo produced, read back from the store for the report."""

    stack: dict[str, str] = field(default_factory=dict)
    farms: list[dict[str, Any]] = field(default_factory=list)
    herd: list[dict[str, Any]] = field(default_factory=list)
    crops: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    loan: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)


def collect(conn: psycopg.Connection, *, cast: DemoCast, decided: dict[str, Any], report: DemoReport) -> None:
    """Fill ``report`` from the database: what vision stored, what remote sensing stored, what credit decided."""
    stored = read_back(conn, cast=cast, decision_ids=[decided[str(f.farm_id)][0] for f in cast.farms])
    report.farms = [
        {"farm_id": str(f.farm_id), "name": f.name, "story": f.story, "declared_herd": f.declared_herd}
        for f in cast.farms
    ]
    report.herd = stored.herd
    report.crops = stored.crops
    report.decisions = []
    for farm in cast.farms:
        decision_id, decision, entry = decided[str(farm.farm_id)]
        report.decisions.append(
            {
                "farm": farm.name,
                "decision_id": str(decision_id),
                "status": decision.status,
                "limit": decision.limit,
                "stored_limit": stored.stored_limits[str(decision_id)],
                "score": decision.score,
                "verification": decision.verification_score,
                "fraud": decision.fraud_score,
                "binding": decision.binding_factor,
                "reasons": [r.message for r in decision.reasons],
                "missing": list(decision.missing),
                "counterfactuals": [c.message for c in decision.counterfactuals],
                "fraud_signals": [s.message for s in decision.fraud_signals],
                "audit_seq": entry.seq,
            }
        )
    report.alerts = stored.alerts


def render(report: DemoReport, console: Console) -> None:
    """Print the report as tables."""
    table = Table(title="Herd counts (vision worker, from real photos sent over MQTT)")
    for col in ("farm", "species", "photos", "max", "latest", "evidence thumbnail"):
        table.add_column(col)
    for h in report.herd:
        table.add_row(h["farm"], h["species"], str(h["photos"]), str(h["max"]), str(h["latest"]), str(h["evidence"]))
    console.print(table)

    table = Table(title="Cropped vs declared area (Sentinel-2 2018 season, exact partial pixels)")
    for col in ("farm", "field", "declared crop", "declared ha", "cropped ha", "grass ha", "ratio", "flags"):
        table.add_column(col)
    for c in report.crops:
        table.add_row(
            c["farm"],
            c["field"],
            str(c["declared_crop"]),
            f"{c['declared_ha']}",
            f"{c['cropped_ha']}",
            f"{c['grassland_ha']}",
            f"{c['ratio']}",
            ", ".join(c["flags"]),
        )
    console.print(table)

    table = Table(title="Credit decisions (policy ft-2025.1; each is an audit-chain entry)")
    for col in ("farm", "status", "limit", "score", "verified", "fraud", "bound by", "audit #"):
        table.add_column(col)
    for d in report.decisions:
        table.add_row(
            d["farm"],
            d["status"],
            f"{d['limit'].number} {d['limit'].currency}",
            str(d["score"]),
            f"{d['verification']:.2f}",
            f"{d['fraud']:.2f}",
            str(d["binding"]),
            str(d["audit_seq"]),
        )
    console.print(table)
    for d in report.decisions:
        console.print(f"[bold]{d['farm']}[/]: {d['status']}, limit {d['limit'].number} {d['limit'].currency}")
        for line in d["missing"]:
            console.print(f"  missing: {line}", highlight=False)
        for line in d["reasons"][:3]:
            console.print(f"  reason: {line}", highlight=False)
        for line in d["fraud_signals"][:2]:
            console.print(f"  fraud signal: {line}", highlight=False)
        for line in d["counterfactuals"][:2]:
            console.print(f"  what would change it: {line}", highlight=False)

    if report.loan:
        schedule = report.loan["schedule"]
        table = Table(title=f"Seasonal loan for {report.loan['farm']} (APR {schedule.apr})")
        for col in ("#", "due", "principal", "interest", "total", "balance after"):
            table.add_column(col, justify="right")
        for i in schedule.instalments:
            table.add_row(
                str(i.number),
                i.due_date.isoformat(),
                str(i.principal),
                str(i.interest),
                str(i.total),
                str(i.balance_after),
            )
        console.print(table)
        paid = report.loan["repayment"]
        status = report.loan["status"]
        console.print(
            "Repayment posted: "
            + ", ".join(f"{k} {v}" for k, v in paid.allocation.items() if v)
            + "; the same idempotency key again created a new payment: "
            f"{report.loan['replayed_created']}. "
            f"Loan status: {status.days_past_due} days past due, bucket {status.bucket}."
        )

    table = Table(title="Early warnings")
    for col in ("farm", "code", "severity", "message"):
        table.add_column(col)
    for a in report.alerts:
        table.add_row(a["farm"], a["code"], a["severity"], a["message"])
    console.print(table)
    audit = report.audit
    verdict = "[green]intact[/]" if audit.get("ok") else f"[red]BROKEN[/] {audit.get('problems')}"
    console.print(f"Audit chain: {audit.get('entries')} entries, signed checkpoint, verification {verdict}")
    console.print(f"Ingest: {report.ingest.get('stored')} of {report.ingest.get('sent')} messages stored exactly once")
