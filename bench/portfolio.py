"""Portfolio benchmark: the weekly refresh of every line and the nightly close of day, on generated books.

Run ``python -m bench.portfolio [--quick] [--db-url URL]``. It runs the two halves one after the other,
each in a database of its own (created from the URL and dropped at the end; without ``--db-url`` an
embedded PostgreSQL), prints each half's figures, then one JSON object as its last line with at least:

- ``refresh_farms``, ``refresh_farms_per_s``, ``baseline_farms_per_s`` (:mod:`bench.portfolio_refresh`:
  ``farmtrust credit refresh`` over 20,000 consenting farms with 60 days of rollups; baseline: the same
  rollup aggregation queries in SQL, no decisions);
- ``close_of_day_loans``, ``close_of_day_s``, ``baseline_close_of_day_s`` (:mod:`bench.portfolio_close_of_day`:
  ``farmtrust loans close-of-day`` over 1,000,000 loans, the night after a first close; baseline: one
  plain SQL pass over the same instalment and repayment rows).

``--quick`` runs 1,000 farms and 50,000 loans so that both halves fit in 3 minutes; each half also runs
alone, at its own sizes: ``python -m bench.portfolio_refresh`` / ``python -m bench.portfolio_close_of_day``.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from bench import portfolio_close_of_day, portfolio_refresh

log = logging.getLogger("bench.portfolio")

QUICK_FARMS = 1_000
QUICK_LOANS = 50_000


def run(db_url: str, *, quick: bool) -> dict[str, Any]:
    """Both halves against the server at ``db_url``; their figures in one dict."""
    figures: dict[str, Any] = {"bench": "portfolio", "quick": quick}
    refresh = portfolio_refresh.run(db_url, quick=quick, farms=QUICK_FARMS if quick else None)
    print("refresh:", json.dumps(refresh, sort_keys=True), flush=True)
    close = portfolio_close_of_day.run(db_url, quick=quick, loans=QUICK_LOANS if quick else None)
    print("close of day:", json.dumps(close, sort_keys=True), flush=True)
    # each half's own keys, named after the half where they would clash (generate_s, ratio, workers...)
    figures.update({k if k.startswith(("refresh_", "baseline_")) else f"refresh_{k}": v for k, v in refresh.items()})
    figures.update(
        {
            k if k.startswith(("close_of_day_", "baseline_", "first_close_")) else f"close_of_day_{k}": v
            for k, v in close.items()
        }
    )
    return figures


def main() -> None:
    """Parse options, run both halves, print the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 farms and 50,000 loans (under 3 minutes)")
    parser.add_argument("--db-url", help="admin URL of a PostgreSQL (default: an embedded one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    server = None
    db_url = args.db_url
    if db_url is None:
        from farmtrust.services import start_embedded_postgres

        db_url, server = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="ft-bench-pg-")) / "data")
    try:
        figures = run(db_url, quick=args.quick)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
