"""store/idempotency.py against the real PostgreSQL: responses are kept per organization and key."""

import threading
import time

import psycopg

from store.idempotency import find_response, lock_key, remember_response
from store.tenants import create_organization


def test_a_response_is_found_only_under_its_organization_and_key(conn):
    one = create_organization(conn, kind="lender", name="Idem one")
    two = create_organization(conn, kind="lender", name="Idem two")
    assert find_response(conn, organization_id=one, key="key-0001") is None
    remember_response(conn, organization_id=one, key="key-0001", request_hash="a" * 64, response={"limit": "10.00"})
    stored = find_response(conn, organization_id=one, key="key-0001")
    assert (stored.request_hash, stored.status_code, stored.response) == ("a" * 64, 201, {"limit": "10.00"})
    assert find_response(conn, organization_id=two, key="key-0001") is None
    assert find_response(conn, organization_id=one, key="key-0002") is None


def test_a_second_holder_of_a_key_waits_for_the_first_transaction(fresh_db_url):
    with psycopg.connect(fresh_db_url) as setup:
        org = create_organization(setup, kind="lender", name="Idem lock")
        setup.commit()
    order: list[str] = []
    first_holds = threading.Event()

    def second() -> None:
        with psycopg.connect(fresh_db_url) as c:
            first_holds.wait()
            lock_key(c, organization_id=org, key="same-key")
            order.append("second got the lock")

    thread = threading.Thread(target=second)
    thread.start()
    with psycopg.connect(fresh_db_url) as first:
        lock_key(first, organization_id=org, key="same-key")
        first_holds.set()
        # the second connection is blocked on the lock: it shows as waiting in pg_locks
        for _ in range(200):
            waiting = first.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if waiting.fetchone()[0] == 1:
                break
            time.sleep(0.05)
        order.append("first commits")
        first.commit()
    thread.join(timeout=30)
    assert order == ["first commits", "second got the lock"]
