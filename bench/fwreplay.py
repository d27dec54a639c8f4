"""Forward-looking figures of learner variants without re-running the backtest.

The label stream of a backtest does not depend on the model (snapshots are taken and
resolved by the customers' events), so one backtest per simulated run is enough:
``capture`` runs it once (``bench/quality.py``'s forward-looking run, with the same
cut-offs), recording every labelled example in the order the learner got it, every
vocabulary change between them, the feature vectors scored at each cut-off, the
baselines of the same run (days since the last event, Gold's batch logistic
regression) and the truth. ``replay`` then feeds the same stream to any learner and
scores the cut-off vectors with it: with the shipped learner it gives the captured
scores exactly (checked by ``capture``), in a minute instead of a quarter of an hour.

Also the **oracle ceiling** (:func:`oracles`): what ranking the customers at T can reach
with knowledge no model has — the simulator's own churn probability of each customer
(app-centred subscribers: the renewal hazards their plan sets, :mod:`simulator.app`),
and Gold's batch regression fitted in-sample on the truth of T itself, on its own
features and on ours.

Usage::

    python bench/fwreplay.py capture --kind app --customers 600 --seed 7 --out /tmp/app7.pkl
    python bench/fwreplay.py oracle /tmp/app7.pkl
    python bench/fwreplay.py replay /tmp/app7.pkl [--variants shipped,noreplay,...]
"""

from __future__ import annotations

import argparse
import math
import pickle
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import forward  # noqa: E402
from bench.quality import FW_HORIZON, SIM_START  # noqa: E402
from config.settings import Settings  # noqa: E402
from engine import backtest as bt  # noqa: E402
from models.learner import Learner  # noqa: E402
from models.metrics import roc_auc, top_lift  # noqa: E402
from models.model import ChurnModel, squash  # noqa: E402
from simulator.plan import DAY  # noqa: E402


# ------------------------------------------------------------------ capture
class _Recording(Learner):
    """The backtest's learner, logging what it is given."""

    log: list = []

    def update(self, ex):  # noqa: ANN001, ANN201
        _Recording.log.append(("ex", dict(ex.x), bool(ex.y), ex.taken_at))
        return super().update(ex)

    def use_vocabulary(self, vocab):  # noqa: ANN001, ANN201
        _Recording.log.append(("vocab", vocab))
        return super().use_vocabulary(vocab)

    def handover(self):  # noqa: ANN201
        _Recording.log.append(("cut",))  # the backtest asks at each cut-off (and once at its end)
        return super().handover()


def _run(events, as_of, settings, cuts):  # noqa: ANN001, ANN202
    _Recording.log = []
    bt.Learner = _Recording
    try:
        return bt.run_backtest(events, as_of=as_of, settings=settings, ordered=True, cutoffs=cuts, keep_features=True)
    finally:
        bt.Learner = Learner


def _check(data: dict) -> None:
    again = replay(data, Learner)
    same = len(again) == len(data["cutoffs"]) and all(c["ours"] == r["scores"] for c, r in zip(data["cutoffs"], again))
    print(f"replay of the shipped learner gives the captured scores exactly: {same}")


def capture_cdnow(out: Path, path: str | None = None) -> None:
    """CDNOW as ``bench/quality.py`` runs it (90-day horizon, default label rule): one
    cut-off a second before 1997-09-30 23:59; truth no purchase in the holdout; the
    "batch" column holds weeks since the last purchase."""
    from bench.cdnow import AS_OF, load, truth_and_recency

    t0 = time.perf_counter()
    events = sorted(load(path), key=lambda e: e.occurred_at)
    churned, weeks = truth_and_recency(events)
    T = AS_OF - timedelta(seconds=1)
    res = _run(events, AS_OF, Settings(horizon_days=90.0), [T])
    cut = res.at[T]
    ids = sorted(churned)
    cutoffs = [{"T": T, "labels": cut.labels, "ids": ids, "ys": [churned[c] for c in ids],
                "x": {c: cut.features[c] for c in ids}, "ours": [cut.scores[c] for c in ids], "version": cut.version,
                "ready": cut.handover.get("ready"), "recency": [weeks[c] for c in ids], "batch": [weeks[c] for c in ids],
                "risk": [math.nan] * len(ids)}]
    data = {"kind": "cdnow", "n": len(ids), "seed": 0, "days": 0, "label_rule": "silence", "events": res.events,
            "log": _Recording.log, "cutoffs": cutoffs}
    out.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"captured CDNOW: {res.events} events, {cut.labels} labels; ROC AUC at the cut-off "
          f"{roc_auc(cutoffs[0]['ours'], cutoffs[0]['ys']):.4f} in {time.perf_counter() - t0:.0f} s -> {out}")
    _check(data)


def capture(kind: str, n: int, seed: int, days: float, n_cut: int, label_rule: str, out: Path,
            backtest: bool = True) -> None:
    """Capture one simulated run (``backtest=False``: only the baselines and the ceilings,
    no online model — minutes instead of an hour for a few thousand customers)."""
    from simulator import Simulator

    if kind == "cdnow":
        capture_cdnow(out)
        return

    t0 = time.perf_counter()
    end = SIM_START + timedelta(days=days)
    sim = Simulator(n, seed=seed, start=SIM_START, horizon_days=days, kind=kind)
    events = sim.events_between(SIM_START, end)
    cuts = forward.cutoffs(SIM_START, days, FW_HORIZON, n_cut)
    if backtest:
        res = _run(events, cuts[-1] + timedelta(seconds=1), Settings(horizon_days=FW_HORIZON, label_rule=label_rule),
                   cuts)
        at = sorted(res.at.items())
    else:
        _Recording.log = []
        at = [(T, None) for T in cuts]
    churn_at = {c: f.churn_at.timestamp() for c, f in sim.fates.items() if f.churn_at is not None}
    H = FW_HORIZON * DAY
    cutoffs = []
    for T_dt, cut in at:
        T = T_dt.timestamp()
        gold_rows, recency = forward.snapshot(events, T)
        batch = forward.batch_baseline(events, T, H, churn_at)
        seen = cut.scores if cut else recency
        ids = sorted(c for c in seen if c in recency and churn_at.get(c, math.inf) > T)
        ys = [T < churn_at.get(c, math.inf) <= T + H for c in ids]
        risk = {}
        if kind == "app":
            plans = {c: s.plan for c, s in sim._customers.items()}  # noqa: SLF001 - the bench reads the truth
            risk = {c: forward.app_renewal_risk(plans[c], T, H, end.timestamp()) for c in ids}
        cutoffs.append({"T": T_dt, "labels": cut.labels if cut else 0, "ids": ids, "ys": ys,
                        "x": {c: cut.features[c] for c in ids} if cut else {},
                        "ours": [cut.scores[c] for c in ids] if cut else [0.0] * len(ids),
                        "version": cut.version if cut else "none", "ready": cut.handover.get("ready") if cut else None,
                        "recency": [recency[c] for c in ids], "batch": [batch.get(c, 0.0) for c in ids],
                        "gold_rows": {c: gold_rows[c] for c in ids}, "risk": [risk.get(c, math.nan) for c in ids]})
    data = {"kind": kind, "n": n, "seed": seed, "days": days, "label_rule": label_rule, "events": len(events),
            "log": _Recording.log, "cutoffs": cutoffs, "backtest": backtest}
    out.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"captured {kind} n={n} seed={seed}: {len(events)} events, {sum(1 for e in _Recording.log if e[0] == 'ex')} "
          f"labels, {len(cutoffs)} cut-offs in {time.perf_counter() - t0:.0f} s -> {out}")
    if backtest:
        _check(data)


# ------------------------------------------------------------------ replay
def replay(data: dict, make_learner, model_kind: str = "logreg") -> list[dict]:  # noqa: ANN001
    """Feed the captured stream to ``make_learner(ChurnModel)`` and score each cut-off."""
    from models.labelling import LabelledExample
    from models.prior import RulePrior

    learner, prior = make_learner(ChurnModel(model_kind)), RulePrior()
    cuts = list(data["cutoffs"])
    out = []
    for entry in data["log"]:
        if entry[0] == "cut":
            if cuts:
                c = cuts.pop(0)  # scored as the backtest's scorer does: by the prior until the model is ready
                score = learner.model.score if learner.ready else prior.score
                out.append({"scores": [score(c["x"][cid]) for cid in c["ids"]], "ready": learner.ready,
                            "model": [learner.model.score(c["x"][cid]) for cid in c["ids"]]})
        elif entry[0] == "vocab":
            learner.use_vocabulary(entry[1])
        else:
            _, x, y, taken = entry
            learner.update(LabelledExample(x=x, y=y, taken_at=taken, resolved_at=taken, model_version="r"))
    return out


def figures(data: dict, scores_per_cut: list[list[float]]) -> tuple[float, float]:
    """Mean over the cut-offs of ROC AUC and top-decile lift."""
    aucs, lifts = [], []
    for c, s in zip(data["cutoffs"], scores_per_cut):
        aucs.append(roc_auc(s, c["ys"]))
        lifts.append(top_lift(s, c["ys"], 0.1) if data["kind"] != "cdnow" else math.nan)
    return statistics.mean(aucs), statistics.mean(lifts)


# ------------------------------------------------------------------ oracles
def _fit_on_truth(rows: list[dict], ys: list[bool], transform=np.log1p, folds: int = 0) -> list[float]:  # noqa: ANN001
    """Batch L2 logistic regression fitted on the truth of T: in-sample (``folds=0``; it
    scores the customers it learnt) or ``folds``-fold cross-validated."""
    cols = sorted({k for r in rows for k in r})
    X = transform(np.array([[r.get(k, 0.0) for k in cols] for r in rows], dtype=float))
    y = np.array(ys, dtype=float)
    parts = [np.arange(len(y))] if not folds else [np.arange(k, len(y), folds) for k in range(folds)]
    out = np.zeros(len(y))
    for test in parts:
        train = np.setdiff1d(np.arange(len(y)), test) if folds else test
        mu, sd = X[train].mean(axis=0), X[train].std(axis=0)
        sd[sd == 0] = 1.0
        w = forward.fit_logistic((X[train] - mu) / sd, y[train], l2=1.0)
        Z = (X[test] - mu) / sd
        out[test] = np.hstack([Z, np.ones((len(Z), 1))]) @ w
    return out.tolist()


def _signed_log1p(X: np.ndarray) -> np.ndarray:
    return np.sign(X) * np.log1p(np.abs(X))


def oracle_scores(c: dict) -> dict[str, list[float]]:
    """The ceilings at one cut-off: the simulator's own probability (app), and batch
    logistic regressions fitted in-sample on the truth of T (Gold's features; ours)."""
    out = {}
    if not any(math.isnan(r) for r in c["risk"]):
        out["simulator's own churn probability"] = c["risk"]
    gold, ours = [c["gold_rows"][i] for i in c["ids"]], [squash(c["x"][i]) for i in c["ids"] if i in c["x"]]
    for folds, how in ((0, "in-sample"), (5, "5-fold CV")):
        out[f"Gold's features fit on the truth of T, {how}"] = _fit_on_truth(gold, c["ys"], folds=folds)
        if len(ours) == len(gold):
            out[f"our features fit on the truth of T, {how}"] = _fit_on_truth(ours, c["ys"], lambda a: a, folds)
    return out


def oracles(data: dict, boots: int = 200) -> dict[str, tuple[float, float]]:
    """Per cut-off and mean: customers, top-decile size, churners, and ROC AUC / lift (95 %
    bootstrap interval) of ours, the baselines and the oracles."""
    rng = random.Random(data["seed"])
    means: dict[str, list[tuple[float, float]]] = {}
    per_cut: dict[str, list[list[float]]] = {}  # each scorer's scores per cut-off (the mean's interval)
    print(f"{data['kind']} n={data['n']} seed={data['seed']} ({data['label_rule']}): forward-looking ceilings")
    for c in data["cutoffs"]:
        n, ys = len(c["ids"]), c["ys"]
        top = max(1, int(round(0.1 * n)))
        print(f"  T = {c['T']:%Y-%m-%d}: {n} customers, {sum(ys)} churn in (T, T+30d] ({sum(ys) / n:.1%}), "
              f"top decile {top} customers (a perfect ranking's lift {min(top, sum(ys)) / top / (sum(ys) / n):.2f}); "
              f"scorer {c['version']}")
        ours = {"online model (ours)": c["ours"]} if data.get("backtest", True) else {}
        scorers = {**ours, "days since last event": c["recency"],
                   "batch logistic regression (Gold)": c["batch"], **oracle_scores(c)}
        for name, s in scorers.items():
            a = forward.with_interval(roc_auc, s, ys, boots, rng)
            li = forward.with_interval(lambda s_, y_: top_lift(s_, y_, 0.1), s, ys, boots, rng)
            means.setdefault(name, []).append((a[0], li[0]))
            per_cut.setdefault(name, []).append(s)
            print(f"    {name:52s} ROC AUC {a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}]  lift {li[0]:.2f} [{li[1]:.2f}, {li[2]:.2f}]")
    print("  mean over the cut-offs (95 % interval: the customers of every cut-off resampled together):")
    cuts = data["cutoffs"]
    draws = [[[rng.randrange(len(c["ids"])) for _ in c["ids"]] for c in cuts] for _ in range(boots)]
    res = {}
    for name, v in means.items():
        res[name] = (statistics.mean(a for a, _ in v), statistics.mean(li for _, li in v))
        lifts, aucs = [], []
        for idx in draws:
            ls, aus = [], []
            for c, s, ix in zip(cuts, per_cut[name], idx):
                ys = [c["ys"][i] for i in ix]
                if 0 < sum(ys) < len(ys):
                    sc = [s[i] for i in ix]
                    ls.append(top_lift(sc, ys, 0.1))
                    aus.append(roc_auc(sc, ys))
            if len(ls) == len(cuts):
                lifts.append(statistics.mean(ls))
                aucs.append(statistics.mean(aus))
        lifts.sort()
        aucs.sort()
        lo, hi = int(0.025 * len(lifts)), min(len(lifts) - 1, int(0.975 * len(lifts)))
        print(f"    {name:52s} ROC AUC {res[name][0]:.3f} [{aucs[lo]:.3f}, {aucs[hi]:.3f}]  "
              f"lift {res[name][1]:.2f} [{lifts[lo]:.2f}, {lifts[hi]:.2f}]")
    return res


# ------------------------------------------------------------------ variants
def main(argv=None):  # noqa: ANN001, ANN201
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--kind", default="app")
    c.add_argument("--customers", type=int, default=600)
    c.add_argument("--seed", type=int, default=7)
    c.add_argument("--days", type=float, default=365.0)
    c.add_argument("--cutoffs", type=int, default=4)
    c.add_argument("--label-rule", default="stops")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--no-backtest", action="store_true", help="only the baselines and the ceilings")
    o = sub.add_parser("oracle")
    o.add_argument("paths", nargs="+", type=Path)
    o.add_argument("--boots", type=int, default=200)
    r = sub.add_parser("replay")
    r.add_argument("paths", nargs="+", type=Path)
    r.add_argument("--variants", default="shipped,noreplay")
    args = ap.parse_args(argv)
    if args.cmd == "capture":
        capture(args.kind, args.customers, args.seed, args.days, args.cutoffs, args.label_rule, args.out,
                not args.no_backtest)
    elif args.cmd == "oracle":
        for p in args.paths:
            oracles(pickle.loads(p.read_bytes()), args.boots)
    else:
        from bench.fwvariants import composed
        from bench.fwvariants import variants as all_variants

        variants = all_variants()
        for p in args.paths:
            data = pickle.loads(p.read_bytes())
            batch = statistics.mean(roc_auc(c["batch"], c["ys"]) for c in data["cutoffs"])
            for name in args.variants.split(","):
                t0 = time.perf_counter()
                out = replay(data, variants[name] if name in variants else composed(name))
                auc, lift = figures(data, [o["scores"] for o in out])
                mauc, mlift = figures(data, [o["model"] for o in out])
                ready = "".join("RP"[not o["ready"]] for o in out)  # R: the model in use at the cut-off, P: the prior
                print(f"{data['kind']} n={data['n']} seed={data['seed']} {name:22s} ROC AUC {auc:.4f} "
                      f"(batch {batch:.3f}, {auc - batch:+.3f})  lift {lift:.2f}  scorer {ready}  "
                      f"(model alone {mauc:.4f}, lift {mlift:.2f})  {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
