"""Plain factories for the credit refresh tests: consenting farms of one cooperative and their lenders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.tenants import create_organization, grant_consent
from tests.credit.farms_db import make_farm

FAR_FUTURE = datetime.now(UTC) + timedelta(days=3650)


def make_book(conn, *, farms: int, lenders: int = 1, cattle: int = 12) -> tuple[list[str], list]:
    """``farms`` member farms of one cooperative, each consenting (scope credit) to each of ``lenders`` lenders.

    Returns the farm ids and the lender ids.
    """
    coop = create_organization(conn, kind="cooperative", name="Refresh coop")
    lender_ids = [create_organization(conn, kind="lender", name=f"Refresh lender {i}") for i in range(lenders)]
    farm_ids = []
    for i in range(farms):
        farm = make_farm(conn, cattle=cattle + i % 5, declared=cattle + 2)
        conn.execute("UPDATE farms SET cooperative_id = %s WHERE id = %s", (coop, farm))
        for lender in lender_ids:
            grant_consent(conn, farm_id=farm, lender_id=lender, granted_by=coop, expires_at=FAR_FUTURE)
        farm_ids.append(farm)
    return farm_ids, lender_ids


def decisions_per_pair(conn) -> dict[tuple[str, str], int]:
    """How many decisions each (farm, lender) pair has."""
    rows = conn.execute(
        "SELECT farm_id::text, lender_organization_id::text, count(*) FROM credit_decisions GROUP BY 1, 2"
    ).fetchall()
    return {(f, lender): n for f, lender, n in rows}
