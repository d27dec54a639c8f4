"""RocksDB memory bounded per worker, not per partition (streams.store)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from config.settings import Settings
from streams.app import build_app, rocksdb_options
from streams.faust_compat import rocksdb_memory
from streams.store import MB, SharedMemoryOptions, SharedMemoryStore

PARTITIONS = 3


def fill(dbs: list, mb_each: int, rng: random.Random) -> list[bytes]:
    """Write ``mb_each`` MB of 200-byte values into each database; returns the keys."""
    keys = [b"k%07d" % k for k in range(mb_each * MB // 200 * len(dbs))]
    for k, key in enumerate(keys):
        dbs[k % len(dbs)][key] = rng.randbytes(200)
    return keys


def settle(dbs: list, budget: int) -> int:
    """The memtables of all ``dbs`` once the flushes under way have ended (within 1.5 x ``budget``)."""
    deadline = time.monotonic() + 10
    while (held := sum(db.property_int_value("rocksdb.size-all-mem-tables") for db in dbs)) > 1.5 * budget:
        assert time.monotonic() < deadline, f"memtables hold {held / MB:.1f} MB of a {budget / MB:.0f} MB budget"
        time.sleep(0.05)
    return held


def test_partitions_share_one_cache_and_one_memtable_budget(tmp_path: Path) -> None:
    # each memtable may reach 8 MB, but all of them together only 4 MB: with 6 MB written to each of
    # 3 databases, per-partition memtables would hold all 18 MB (and more, with their overhead)
    opts = SharedMemoryOptions(memtables_size=4 * MB, write_buffer_size=8 * MB, max_write_buffer_number=2,
                               block_cache_size=1 * MB, max_open_files=64)
    dbs = [opts.open(tmp_path / f"p{i}") for i in range(PARTITIONS)]
    keys = fill(dbs, 6, random.Random(1))
    settle(dbs, 4 * MB)
    assert all(any((tmp_path / f"p{i}").glob("*.sst")) for i in range(PARTITIONS)), "every partition flushed"
    for k, key in enumerate(keys):  # read everything back: far more than the cache holds
        assert dbs[k % PARTITIONS][key] is not None
    used = [db.property_int_value("rocksdb.block-cache-usage") for db in dbs]
    assert len(set(used)) == 1, "one cache, seen from every partition"
    assert 0.5 * MB < opts.cache.get_usage() <= 1.1 * MB, opts.cache.get_usage() / MB


def test_the_worker_table_uses_the_shared_store_and_counts_its_cache_once(tmp_path: Path) -> None:
    s = Settings(bootstrap_servers="127.0.0.1:9", store="rocksdb", data_dir=tmp_path, rocksdb_block_cache_mb=1,
                 rocksdb_memtables_mb=4)
    app = build_app(s)
    table = app.Table("customers", partitions=PARTITIONS, key_type=bytes, value_type=bytes, options=rocksdb_options(s))
    store = table.data
    assert isinstance(store, SharedMemoryStore) and isinstance(store.rocksdb_options, SharedMemoryOptions)
    assert store.rocksdb_options.cache.get_usage() == 0
    dbs = [store._db_for_partition(p) for p in range(PARTITIONS)]  # noqa: SLF001 - how Faust opens them
    keys = fill(dbs, 6, random.Random(2))
    settle(dbs, 4 * MB)
    for k, key in enumerate(keys):
        assert dbs[k % PARTITIONS][key] is not None
    mem = rocksdb_memory(table)
    assert mem is not None and mem["block_cache"] == store.rocksdb_options.cache.get_usage() <= 1.1 * MB
    assert 0 < mem["memtables"] <= 1.5 * 4 * MB
