"""The open-alerts query (store.loans.list_alerts) and the count beside it agree."""

from store.farms import create_farm
from store.loans import list_alerts, open_alert_counts
from store.metrics import open_alert_count


def _alert(conn, farm, code, *, resolved=False):
    conn.execute(
        """INSERT INTO credit_alerts (farm_id, code, severity, message, resolved_at)
           VALUES (%s, %s, 'high', 'look', CASE WHEN %s THEN now() END)""",
        (farm, code, resolved),
    )


def test_open_alert_counts_per_farm(conn):
    before = open_alert_count(conn)
    one, two, quiet = (create_farm(conn, name=n).id for n in ("One", "Two", "Quiet"))
    _alert(conn, one, "a")
    _alert(conn, one, "b")
    _alert(conn, one, "c", resolved=True)
    _alert(conn, two, "a")
    _alert(conn, quiet, "z", resolved=True)
    assert open_alert_counts(conn, farm_ids=[one, two, quiet]) == {one: 2, two: 1}
    assert open_alert_counts(conn, farm_ids=[]) == {}
    assert len(list_alerts(conn, farm_ids=[one, two, quiet])) == 3
    assert open_alert_count(conn) == before + 3
