"""The customer agent: every customer-keyed input, in order, one state per customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faust.types import StreamT

from streams.agents.guard import guarded

if TYPE_CHECKING:
    from streams.runtime import Runtime


def register(rt: "Runtime") -> None:
    @rt.app.agent(rt.topics.customer_inputs, name="customers")
    async def customers(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            await rt.handler.handle(msg.topic, msg.partition, msg.offset, msg.key, msg.value)

    @rt.app.timer(rt.settings.sweep_interval_s, name="silence-sweep")
    @guarded
    async def sweep() -> None:
        if rt.settings.clock == "wall":
            await rt.handler.sweep_wall()

    @rt.app.timer(0.5, name="flush-scores")
    @guarded
    async def flush_scores() -> None:
        await rt.effects.flush_scores()

    rt.table.on_recover(rt.handler.rebuild_sweep)
