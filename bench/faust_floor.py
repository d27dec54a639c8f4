"""A Faust worker that does nothing with its messages: the same app settings, topics and
batching as ``churn-alert worker``, an agent that only counts. What Faust alone costs.

Run by ``bench/throughput.py`` as a child process; prints ``RATE <events/s>`` once it
has taken ``total`` messages (from the first to the last).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(total: int) -> None:
    import faust

    from config.settings import Settings
    from streams import faust_compat, topics
    from streams.app import build_app

    settings = Settings()  # from the CHURN_* environment, as a worker's
    faust_compat.deliver_without_tasks()
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = build_app(settings)
    tops = topics.declare(app, settings)
    seen = {"n": 0, "t0": 0.0}

    @app.agent(tops.customer_inputs, name="count")
    async def count(stream) -> None:  # noqa: ANN001
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            if not seen["n"]:
                seen["t0"] = time.perf_counter() - 1e-9
            seen["n"] += len(batch)
            if seen["n"] >= total:
                print(f"RATE {seen['n'] / (time.perf_counter() - seen['t0']):.1f}", flush=True)
                os._exit(0)

    worker = faust.Worker(app, loglevel="warn", quiet=True, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(int(sys.argv[1]))
