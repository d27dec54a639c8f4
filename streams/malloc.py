"""glibc's malloc, tuned so that memory native code frees goes back to the system (see
:func:`keep_malloc_compact`). Imports nothing heavy: the worker calls it first thing."""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's initial threshold, kept fixed
ARENA_MAX = 2


def keep_malloc_compact() -> bool:
    """Make glibc's malloc give memory that native code frees back to the system; call once, early in the
    worker. False where there is no glibc (nothing done) or the environment already sets these.

    RocksDB allocates its memtables in blocks of an eighth of their size (1 MB for 8 MB memtables)
    and frees them when the memtable is flushed. glibc serves blocks that large with mmap at first,
    but raises its threshold for mmap to the size of each such block freed, so from then on they
    come from its heaps, where freed ones stay mapped, between smaller allocations that stop the
    heap from shrinking, and every RocksDB thread that allocates gets heaps of its own. In the soak
    that held resident memory growing by about 25 MB over ten minutes beyond what RocksDB reported,
    RocksDB's own memory within its bounds. A fixed threshold keeps large blocks in mmap (returned
    when freed), and two arenas keep the threads' free memory in few heaps.
    """
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_ARENA_MAX"):
        return False  # the operator's own tuning
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_ARENA_MAX, ARENA_MAX))
    except (OSError, AttributeError):
        return False
