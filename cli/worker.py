"""``churn-alert worker``: one stream worker, run by Faust's Worker (signals, clean stop)."""

from __future__ import annotations

import asyncio
import logging

from services.resolve import services
from config.settings import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM. Starts an embedded broker/Redis only if none is configured."""
    import faust

    from streams.bootstrap import bootstrap
    from streams.publish import ensure_topics

    with services(settings) as resolved:
        asyncio.run(ensure_topics(resolved))
        asyncio.set_event_loop(asyncio.new_event_loop())
        runtime = bootstrap(resolved)
        worker = faust.Worker(runtime.app, loglevel=resolved.log_level, quiet=True, redirect_stdouts=False)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0
