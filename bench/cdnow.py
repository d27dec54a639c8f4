"""CDNOW transaction log → ``OrderEvent`` list (see ../shared/data/README.md).

One event per line: status ``placed``, currency USD, ``items`` = number of CDs,
``amount`` = dollar value, channel ``other``, ``occurred_at`` noon UTC of the date,
``event_id`` = ``cdnow-<line>`` (deterministic). Usage: ``python bench/cdnow.py [PATH]``.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from schemas.events import OrderEvent

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PATH = REPO.parent / "shared" / "data" / "CDNOW_master.txt"
AS_OF = datetime(1997, 9, 30, 23, 59, tzinfo=timezone.utc)
HOLDOUT_END = datetime(1998, 6, 30, 23, 59, 59, tzinfo=timezone.utc)


def load(path: str | Path | None = None) -> list[OrderEvent]:
    """All purchase lines of the CDNOW master file as order events, in file order."""
    events = []
    with Path(path or DEFAULT_PATH).open() as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.split()
            if len(parts) != 4 or not parts[1].isdigit():
                continue  # header
            cid, day, cds, dollars = parts
            at = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), 12, tzinfo=timezone.utc)
            events.append(OrderEvent(
                event_type="order", event_id=f"cdnow-{n:05d}", customer_id=cid, occurred_at=at,
                order_id=f"cdnow-{n:05d}", status="placed", amount=float(dollars), currency="USD",
                items=int(cds), channel="other"))
    return events


if __name__ == "__main__":
    evs = load(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"{len(evs)} events, {len({e.customer_id for e in evs})} customers, "
          f"{min(e.occurred_at for e in evs).date()} .. {max(e.occurred_at for e in evs).date()}")
