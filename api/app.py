"""The FastAPI application: ``create_app(settings)``; its lifespan opens the connection pool and closes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from api.config import ApiConfig


def create_app(settings: ApiConfig) -> FastAPI:
    """Build the API for ``settings`` (whose database URL must be set)."""
    from api.body_limit import BodySizeLimit
    from api.dashboard.routes import router as dashboard_router
    from api.errors import PROBLEM_RESPONSES, exception_handlers
    from api.lock_errors import lock_error_handlers
    from api.metrics import RequestTimer, api_metrics
    from api.routes import admin, audit, farms, health, lending, records
    from api.security_headers import SecurityHeaders
    from credit import load_policy
    from credit.policy import DEFAULT_POLICY_PATH
    from store.db import open_pool, timeouts_option

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert settings.db.url, "create_app needs settings.db.url"
        # Routes are blocking (psycopg, CPU-bound decisions): a few threads keep the GIL handed over
        # rarely; more would only contend for it while requests wait cheaply on the event loop.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api.threads
        # every transaction of the API waits at most lock_timeout for a lock (409 then): see api.deps.get_conn
        timeouts = timeouts_option(
            lock_timeout_s=settings.api.lock_timeout_s, statement_timeout_s=settings.api.statement_timeout_s
        )
        app.state.pool = open_pool(
            settings.db.url, min_size=settings.db.pool_min_size, max_size=settings.db.pool_max_size, options=timeouts
        )
        try:
            yield
        finally:
            app.state.pool.close()

    app = FastAPI(
        title="FarmTrust API",
        version="1",
        description="Verified farm records for cooperatives and fair, explained credit for lenders.",
        lifespan=lifespan,
        exception_handlers={**exception_handlers(), **lock_error_handlers()},
    )
    app.state.settings = settings
    app.state.metrics = api_metrics()
    app.add_middleware(RequestTimer, histogram=app.state.metrics.request_seconds)
    app.state.policy = load_policy(DEFAULT_POLICY_PATH)
    for module in (health, admin, farms, records, lending, audit):
        app.include_router(module.router, responses=PROBLEM_RESPONSES)
    app.include_router(dashboard_router)
    app.add_middleware(SecurityHeaders, trust_forwarded_proto=settings.api.trust_forwarded_proto)
    app.add_middleware(BodySizeLimit)
    return app
