"""RocksDB memory bounded per worker, not per partition (streams.store)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import Settings
from streams.app import build_app, rocksdb_options
from streams.store import MB, SharedMemoryOptions, SharedMemoryStore, rocksdb_memory

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
    # each memtable may reach 4 MB, but all of them together only 2 MB: with 3 MB written to each of
    # 3 databases, per-partition memtables would hold all 9 MB (and more, with their overhead)
    opts = SharedMemoryOptions(memtables_size=2 * MB, write_buffer_size=4 * MB, max_write_buffer_number=2,
                               block_cache_size=1 * MB, max_open_files=64)
    dbs = [opts.open(tmp_path / f"p{i}") for i in range(PARTITIONS)]
    keys = fill(dbs, 3, random.Random(1))
    settle(dbs, 2 * MB)
    assert all(any((tmp_path / f"p{i}").glob("*.sst")) for i in range(PARTITIONS)), "every partition flushed"
    for k, key in enumerate(keys):  # read everything back: far more than the cache holds
        assert dbs[k % PARTITIONS][key] is not None
    used = [db.property_int_value("rocksdb.block-cache-usage") for db in dbs]
    assert len(set(used)) == 1, "one cache, seen from every partition"
    assert 0.5 * MB < opts.cache.get_usage() <= 1.1 * MB, opts.cache.get_usage() / MB


def test_the_worker_table_uses_the_shared_store_and_counts_its_cache_once(tmp_path: Path) -> None:
    s = Settings(bootstrap_servers="127.0.0.1:9", store="rocksdb", data_dir=tmp_path, rocksdb_block_cache_mb=1,
                 rocksdb_memtables_mb=2, rocksdb_write_buffer_mb=4)
    app = build_app(s)
    table = app.Table("customers", partitions=PARTITIONS, key_type=bytes, value_type=bytes, options=rocksdb_options(s))
    store = table.data
    assert isinstance(store, SharedMemoryStore) and isinstance(store.rocksdb_options, SharedMemoryOptions)
    assert store.rocksdb_options.cache.get_usage() == 0
    dbs = [store._db_for_partition(p) for p in range(PARTITIONS)]  # noqa: SLF001 - how Faust opens them
    keys = fill(dbs, 3, random.Random(2))
    settle(dbs, 2 * MB)
    for k, key in enumerate(keys):
        assert dbs[k % PARTITIONS][key] is not None
    mem = rocksdb_memory(table)
    assert mem is not None and mem["block_cache"] == store.rocksdb_options.cache.get_usage() <= 1.1 * MB
    assert 0 < mem["memtables"] <= 1.5 * 2 * MB


LARGE_BLOCKS = """
import ctypes
from streams.malloc import keep_malloc_compact

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                               "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
if TUNED:
    assert keep_malloc_compact()
mapped = []
for _ in range(3):  # as memtable blocks are: allocated, freed, allocated again
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(2**20)
    mapped.append(libc.mallinfo2().hblkhd - before >= 2**20)
    libc.free(block)
    assert libc.mallinfo2().hblkhd <= before
print(mapped)
"""


@pytest.mark.parametrize("tuned,mapped", [(False, "[True, False, False]"), (True, "[True, True, True]")])
def test_large_blocks_freed_by_native_code_go_back_to_the_system(tuned: bool, mapped: str) -> None:
    # glibc raises its mmap threshold to a freed mmapped block's size, so that the next block as large
    # comes from a heap that keeps it once freed; with the threshold fixed, each is mmapped and unmapped.
    # In a fresh process: a heap that already holds a large free chunk reuses it, whatever the threshold.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", f"TUNED = {tuned}\n" + LARGE_BLOCKS], env=env, capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == mapped
