from datetime import UTC, datetime, timedelta
from decimal import Decimal

from credit import load_policy
from credit.alerts import Alert
from credit.policy import DEFAULT_POLICY_PATH
from store.counts import CountRow, write_counts
from store.crop_areas import NewEstimate, insert_estimates
from store.loans import raise_alerts
from tests.signers import TEST_SIGNER
from tests.usecases.test_demo_seed import PARCELS
from usecases.credit_limits import decide_credit_limit
from usecases.demo_report import read_back
from usecases.demo_seed import seed_demo

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _estimate(field_id, cropped_ha):
    return NewEstimate(
        external_field_id=field_id,
        area_ha=3.0,
        cropped_ha=cropped_ha,
        grassland_ha=0.0,
        unknown_ha=0.0,
        covered_fraction=1.0,
        declared_ha=3.0,
        ratio=cropped_ha / 3.0,
        ratio_low=None,
        ratio_high=None,
        clear_observations=5,
        flags=("low_ratio",),
        method_version="t",
    )


def test_read_back_what_the_pipeline_stored(conn):
    cast = seed_demo(conn, run_tag="rb", parcels=PARCELS, now=NOW).cast
    f1, f2, _f3 = cast.farms
    t0 = NOW - timedelta(days=3)
    rows = [
        CountRow(
            time=t0 + timedelta(days=day),
            farm_id=f1.farm_id,
            species="sheep",
            count=count,
            method="snapshot",
            frame_sha256=frame,
            evidence_path=f"ev/{frame}.jpg",
        )
        for day, count, frame in ((0, 8, "a"), (1, 6, "b"))
    ]
    write_counts(conn=conn, rows=rows)
    insert_estimates(conn, estimates=[_estimate("P1", 1.5)], farm_id=f1.farm_id)
    raise_alerts(
        conn, farm_id=f2.farm_id, alerts=[Alert("herd_decline", "high", "sheep herd down 80% (5 to 1)", "x", {}, NOW)]
    )
    decisions = [
        decide_credit_limit(
            conn, signer=TEST_SIGNER, farm_id=f.farm_id, as_of=NOW, policy=load_policy(DEFAULT_POLICY_PATH)
        )
        for f in cast.farms
    ]
    got = read_back(conn, cast=cast, decision_ids=[d.decision_id for d in decisions])
    assert got.herd == [
        {"farm": f1.name, "species": "sheep", "photos": 2, "max": 8, "latest": 6, "evidence": "ev/b.jpg"}
    ]
    # only P1 has an estimate: 1.5 of 3 ha cropped, ratio 0.5
    assert got.crops == [
        {
            "farm": f1.name,
            "field": "Maize #P1",
            "declared_crop": "maize",
            "declared_ha": Decimal("3.0000"),
            "cropped_ha": Decimal("1.5000"),
            "grassland_ha": Decimal("0.0000"),
            "ratio": Decimal("0.5000"),
            "flags": ["low_ratio"],
        }
    ]
    assert got.alerts == [
        {"farm": f2.name, "code": "herd_decline", "severity": "high", "message": "sheep herd down 80% (5 to 1)"}
    ]
    assert got.stored_limits == {str(d.decision_id): d.decision.limit.number for d in decisions}
