"""Liveness, readiness and Prometheus metrics (no token: for the platform, not for people)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from team.deps import runtime
from team.runtime import TeamRuntime

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="Liveness: the process serves requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and consumer running",
            responses={503: {"description": "Not ready; the body says what is missing."}})
async def readyz(rt: TeamRuntime = Depends(runtime)) -> JSONResponse:
    checks = {"database": await rt.db_ok(), "consumer": rt.consumer_running}
    return JSONResponse({"ready": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(rt: TeamRuntime = Depends(runtime)) -> Response:
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
