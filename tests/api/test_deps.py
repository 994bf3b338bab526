"""The connection dependency under more concurrent requests than connections and worker threads."""

from __future__ import annotations

import asyncio

import anyio.to_thread
import httpx
import psycopg

from api.app import create_app
from farmtrust.settings import Settings
from store.db import open_pool
from tests.api.factories import org_with_key


def test_requests_beyond_the_pool_queue_instead_of_stalling(fresh_db_url, mqtt_url, tmp_path):
    """24 requests at once, 2 connections, 3 worker threads: every request is answered 200.

    Were requests to wait for a connection inside worker threads, the three threads would all block in
    ``getconn`` while the two requests holding connections waited for a thread to finish on: every
    request would stall until the pool timed out and the answers would be 503s.
    """
    with psycopg.connect(fresh_db_url) as conn:
        _, key = org_with_key(conn, "cooperative", "Coop")
        conn.commit()
    app = create_app(Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path))
    app.state.pool = open_pool(fresh_db_url, min_size=2, max_size=2)

    async def run() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 3
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            headers = {"Authorization": f"Bearer {key}"}
            responses = await asyncio.gather(*(client.get("/v1/me", headers=headers) for _ in range(24)))
        return [r.status_code for r in responses]

    try:
        assert asyncio.run(run()) == [200] * 24
    finally:
        app.state.pool.close()
