"""CDNOW transaction log → order events, and CDNOW scores → ROC AUC (see ../shared/data/README.md).

One event per line: status ``placed``, currency USD, ``items`` = number of CDs,
``amount`` = dollar value, channel ``other``, ``occurred_at`` noon UTC of the date,
``event_id`` = ``cdnow-<line>`` (deterministic).

The backtest command on CDNOW, as a user runs it::

    python bench/cdnow.py --out cdnow.jsonl
    churn-alert backtest cdnow.jsonl --as-of 1997-09-30T23:59:00+00:00 --horizon-days 90 --out cdnow-scores.csv
    python bench/cdnow.py --evaluate cdnow-scores.csv

``--evaluate`` ranks the scored customers against the truth (no purchase
1997-10-01..1998-06-30) and prints the recency baseline on the same customers.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.metrics import pr_auc, roc_auc  # noqa: E402
from schemas.events import OrderEvent  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PATH = REPO.parent / "shared" / "data" / "CDNOW_master.txt"
AS_OF = datetime(1997, 9, 30, 23, 59, tzinfo=UTC)
HOLDOUT_END = datetime(1998, 6, 30, 23, 59, 59, tzinfo=UTC)


def load(path: str | Path | None = None) -> list[OrderEvent]:
    """All purchase lines of the CDNOW master file as order events, in file order."""
    events = []
    with Path(path or DEFAULT_PATH).open() as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.split()
            if len(parts) != 4 or not parts[1].isdigit():
                continue  # header
            cid, day, cds, dollars = parts
            at = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), 12, tzinfo=UTC)
            events.append(OrderEvent(
                event_type="order", event_id=f"cdnow-{n:05d}", customer_id=cid, occurred_at=at,
                order_id=f"cdnow-{n:05d}", status="placed", amount=float(dollars), currency="USD",
                items=int(cds), channel="other"))
    return events


def truth_and_recency(events, as_of=AS_OF, end=HOLDOUT_END):
    """Per customer seen before ``as_of``: churned (no purchase in the holdout), weeks since last purchase."""
    last, back = {}, set()
    for e in events:
        if e.occurred_at <= as_of:
            last[e.customer_id] = max(last.get(e.customer_id, e.occurred_at), e.occurred_at)
        elif e.occurred_at <= end:
            back.add(e.customer_id)
    churned = {c: c not in back for c in last}
    weeks = {c: (as_of - t).total_seconds() / (7 * 86400) for c, t in last.items()}
    return churned, weeks


def evaluate(events, scores_csv: Path) -> dict:
    """ROC AUC of a ``customer_id,score,tier`` file against the truth, with the recency baseline.

    Raises ``ValueError`` when the file does not score exactly the customers seen before the cut-off.
    """
    churned, weeks = truth_and_recency(events)
    with scores_csv.open(newline="") as fh:
        scores = {row["customer_id"]: float(row["score"]) for row in csv.DictReader(fh)}
    missing, unknown = churned.keys() - scores.keys(), scores.keys() - churned.keys()
    if missing or unknown:
        raise ValueError(f"{scores_csv}: {len(missing)} customers seen before {AS_OF:%Y-%m-%d} not scored, "
                         f"{len(unknown)} scored customers not seen before it (a backtest with another --as-of?)")
    ids = sorted(scores)
    ys = [churned[c] for c in ids]
    return {"customers": len(ids), "churn_share": sum(ys) / len(ys),
            "roc_auc": roc_auc([scores[c] for c in ids], ys), "pr_auc": pr_auc([scores[c] for c in ids], ys),
            "recency_roc_auc": roc_auc([weeks[c] for c in ids], ys)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="CDNOW_master.txt (default ../shared/data)")
    ap.add_argument("--out", type=Path, help="write the purchases as order events, one JSON object per line")
    ap.add_argument("--evaluate", type=Path, metavar="SCORES_CSV", help="ROC AUC of a backtest's scores as of 1997-09-30")
    args = ap.parse_args(argv)
    events = load(args.data)
    print(f"{len(events)} events, {len({e.customer_id for e in events})} customers, "
          f"{min(e.occurred_at for e in events).date()} .. {max(e.occurred_at for e in events).date()}")
    if args.out:
        from simulator.io import to_jsonl

        print(f"{to_jsonl(events, args.out)} order events → {args.out}")
    if args.evaluate:
        try:
            f = evaluate(events, args.evaluate)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{f['customers']} customers, {f['churn_share']:.1%} without a purchase 1997-10-01..1998-06-30: "
              f"ROC AUC {f['roc_auc']:.3f}, PR AUC {f['pr_auc']:.3f}; weeks since last purchase {f['recency_roc_auc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
