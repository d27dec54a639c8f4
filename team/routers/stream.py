"""Server-sent events for the dashboard: ``alert`` (new or changed, as the caller may see
it), ``offer`` (an alert's offers changed), ``erasure``, ``resync`` (reload: updates were missed
while the database was away); a comment line every 15 s keeps
proxies from closing the stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from team import queries
from team.auth import Principal, require
from team.deps import runtime
from team.runtime import TeamRuntime
from team.views import alert_out

reader = require("agent", "analyst")
router = APIRouter(prefix="/api/stream", tags=["live"], dependencies=[Depends(reader)])
KEEPALIVE_S = 15.0


async def _events(request: Request, rt: TeamRuntime, who: Principal) -> AsyncIterator[str]:
    q = rt.hub.subscribe()
    try:
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            try:
                msg = await asyncio.wait_for(q.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if msg["kind"] in ("alert", "offer"):
                async with rt.sessions() as db:
                    try:
                        alert, trail, offers = await queries.one(db, msg["id"])
                    except Exception:  # noqa: BLE001 - an offer of an alert not stored yet
                        continue
                data = alert_out(who, alert, trail, offers).model_dump_json()
                yield f"event: alert\ndata: {data}\n\n"
            else:
                yield f"event: {msg['kind']}\ndata: {json.dumps({'kind': msg['kind']})}\n\n"
    finally:
        rt.hub.unsubscribe(q)


@router.get("", summary="Live updates (text/event-stream)", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, who: Principal = Depends(reader), rt: TeamRuntime = Depends(runtime)) -> StreamingResponse:
    return StreamingResponse(_events(request, rt, who), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
