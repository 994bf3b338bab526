"""``farmtrust demo``: the whole pipeline on one machine, from signed device data to a loan.

Steps (each shows progress): start or use the services, migrate, seed a cooperative, a lender and
member farms with real field boundaries, stream 60 days of signed telemetry and real herd photos
through MQTT into ingest, count the animals with the vision model, estimate each field's cropped
area from a real Sentinel-2 season, decide a credit limit per farm, open a seasonal loan, post a
repayment, let one farm's herd drop raise an early warning, and verify the audit chain.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from farmtrust.demo_report import DemoReport
from farmtrust.demo_samples import FLANDERS_2018, flanders_parcels, sheep_frames
from farmtrust.settings import Settings
from usecases.demo_seed import DemoCast, DemoFarm, seed_demo

log = logging.getLogger(__name__)

WINDOW_DAYS = 60


def plan_frames(cast: DemoCast, *, now: datetime) -> tuple[dict[str, list], list]:
    """Which real photo each farm's camera sends on which day; and the later herd-drop photos of farm 2.

    Farm 1 photographs its flock (8-11 sheep) every few days; farm 2's flock (4-5 sheep) is counted
    over the window and drops to 1-2 sheep after the decision; farm 3 shows 1-2 sheep while declaring 12.
    """
    from farmtrust.demo_feed import FramePlan

    photos = sheep_frames()
    big = [p for p, n in photos if n >= 8]
    mid = [p for p, n in photos if 4 <= n <= 5]
    small = [p for p, n in photos if n <= 2]
    f1, f2, f3 = cast.farms
    plans: dict[str, list] = {str(f.farm_id): [] for f in cast.farms}

    def spread(farm: DemoFarm, paths: list[Path], *, first_day: int, every: int) -> None:
        for i, path in enumerate(paths):
            at = (now - timedelta(days=first_day - i * every)).replace(hour=10, minute=0, second=0, microsecond=0)
            plans[str(farm.farm_id)].append(FramePlan(at, path))

    spread(f1, big, first_day=50, every=10)
    spread(f2, mid, first_day=45, every=9)
    spread(f3, small[:5], first_day=40, every=8)
    drop = [FramePlan(now - timedelta(minutes=30 - i), path) for i, path in enumerate(small[5:8])]
    return plans, drop


def _count_frames(settings: Settings, *, db_url: str) -> int:
    """Run the vision worker over every pending frame; return how many it counted."""
    from farmtrust.workers.vision import VisionWorker, load_intervals, profile_counters
    from vision.model import LivestockModel

    model = LivestockModel.from_path(
        settings.vision.model_path, thresholds_file=settings.vision.thresholds_file, max_imgsz=settings.vision.max_imgsz
    )
    intervals = load_intervals(model=model, path=settings.vision.intervals_file)
    worker = VisionWorker(
        db_url=db_url,
        model=model,
        frame_dir=settings.frame_dir,
        evidence_dir=settings.evidence_dir,
        batch_size=8,
        intervals=intervals,
        profile_counters=profile_counters(model=model, intervals=intervals),
    )
    counted = 0
    with psycopg.connect(db_url) as conn:
        while True:
            result = worker.run_round(conn)
            counted += result.counted
            if result.counted + result.quarantined == 0:
                return counted


def _estimate_crops(conn: psycopg.Connection, cast: DemoCast) -> None:
    from remote_sensing.scenes import load_scenes
    from usecases.crop_areas import estimate_farm_crop_areas

    scenes = load_scenes([FLANDERS_2018 / "stac" / "items.json"])
    for farm in cast.farms:
        estimate_farm_crop_areas(conn, farm_id=farm.farm_id, scenes=scenes)


def _decide(conn: psycopg.Connection, cast: DemoCast, *, now: datetime, policy: Any, signer: Any) -> dict[str, Any]:
    from usecases.credit_limits import decide_credit_limit

    out = {}
    for farm in cast.farms:
        limit = decide_credit_limit(
            conn,
            farm_id=farm.farm_id,
            as_of=now,
            policy=policy,
            signer=signer,
            window_days=WINDOW_DAYS,
            lender_organization_id=cast.lender_id,
        )
        out[str(farm.farm_id)] = (limit.decision_id, limit.decision, limit.audit_entry)
    return out


def run_demo(settings: Settings, *, progress: Any, report: DemoReport, now: datetime | None = None) -> DemoReport:
    """Run every step against the services in ``settings`` (URLs set); fill and return ``report``.

    ``progress`` is a rich ``Progress``; each step is a task on it.
    """
    from credit import Amount, D, load_policy
    from credit.policy import DEFAULT_POLICY_PATH
    from farmtrust.audit_checkpoints import ensure_server_key, entry_signer
    from farmtrust.demo_feed import IngestThread, feed, wait_stored
    from farmtrust.demo_report import collect
    from store.audit import verify_log, write_checkpoint
    from store.migrations import migrate
    from usecases.credit_limits import raise_early_warnings
    from usecases.loans import get_loan_status, open_loan, post_repayment

    assert settings.db.url is not None
    db_url = settings.db.url
    now = now or datetime.now(UTC)
    run_tag = uuid.uuid4().hex[:6]
    policy = load_policy(DEFAULT_POLICY_PATH)
    signer = entry_signer(settings)  # the server's key (created on first use): it signs every audit entry

    step = progress.add_task("Migrating the database", total=1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn)
    progress.update(step, completed=1, description="Database migrated")

    step = progress.add_task("Seeding cooperative, lender, farms, fields, devices", total=1)
    with psycopg.connect(db_url) as conn:
        seeded = seed_demo(conn, run_tag=run_tag, parcels=flanders_parcels(), now=now)
        conn.commit()
    cast = seeded.cast
    report.api_keys.update(seeded.api_keys)
    progress.update(step, completed=1, description=f"Seeded {len(cast.farms)} farms with fields and signed devices")

    ingest = IngestThread(settings)
    ingest.start()
    try:
        plans, drop = plan_frames(cast, now=now)
        step = progress.add_task("Devices drain 60 days of signed telemetry and herd photos over MQTT", total=None)
        spool_dir = settings.data_dir / "demo-spool" / run_tag  # the devices' spools (sequence numbers) persist
        sent = feed(
            cast.farms,
            settings=settings,
            spool_dir=spool_dir,
            now=now,
            days=WINDOW_DAYS,
            frames=plans,
            on_progress=lambda done, total: progress.update(step, completed=done, total=total),
        )
        stored = wait_stored(db_url, device_ids=[f.device.device_id for f in cast.farms], expected=sent)
        progress.update(step, description=f"Ingest stored {stored} of {sent} signed messages exactly once")
        report.ingest = {"sent": sent, "stored": stored}

        step = progress.add_task("Vision model counts the animals in every photo", total=1)
        counted = _count_frames(settings, db_url=db_url)
        progress.update(step, completed=1, description=f"Vision counted {counted} photos")

        step = progress.add_task("Remote sensing: cropped area per field from the Sentinel-2 season", total=1)
        with psycopg.connect(db_url) as conn:
            _estimate_crops(conn, cast)
            conn.commit()
        progress.update(step, completed=1, description="Cropped area estimated for every field")

        step = progress.add_task("Credit engine decides a limit for each farm", total=1)
        with psycopg.connect(db_url) as conn:
            decided = _decide(
                conn, cast, now=datetime.now(UTC), policy=policy, signer=signer
            )  # after every estimate landed
            conn.commit()
        progress.update(step, completed=1, description=f"{len(decided)} credit decisions, each in the audit chain")

        step = progress.add_task("Opening a seasonal loan and posting a repayment", total=1)
        borrower = cast.farms[0]
        decision_id, decision, _entry = decided[str(borrower.farm_id)]
        with psycopg.connect(db_url) as conn:
            if decision.status in ("approved", "referred") and decision.limit.number > 0:
                principal = min(decision.limit.number, D("60000"))
                opened = open_loan(
                    conn,
                    decision_id=decision_id,
                    principal=Amount(principal, decision.limit.currency),
                    rate=D("0.18"),
                    months=12,
                    kind="seasonal",
                    start=now.date(),
                    policy=policy,
                    signer=signer,
                    harvest_months=(7, 8),
                    reviewed_by="demo credit officer" if decision.status == "referred" else None,
                )
                first = opened.schedule.instalments[0]
                paid = post_repayment(
                    conn,
                    loan_id=opened.loan_id,
                    idempotency_key=f"mpesa-{run_tag}-1",
                    amount=Amount(first.total, decision.limit.currency),
                    paid_at=datetime.combine(first.due_date, datetime.min.time(), UTC),
                    policy=policy,
                    signer=signer,
                )
                again = post_repayment(
                    conn,
                    loan_id=opened.loan_id,
                    idempotency_key=f"mpesa-{run_tag}-1",
                    amount=Amount(first.total, decision.limit.currency),
                    paid_at=datetime.combine(first.due_date, datetime.min.time(), UTC),
                    policy=policy,
                    signer=signer,
                )
                status = get_loan_status(conn, loan_id=opened.loan_id, as_of=first.due_date, policy=policy)
                report.loan = {
                    "farm": borrower.name,
                    "loan_id": str(opened.loan_id),
                    "schedule": opened.schedule,
                    "repayment": paid,
                    "replayed_created": again.created,
                    "status": status,
                }
            conn.commit()
        progress.update(step, completed=1, description="Seasonal loan opened; repayment posted once (replay ignored)")

        step = progress.add_task("Farm 2's camera sees a smaller flock", total=1)
        dropper = cast.farms[1]
        sent_drop = feed(
            [dropper], settings=settings, spool_dir=spool_dir, now=now, days=0, frames={str(dropper.farm_id): drop}
        )
        before = report.ingest["stored"]
        wait_stored(db_url, device_ids=[f.device.device_id for f in cast.farms], expected=before + sent_drop)
        _count_frames(settings, db_url=db_url)
        with psycopg.connect(db_url) as conn:
            later = datetime.now(UTC)
            for farm in cast.farms:
                _id, decision, _e = decided[str(farm.farm_id)]
                herds = decision.valuation.herds if decision.valuation else ()
                baseline = {h.species: h.head for h in herds if h.head > 0}
                raise_early_warnings(
                    conn,
                    farm_id=farm.farm_id,
                    as_of=later,
                    policy=policy,
                    baseline_herd=baseline,
                    window_days=WINDOW_DAYS,
                )
            conn.commit()
        progress.update(step, completed=1, description="Early warnings raised from the new counts")
    finally:
        ingest.stop()

    step = progress.add_task("Verifying the audit chain", total=1)
    with psycopg.connect(db_url) as conn:
        write_checkpoint(conn, private_key=ensure_server_key(settings.audit_key_file, origin=settings.audit.origin))
        conn.commit()
        audit = verify_log(conn, public_key=signer.public_key)
    report.audit = {"ok": audit.ok, "entries": audit.entries, "problems": [str(p) for p in audit.problems]}
    progress.update(step, completed=1, description=f"Audit chain verified: {audit.entries} entries")

    with psycopg.connect(db_url) as conn:
        collect(conn, cast=cast, decided=decided, report=report)
    return report
