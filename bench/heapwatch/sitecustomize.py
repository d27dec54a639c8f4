"""Heap samples from inside a worker, for ``bench/soak.py --heap`` (loaded through PYTHONPATH).

Python imports ``sitecustomize`` at start-up; in a process started as ``python -m ...`` with
``SOAK_HEAP_OUT`` set, this starts a thread that, every ``SOAK_HEAP_EVERY_S`` seconds, appends
to ``$SOAK_HEAP_OUT``: resident memory, glibc's malloc figures (``mallinfo2``: bytes taken
from the system by the heap and its arenas, in use, free in them, in mmapped chunks) and
Python's object count; after ``SOAK_HEAP_BASE_S`` seconds also the object types that grew
most since then. It tells Python's heap apart from what native code (RocksDB) allocates
through malloc, and malloc's free-but-kept memory (fragmentation) from memory in use.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import sys
import threading
import time

FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]  # noqa: RUF012 - ctypes' own protocol


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def watch(out_path: str, every_s: float, base_s: float) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    base: collections.Counter[str] | None = None
    t0 = time.monotonic()
    with open(out_path, "a", buffering=1) as out:
        while True:
            time.sleep(every_s)
            mi, mb = libc.mallinfo2(), 2**20
            counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
            t = time.monotonic() - t0
            line = (f"{t:6.0f} s rss {rss_mb():6.1f} MB  malloc: heap {mi.arena / mb:5.1f} in use {mi.uordblks / mb:5.1f} "
                    f"free {mi.fordblks / mb:5.1f} mmapped {mi.hblkhd / mb:5.1f} MB  python objects {sum(counts.values()):,}")
            if base is None and t >= base_s:
                base = counts
            elif base is not None:
                line += "  grew: " + (", ".join(f"{n} +{c}" for n, c in (counts - base).most_common(6)) or "nothing")
            out.write(line + "\n")


if os.environ.get("SOAK_HEAP_OUT") and sys.argv[:1] == ["-m"]:  # the worker (python -m cli.main), not the soak
    threading.Thread(target=watch, name="soak-heap", daemon=True,
                     args=(os.environ["SOAK_HEAP_OUT"], float(os.environ.get("SOAK_HEAP_EVERY_S", "30")),
                           float(os.environ.get("SOAK_HEAP_BASE_S", "150")))).start()
