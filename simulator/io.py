"""Files for ``churn-alert replay`` / ``backtest``: events as JSON lines, fates as a sidecar.

``churn-alert simulate --customers N --days D --seed S --out FILE.jsonl`` writes
``FILE.jsonl`` and ``FILE.fates.json``.

>>> sidecar_path("runs/year.jsonl").name
'year.fates.json'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.events import Event


def to_jsonl(events: Iterable[Event], path: str | Path) -> int:
    """Write one ``model_dump_json()`` object per line; returns the number written."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for ev in events:
            fh.write(ev.model_dump_json())
            fh.write("\n")
            n += 1
    return n


def fates_json(fates: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fates as plain JSON-able dicts (datetimes in RFC 3339)."""
    out = {}
    for cid, fate in fates.items():
        d = asdict(fate)
        out[cid] = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in d.items()}
    return out


def sidecar_path(out: str | Path) -> Path:
    """``x.jsonl`` → ``x.fates.json``."""
    p = Path(out)
    return p.with_name(p.name.removesuffix(".jsonl") + ".fates.json")


def write_run(events: Iterable[Event], fates: dict[str, Any], out: str | Path) -> tuple[int, Path]:
    """``out`` (events as JSON lines) and its fates sidecar; (events written, sidecar path)."""
    n = to_jsonl(events, out)
    side = sidecar_path(out)
    side.write_text(json.dumps(fates_json(fates), indent=1), encoding="utf-8")
    return n, side
