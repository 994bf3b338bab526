"""An idempotency key answers its retries with the first response and refuses another request."""

import pytest

from store.tenants import create_organization
from usecases.errors import IdempotencyKeyReusedError
from usecases.idempotency import remember, replay, request_hash


def test_a_retry_gets_the_first_response_and_another_request_a_conflict(conn):
    org = create_organization(conn, kind="lender", name="Idempotent lender")
    first = request_hash("credit-limit", "farm-1")
    assert replay(conn, organization_id=org, key="limit-0001", request_hash=first) is None
    remember(conn, organization_id=org, key="limit-0001", request_hash=first, response={"limit": "500.00"})
    assert replay(conn, organization_id=org, key="limit-0001", request_hash=first) == {"limit": "500.00"}
    with pytest.raises(IdempotencyKeyReusedError, match="'limit-0001' was already used for a different request"):
        replay(conn, organization_id=org, key="limit-0001", request_hash=request_hash("credit-limit", "farm-2"))


def test_the_request_hash_is_the_sha256_of_its_sorted_json():
    import hashlib

    # json.dumps(["credit-limit", "f"]) is '["credit-limit", "f"]'
    assert request_hash("credit-limit", "f") == hashlib.sha256(b'["credit-limit", "f"]').hexdigest()
