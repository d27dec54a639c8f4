"""The app factory: routers, the dashboard's static files, and a lifespan that starts and
stops the runtime (:mod:`team.runtime`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from config.settings import Settings
from team import runtime
from team.routers import alert_actions, alerts, approvals, customers, me, offers, ops, overview, session, stream, tokens

log = logging.getLogger(__name__)
STATIC = resources.files("team") / "static"
ROUTERS = (alerts, alert_actions, customers, offers, approvals, overview, stream, tokens, session, me, ops)


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None, background: bool = True) -> FastAPI:
    """The team service for ``settings`` (whose ``database_url`` is resolved)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.team = await runtime.start(settings, registry=registry, background=background)
        try:
            yield
        finally:
            await runtime.stop(app.state.team)

    app = FastAPI(title="churn-alert retention team API", version="1", lifespan=lifespan,
                  description="Alert inbox, customers, actions and approvals, live updates, tokens. "
                              "Send `Authorization: Bearer <token>`; roles: agent, analyst, admin.")
    for module in ROUTERS:
        app.include_router(module.router)

    @app.middleware("http")
    async def no_framing(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)  # no other site may frame the dashboard and click for a signed-in agent
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        request.app.state.team.metrics.db_errors.inc()
        log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "the database is not available; try again"}, status_code=503)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app
