"""The customer agent: every customer-keyed input, in order, one state per customer, in batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faust.types import StreamT

from streams.agents.guard import guarded

if TYPE_CHECKING:
    from streams.runtime import Runtime


def register(rt: Runtime) -> None:
    @rt.app.agent(rt.topics.customer_inputs, name="customers")
    async def customers(stream: StreamT[bytes]) -> None:
        # In batches: a batch is acked (its offsets may be committed) only after the handler is done with it.
        async for batch in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_within_s):
            await rt.handler.handle_batch([event.message for event in batch])

    @rt.app.timer(rt.settings.sweep_interval_s, name="silence-sweep")
    @guarded(on_error=rt.count_error)
    async def sweep() -> None:
        if rt.settings.clock == "wall":
            await rt.handler.sweep_wall()

    @rt.app.timer(0.5, name="flush-scores")
    @guarded(on_error=rt.count_error)
    async def flush_scores() -> None:
        await rt.effects.flush_scores()

    rt.table.on_recover(rt.handler.rebuild_sweep)
