"""Builds the Faust app from settings, and nothing else (agents register themselves
in ``streams.agents``)."""

from __future__ import annotations

import faust

from config.settings import Settings
from streams import faust_compat
from streams import store as store_mod


def build_app(settings: Settings) -> faust.App:
    """A Faust app tuned to join its group in seconds (default timeouts take ~30 s).

    >>> s = Settings(bootstrap_servers="127.0.0.1:9092,127.0.0.1:9093")
    >>> [str(u) for u in build_app(s).conf.broker]
    ['kafka://127.0.0.1:9092', 'kafka://127.0.0.1:9093']
    """
    if not settings.bootstrap_servers:
        raise ValueError("bootstrap_servers must be resolved before building the app (see services.services)")
    brokers = [f"kafka://{h.strip()}" for h in settings.bootstrap_servers.split(",") if h.strip()]
    store = "memory://" if settings.store == "memory" else store_mod.register()  # RocksDB, bounded per worker
    return faust_compat.App(  # stream queues that take partitions in turn (faust_compat.PartitionTurns)
        settings.app_id,
        broker=brokers,
        store=store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        stream_wait_empty=False,  # a rebalance need not wait for in-flight events: un-acked ones are read again
        producer_acks=-1,
        # Throughput (bench/throughput.py): deeper per-partition stream buffers keep the fetcher
        # ahead of a batch being handled; a few ms of linger packs a batch's changelog records,
        # labels, alerts and offers into a few produce requests instead of one each.
        stream_buffer_maxsize=settings.stream_buffer,
        broker_max_poll_records=settings.poll_records,  # a burst fetched is handed over in slices (faust_compat.tune_fetcher)
        producer_linger=settings.producer_linger_s,
        producer_max_batch_size=settings.producer_batch_bytes,
        table_standby_replicas=0,
        Monitor="streams.faust_compat:QuietMonitor",  # no statistics per message that nothing reads
        TableManager="streams.faust_compat:" + ("EmbeddedBrokerTableManager" if settings.embedded_broker
                                                else "ChurnTableManager"),  # see streams/faust_compat.py
    )


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """The table's RocksDB options (Faust's ``Table(options=...)``, read by ``streams.store``), bounding its
    memory on the worker, whatever the partitions it holds: memtables of ``rocksdb_write_buffer_mb`` each,
    ``rocksdb_memtables_mb`` in all, and one block cache of ``rocksdb_block_cache_mb`` for every partition,
    which also holds the index and filter blocks of the open table files.

    >>> rocksdb_options(Settings(rocksdb_write_buffer_mb=4))["write_buffer_size"]
    4194304
    """
    mb = 1024 * 1024
    return {"write_buffer_size": settings.rocksdb_write_buffer_mb * mb,
            "max_write_buffer_number": settings.rocksdb_write_buffers,
            "memtables_size": settings.rocksdb_memtables_mb * mb,
            "block_cache_size": settings.rocksdb_block_cache_mb * mb,
            "max_open_files": settings.rocksdb_max_open_files}
