"""``churn-alert backtest`` as a user runs it, on both data sets the model is judged on:
events written by ``churn-alert simulate --out`` and a CDNOW-format purchase log turned
into events by ``bench/cdnow.py --out``; every customer seen before ``--as-of`` gets a
``customer_id,score,tier`` row, and the scores rank the known outcomes."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.cdnow import AS_OF, evaluate, load
from models.metrics import roc_auc
from schemas.events import TIERS
from tests.commandline import churn_alert

REPO = Path(__file__).resolve().parents[2]


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=240, check=False)


def rows(path: Path) -> dict[str, tuple[float, str]]:
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["customer_id", "score", "tier"]
        return {cid: (float(score), tier) for cid, score, tier in reader}


def test_backtest_of_a_simulated_run_scores_every_customer_and_ranks_the_churners(tmp_path):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    as_of = start + timedelta(days=240)
    ok(churn_alert("simulate", "--customers", "200", "--days", "240", "--seed", "11", "--start", start.isoformat(),
                   "--out", str(tmp_path / "sim.jsonl"), cwd=tmp_path))
    ok(churn_alert("backtest", str(tmp_path / "sim.jsonl"), "--as-of", as_of.isoformat(), "--out", str(tmp_path / "s.csv"),
                   cwd=tmp_path))
    seen = {json.loads(line)["customer_id"] for line in (tmp_path / "sim.jsonl").read_text().splitlines()}
    got = rows(tmp_path / "s.csv")
    assert set(got) == seen
    assert all(0.0 <= s <= 1.0 and t in TIERS for s, t in got.values())
    fates = json.loads((tmp_path / "sim.fates.json").read_text())
    gone = {c: f["churn_at"] is not None and datetime.fromisoformat(f["churn_at"]) <= as_of for c, f in fates.items()}
    assert 10 <= sum(gone[c] for c in got) <= len(got) - 10, "both outcomes occur"
    assert roc_auc([got[c][0] for c in sorted(got)], [gone[c] for c in sorted(got)]) > 0.85


def cdnow_like(path: Path, customers: int, seed: int = 3) -> None:
    """A purchase log in CDNOW's format: customers join in Jan–Mar 1997 and buy at their own
    rate until they drop out, so recent buyers are likelier to buy again (as in CDNOW)."""
    rng, lines = random.Random(seed), []
    for c in range(1, customers + 1):
        day = date(1997, 1, 1) + timedelta(days=rng.randrange(90))
        rate, p_drop = rng.uniform(1 / 90, 1 / 15), rng.uniform(0.05, 0.4)
        while day <= date(1998, 6, 30):
            lines.append(f"{c:05d} {day:%Y%m%d} {rng.randint(1, 4)} {rng.uniform(10, 80):.2f}")
            if rng.random() < p_drop:
                break
            day += timedelta(days=1 + int(rng.expovariate(rate)))
    path.write_text("\n".join(lines) + "\n")


def test_backtest_of_cdnow_as_the_readme_runs_it(tmp_path):
    data = tmp_path / "CDNOW_master.txt"
    cdnow_like(data, 1500)
    bench = str(REPO / "bench" / "cdnow.py")
    ok(python(bench, "--data", str(data), "--out", str(tmp_path / "cdnow.jsonl"), cwd=tmp_path))
    ok(churn_alert("backtest", str(tmp_path / "cdnow.jsonl"), "--as-of", AS_OF.isoformat(), "--horizon-days", "90",
                   "--out", str(tmp_path / "scores.csv"), cwd=tmp_path))
    got = rows(tmp_path / "scores.csv")
    assert set(got) == {e.customer_id for e in load(data) if e.occurred_at <= AS_OF}
    assert all(0.0 <= s <= 1.0 and t in TIERS for s, t in got.values())

    figures = evaluate(load(data), tmp_path / "scores.csv")
    assert figures["customers"] == len(got) and 0.2 < figures["churn_share"] < 0.9
    assert figures["roc_auc"] > 0.7, figures
    printed = ok(python(bench, "--data", str(data), "--evaluate", str(tmp_path / "scores.csv"), cwd=tmp_path)).stdout
    assert f"ROC AUC {figures['roc_auc']:.3f}" in printed and f"weeks since last purchase {figures['recency_roc_auc']:.3f}" in printed

    # scores of another cut-off are refused, not ranked against the wrong customers
    with (tmp_path / "scores.csv").open("a") as fh:
        fh.write("99999,0.5,none\n")
    refused = python(bench, "--data", str(data), "--evaluate", str(tmp_path / "scores.csv"), cwd=tmp_path)
    assert refused.returncode == 2 and "1 scored customers not seen before it" in refused.stderr
