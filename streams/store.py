"""The table's RocksDB store, with its memory bounded per worker rather than per partition.

Faust opens one RocksDB database per table partition, each with its own block cache and
memtables, so a worker's RocksDB memory grows with the partitions it holds and cannot be
given one figure. Here every partition database of the worker's table shares

- one LRU block cache (``rocksdb_block_cache_mb``) that also holds the index and filter
  blocks of the table files (otherwise kept outside any bound, one set per open file), and
- one write-buffer manager (``rocksdb_memtables_mb``): when the memtables of all partitions
  together approach it, the largest is flushed to disk.

So RocksDB's memory on a worker is at most about ``rocksdb_block_cache_mb +
rocksdb_memtables_mb`` however many partitions it holds. An LRU cache keeps filling until it
reaches its bound (it keeps blocks of table files that compaction has since replaced, until
they are evicted), and then stays there: a soak is judged once it is full.

The store is registered under the URL scheme ``churn-rocksdb`` (:func:`register`); Faust's
rocksdict path ignores options it does not know, so the shared objects are set here, in
``as_options``. Uses rocksdict, the binding faust-streaming 0.15 prefers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rocksdict
from faust import stores
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore

SCHEME = "churn-rocksdb"
MB = 1024 * 1024


class SharedMemoryOptions(RocksDBOptions):
    """Faust's RocksDB options, with one block cache and one write-buffer manager for every
    database opened through this object (a store opens all its partitions through one)."""

    def __init__(self, *, memtables_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memtables_size = memtables_size
        self.cache = rocksdict.Cache(self.block_cache_size)
        self.write_buffers = rocksdict.WriteBufferManager(memtables_size, False)  # flush early, never stall writers

    def as_options(self) -> rocksdict.Options:
        opts = rocksdict.Options(raw_mode=True)
        opts.create_if_missing(True)
        opts.set_max_open_files(self.max_open_files)
        opts.set_write_buffer_size(self.write_buffer_size)
        opts.set_target_file_size_base(self.target_file_size_base)
        opts.set_max_write_buffer_number(self.max_write_buffer_number)
        opts.set_write_buffer_manager(self.write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(self.cache)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        table.set_cache_index_and_filter_blocks(True)  # inside the cache's bound, not beside it
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)  # the newest files' stay in, for reads
        opts.set_block_based_table_factory(table)
        return opts

    def open(self, path: Path, *, read_only: bool = False) -> rocksdict.Rdict:
        access = rocksdict.AccessType.read_write() if self.ttl is None else rocksdict.AccessType.with_ttl(self.ttl)
        db = rocksdict.Rdict(str(path), options=self.as_options(), access_type=access)
        db.set_read_options(rocksdict.ReadOptions())
        return db


class SharedMemoryStore(RocksDBStore):
    """Faust's RocksDB store whose partition databases share their memory bounds."""

    def __init__(self, *args: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> None:
        opts = dict(options or {})
        memtables = opts.pop("memtables_size", None)
        super().__init__(*args, options=opts, driver="rocksdict", **kwargs)
        if memtables is not None:
            self.rocksdb_options = SharedMemoryOptions(**self.options, memtables_size=memtables, use_rocksdict=True)

    def memory(self) -> dict[str, int]:
        """RocksDB's memory of this store, in bytes: the memtables of all partitions, the shared
        cache (data, index and filter blocks) and what table readers keep outside it."""
        out = {"memtables": 0, "block_cache": 0, "table_readers": 0}
        for db in list(self._dbs.values()):
            out["memtables"] += db.property_int_value("rocksdb.size-all-mem-tables") or 0
            out["table_readers"] += db.property_int_value("rocksdb.estimate-table-readers-mem") or 0
        opts = self.rocksdb_options
        out["block_cache"] = opts.cache.get_usage() if isinstance(opts, SharedMemoryOptions) else sum(
            db.property_int_value("rocksdb.block-cache-usage") or 0 for db in list(self._dbs.values()))
        return out


def rocksdb_memory(table: Any) -> dict[str, int] | None:
    """:meth:`SharedMemoryStore.memory` of the table's store; ``None`` when the table is not in RocksDB."""
    store = getattr(table, "data", None)
    return store.memory() if isinstance(store, SharedMemoryStore) else None


def register() -> str:
    """Make ``churn-rocksdb://`` name :class:`SharedMemoryStore` for Faust; returns the URL."""
    stores.STORES.aliases.setdefault(SCHEME, f"{__name__}:SharedMemoryStore")
    return f"{SCHEME}://"
