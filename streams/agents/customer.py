"""The customer agent: every customer-keyed input, in order, one state per customer, in batches."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from faust.types import StreamT

from streams.agents.guard import guarded
from streams.faust_compat import unread

if TYPE_CHECKING:
    from streams.runtime import Runtime

log = logging.getLogger(__name__)


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

    async def hold_watermarks() -> None:
        """After an assignment, before Faust seeks the partitions to the committed offsets: the input
        partitions with a backlog hold their watermark until read (``CustomerHandler.hold_for_backlogs``)."""
        try:
            got = await asyncio.wait_for(unread(rt.app, rt.handler.activity_topics, ask=True,
                                                true_ends=rt.settings.embedded_broker),
                                         timeout=rt.app.conf.broker_request_timeout)
        except Exception:  # noqa: BLE001 - Faust would drop the exception (and the callbacks after it) silently
            log.exception("cannot read the input backlogs: watermarks are not held after this assignment")
            got = {}
        rt.handler.hold_for_backlogs({(tp.topic, tp.partition): end for tp, (start, end) in got.items() if end > start})

    rt.table.on_recover(rt.handler.rebuild_sweep)
    if rt.settings.clock == "event":  # on the wall clock, checkpoints follow the wall clock, not the watermark
        rt.table.on_recover(hold_watermarks)
