"""Recorded events for the backtest, streamed from a JSONL file in event-time order.

Memory does not grow with the file: the first pass reads only each line's
``occurred_at`` and checks whether the file is already in time order (what
``churn-alert simulate --out`` and most exports write). If it is, the second pass
decodes and yields line by line. If not, the lines are sorted in runs of ``RUN_LINES``
that are spilled to temporary files and merged (an external merge sort), so a file
of any size is replayed exactly in event-time order (ties in file order) with at most
one run in memory. Every line is validated with the one event codec; the first bad
line stops with its line number.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "e.jsonl"
>>> rows = [('b', '2024-01-02T00:00:00+00:00'), ('a', '2024-01-01T00:00:00+00:00')]
>>> _ = p.write_text("".join('{"event_type":"app_activity","event_id":"%s","customer_id":"c",'
...   '"occurred_at":"%s","activity":"login","platform":"ios","schema_version":1}\\n' % r for r in rows))
>>> src = EventFile(p)
>>> [e.event_id for e in src.events()], src.lines, src.in_order
(['a', 'b'], 2, False)
"""

from __future__ import annotations

import heapq
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from schemas.errors import DecodeError
from schemas.events import AnyEvent

RUN_LINES = 200_000  # lines per sorted run (a run of typical 200-byte events: about 60 MB)
_EVENT = TypeAdapter(AnyEvent)
_AT = re.compile(rb'"occurred_at"\s*:\s*"([^"]+)"')


class EventFile:
    """A JSONL event file read as a stream; :meth:`events` may be called more than once."""

    def __init__(self, path: Path, *, progress: bool = False) -> None:
        self.path, self.progress = Path(path), progress
        self.lines = 0
        self.in_order = True
        self._scanned = False

    def _time_of(self, line: bytes, no: int) -> float:
        m = _AT.search(line)
        try:
            if m is None:
                return datetime.fromisoformat(json.loads(line)["occurred_at"]).timestamp()
            return datetime.fromisoformat(m[1].decode()).timestamp()
        except (ValueError, KeyError, TypeError):
            raise DecodeError("invalid", f"{self.path}:{no}: no valid occurred_at") from None

    def scan(self) -> None:
        """First pass: count the lines and find out whether they are in time order."""
        last, n = float("-inf"), 0
        with self.path.open("rb") as fh:
            for no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                t = self._time_of(line, no)
                n += 1
                if t < last:
                    self.in_order = False
                last = max(last, t)
        self.lines, self._scanned = n, True

    def _decode(self, line: bytes, no: int):  # noqa: ANN202
        try:
            return _EVENT.validate_json(line)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise DecodeError("invalid", f"{self.path}:{no}: {err['msg']} at {err['loc']}") from None

    def _numbered(self) -> Iterator[tuple[int, bytes]]:
        with self.path.open("rb") as fh:
            for no, line in enumerate(fh, 1):
                if line.strip():
                    yield no, line

    def events(self) -> Iterator:
        """Every event of the file, decoded, in event-time order (ties: file order)."""
        if not self._scanned:
            self.scan()
        if self.in_order:
            for no, line in self._numbered():
                yield self._decode(line, no)
            return
        with tempfile.TemporaryDirectory(prefix="churn-backtest-") as tmp:
            runs = self._spill(Path(tmp))
            for _, no, line in heapq.merge(*(self._read_run(r) for r in runs)):
                yield self._decode(line, no)

    def _spill(self, tmp: Path) -> list[Path]:
        runs: list[Path] = []
        buf: list[tuple[float, int, bytes]] = []
        t0 = time.monotonic()

        def flush() -> None:
            buf.sort()
            path = tmp / f"run-{len(runs):05d}"
            with path.open("wb") as out:
                for t, no, line in buf:
                    out.write(b"%r %d " % (t, no) + line.rstrip(b"\n") + b"\n")
            runs.append(path)
            buf.clear()

        for no, line in self._numbered():
            buf.append((self._time_of(line, no), no, line))
            if len(buf) >= RUN_LINES:
                flush()
                if self.progress:
                    print(f"\rsorting {self.path.name} by event time: {len(runs) * RUN_LINES}/{self.lines} lines "
                          f"({time.monotonic() - t0:.0f} s)", end="", file=sys.stderr, flush=True)
        if buf:
            flush()
        if self.progress:
            print(file=sys.stderr)
        return runs

    @staticmethod
    def _read_run(path: Path) -> Iterator[tuple[float, int, bytes]]:
        with path.open("rb") as fh:
            for row in fh:
                t, no, line = row.split(b" ", 2)
                yield float(t), int(no), line


def stream_events(path: Path, *, progress: bool = False) -> EventFile:
    """:class:`EventFile` for ``path``; a clear error when the file does not exist."""
    p = Path(path)
    if not p.is_file():
        raise DecodeError("invalid", f"{p}: no such file")
    if progress and os.path.getsize(p) == 0:
        print(f"{p}: empty", file=sys.stderr)
    return EventFile(p, progress=progress)
