"""In-process figures: the backtest, state bytes per customer, the silence sweep.

Each heavy part runs in a child process so its peak memory is its own.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench import profiles
from config.settings import Settings
from engine.compose import processor_from
from engine.processor import to_dt
from engine.record import CustomerRecord
from models.prior import RulePrior
from models.scorer import Scorer
from models.silence import DueIndex

ROOT = Path(__file__).resolve().parents[1]


def _child(code: str, profile: Path | None = None) -> dict:
    """Run ``code`` (which prints one JSON object) in a fresh interpreter; add its peak RSS in MiB.
    With ``profile``, under py-spy, recording there (``bench/profiles.py``)."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
    peak = ("\nhwm = next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM'))"
            "\nprint(json.dumps({**res, 'peak_mib': hwm / 1024}))")  # not ru_maxrss: that counts the parent's pages
    argv = [sys.executable, "-c", prelude + code + peak]
    out = subprocess.run(profiles.command(profile, argv) if profile else argv,
                         capture_output=True, text=True, check=False, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(next(line for line in reversed(out.stdout.splitlines()) if line.startswith("{")))  # py-spy prints too


def backtest(path: Path, as_of: str, horizon_days: float, profile: Path | None = None) -> tuple[dict, dict, dict]:
    """``churn-alert backtest``'s own path over a JSONL file (the scan, then the streamed pass),
    the bare loop ``json.loads`` of each line, and the floor: the backtest's first steps
    alone over the same file. Ours: events/s (scan included), peak MiB, alerts, labels,
    scorer and vocabulary at the end; with ``profile``, recorded there by py-spy."""
    ours = _child(f"""
import json, time
from datetime import datetime
from pathlib import Path
from config.settings import Settings
from engine.backtest import run_backtest
from engine.source import stream_events
t0 = time.perf_counter()
src = stream_events(Path({str(path)!r}))
src.scan()
r = run_backtest(src.events(), as_of=datetime.fromisoformat({as_of!r}), settings=Settings(horizon_days={horizon_days!r}),
                 ordered=True, total=src.lines)
res = {{"rate": r.events / (time.perf_counter() - t0), "events": r.events, "alerts": len(r.alerts), "labels": r.labels,
        "scorer": r.model_version, "vocabulary": list(r.vocabulary)}}
""", profile)
    base = _child(f"""
import json, time
t0 = time.perf_counter(); n = 0
with open({str(path)!r}, "rb") as fh:
    for line in fh:
        json.loads(line); n += 1
res = {{"rate": n / (time.perf_counter() - t0)}}
""")
    return ours, base, floor(path, ours["vocabulary"])


def floor(path: Path, vocabulary: list[str]) -> dict:
    """Events/s of the backtest's first steps alone over ``path``, each step timed on its own
    pass: decoding each line into its event; then folding it into the customer's state too;
    then also computing the features every score needs (with ``vocabulary``, the run's own).
    No scoring, learning, labels, checkpoints or decisions: what any backtest that scores every
    event spends before it scores."""
    return _child(f"""
import json, time
from pathlib import Path
from engine.source import stream_events
from models.features import compute_features
from models.state import apply_event
from models.vocabulary import Vocabulary
vocab = Vocabulary({tuple(vocabulary)!r})
src = stream_events(Path({str(path)!r}))
src.scan()

def run(state, features):
    states, n, t0 = {{}}, 0, time.perf_counter()
    for ev in src.events():
        n += 1
        if state and ev.event_type not in ("erasure_request", "offer_outcome"):  # as the processor does
            t = ev.occurred_at.timestamp()
            s = states[ev.customer_id] = apply_event(states.get(ev.customer_id), ev, at=t)
            if features and ev.event_type != "profile":  # a profile update is stored, not scored
                compute_features(s, t, vocab)
    return n / (time.perf_counter() - t0)

res = {{"decode": run(False, False), "decode + state": run(True, False), "decode + state + features": run(True, True)}}
""")


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def table_bytes(pool: list[bytes], customers: int) -> dict:
    """A worker's in-memory state for ``customers`` customers (records drawn from ``pool``, each its own
    copy, in a dict keyed like the table, plus the sweep's due index): resident bytes per customer."""
    rng = random.Random(3)
    before = _rss()
    table, due = {}, DueIndex()
    for i in range(customers):
        raw = bytes(bytearray(rng.choice(pool)))
        key = f"cust-{i:07d}"
        table[key.encode()] = raw
        nc = CustomerRecord.peek_next_check(raw)
        if nc is not None:
            due.schedule(key, nc)
    per = (_rss() - before) / customers
    encoded = sum(len(v) for v in table.values()) / customers
    del table, due
    return {"resident": per, "encoded": encoded}


def sweep(pool: list[bytes], customers: int, due_n: int, repeats: int = 3) -> tuple[float, float]:
    """(median seconds to find ``due_n`` due customers among ``customers`` and re-score each: decode,
    silence step, encode, store, reschedule; the same re-scoring after a full scan of every record's
    next check instead of the due index)."""
    rng = random.Random(1)
    proc = processor_from(Settings(), Scorer(RulePrior(), min_labels=10**9))
    now = 1_735_000_000.0
    scored = [r for r in (CustomerRecord.decode(raw) for raw in pool) if r.state is not None]
    table, idx = {}, DueIndex()

    def rescore(pairs: list[tuple[str, float]]) -> None:
        for cid, at in pairs:
            key = cid.encode()
            step = proc.on_tick(cid, CustomerRecord.decode(table[key]), to_dt(at))
            if step.kind != "stale":
                table[key] = step.record.encode()
                if step.record.next_check is not None:
                    idx.schedule(cid, step.record.next_check)

    later = []
    for rec in scored:  # one encoding per pool record for the customers not due
        rec.next_check = now + 1 + rng.random() * 86_400 * 30
        later.append((rec.next_check, rec.encode()))
    due_records = {}
    for i in range(customers):
        key = f"c{i}"
        if i < due_n:
            rec = rng.choice(scored)
            rec.next_check = now - rng.random() * 1000
            due_records[key] = (rec.next_check, rec.encode())
        else:
            nc, raw = rng.choice(later)
            table[key.encode()] = raw
            idx.schedule(key, nc)

    def reset() -> None:  # the due customers are due again
        for key, (nc, raw) in due_records.items():
            table[key.encode()] = raw
            idx.schedule(key, nc)

    ours, base = [], []
    for _ in range(repeats):
        reset()
        t0 = time.perf_counter()
        got = idx.pop_due_items(now)
        rescore(got)
        ours.append(time.perf_counter() - t0)
        assert len(got) == due_n, len(got)
        reset()
        t0 = time.perf_counter()
        scan = [(k.decode(), t) for k, raw in table.items()
                if (t := CustomerRecord.peek_next_check(raw)) is not None and t <= now]
        rescore(scan)
        base.append(time.perf_counter() - t0)
        assert len(scan) == due_n
    return sorted(ours)[len(ours) // 2], sorted(base)[len(base) // 2]
