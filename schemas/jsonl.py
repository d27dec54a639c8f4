"""Event files: one JSON event per line (``churn-alert simulate --out``, ``replay``, ``backtest``).

Read lazily, one line at a time, so a file of any size streams; a bad line stops with
its line number.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "one.jsonl"
>>> _ = path.write_text('{"event_type":"erasure_request","event_id":"e","customer_id":"c",'
...                     '"occurred_at":"2024-01-01T00:00:00Z"}\\n\\n')
>>> [e.event_type for e in iter_events(path)]
['erasure_request']
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from schemas.errors import DecodeError
from schemas.events import AnyEvent, Event

_EVENT: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line; a bad line raises DecodeError naming it."""
    with Path(path).open("rb") as fh:
        for no, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield no, json.loads(line)
                except ValueError as exc:
                    raise DecodeError("not_json", f"{path}:{no}: not JSON ({exc})") from None


def iter_events(path: Path) -> Iterator[Event]:
    """Validated events of a JSONL file, in file order; the first bad line stops with its number."""
    for no, obj in read_jsonl(path):
        try:
            yield _EVENT.validate_python(obj)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise DecodeError("invalid", f"{path}:{no}: {err['msg']} at {err['loc']}") from None
