"""``churn-alert worker``: one stream worker, run by Faust's Worker (signals, clean stop).

A production worker never embeds a broker silently: with no ``CHURN_BOOTSTRAP_SERVERS``
it stops with a message, unless ``--embed-broker`` asks for the embedded one. Redis is
embedded only at the default URL when nothing answers there (as for every command).
"""

from __future__ import annotations

import asyncio
import logging

from config.settings import Settings
from schemas.errors import ConfigError
from services import services

log = logging.getLogger(__name__)

NO_BROKER = ("no broker configured: set CHURN_BOOTSTRAP_SERVERS=host:port[,host:port] "
             "(or run `churn-alert worker --embed-broker` for an in-memory broker on this machine)")


def run_worker(settings: Settings, *, embed_broker: bool = False) -> int:
    """Run until SIGINT/SIGTERM."""
    import faust

    from streams.bootstrap import bootstrap
    from streams.faust_compat import check_version
    from streams.malloc import freeze_startup_objects, keep_malloc_compact
    from streams.publish import wait_for_broker

    if not settings.bootstrap_servers and not embed_broker:
        raise ConfigError(NO_BROKER)
    check_version()
    keep_malloc_compact()  # before RocksDB's threads allocate (streams/malloc.py)
    with services(settings) as resolved:
        asyncio.run(wait_for_broker(resolved))
        asyncio.set_event_loop(asyncio.new_event_loop())
        runtime = bootstrap(resolved)
        worker = faust.Worker(runtime.app, loglevel=resolved.log_level, quiet=True, redirect_stdouts=False)
        # No start-up spinner: to feed it, Faust sets the root logger to DEBUG, and then every
        # debug call of Faust and aiokafka (several per message) builds a record that is dropped.
        worker.spinner = None
        freeze_startup_objects()  # full collections scan only what the worker allocates from now on
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0
