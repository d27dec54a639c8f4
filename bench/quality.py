"""Model quality and cost figures (prints numbers; not a test).

(a) CDNOW: the backtest (the stream's own state → features → labelling → learner →
    scorer code, in event-time order) up to 1997-09-30 23:59 with a 90-day label
    horizon, then every customer is scored; truth = no purchase 1997-10-01..1998-06-30.
    Printed next to the recency baseline of the same run, the README anchors and a
    ceiling: the shipped pipeline trained on the holdout truth itself (:func:`ceiling`).
(b) Per-event cost of score and learn (median, p99 µs) for each compared pipeline.
(c) Our simulator (:func:`simulator`): ``--sim-customers`` synthetic customers over
    ``--sim-days`` days through the same backtest with the product's default settings
    (but each ``--sim-tier-modes``) and the shipped model, then :func:`simulator_figures`
    from their last scores, first alerts and true fates.

(d) Forward-looking (:mod:`bench.forward`), the figures that matter: at several
    cut-offs T the customers still there are ranked against churn in (T, T+30 days], next
    to the recency and batch logistic-regression baselines of the same run, for our
    app-centred subscribers and our shoppers (``--forward app,shop``), with the targets.

Usage: ``python bench/quality.py [--kinds logreg,arf,amf,hat] [--horizon-days 90] [--data PATH]
[--sim-customers 0] [--sim-days 365] [--sim-seed 7] [--sim-tier-modes fixed,precision] [--no-cdnow]
[--forward app,shop] [--fw-customers app=600,shop=2000] [--fw-cutoffs 4] [--fw-seeds 1,2,3] [--boots 200]
[--fw-oracle]``
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cdnow import AS_OF, load, truth_and_recency  # noqa: E402
from config.settings import Settings  # noqa: E402
from engine.backtest import run_backtest  # noqa: E402
from models.features import compute_features  # noqa: E402
from models.metrics import pr_auc, roc_auc, top_lift  # noqa: E402
from models.model import DEFAULT_KIND, PIPELINES, ChurnModel  # noqa: E402
from models.state import apply_event  # noqa: E402

ANCHORS = {"BG/NBD -E[holdout purchases]": 0.763, "weeks since last purchase (README)": 0.759}


def cdnow(events, kinds, horizon_days):
    churned, weeks = truth_and_recency(events)
    ids = sorted(churned)
    ys = [churned[c] for c in ids]
    print(f"CDNOW: {len(ids)} customers as of {AS_OF:%Y-%m-%d %H:%M}, {sum(ys) / len(ys):.1%} churn in the holdout; "
          f"label horizon {horizon_days:g} days")
    print(f"  {'recency baseline (this run)':34s} ROC AUC {roc_auc([weeks[c] for c in ids], ys):.3f}")
    for name, auc in ANCHORS.items():
        print(f"  {name:34s} ROC AUC {auc:.3f}")
    settings = Settings(horizon_days=horizon_days)
    models = {}
    for kind in kinds:
        model = ChurnModel(kind)
        t0 = time.perf_counter()
        res = run_backtest(events, as_of=AS_OF, settings=settings, model=model)
        secs = time.perf_counter() - t0
        scores = [res.scores[c][0] for c in ids]
        print(f"  {'model ' + kind:34s} ROC AUC {roc_auc(scores, ys):.3f}  PR AUC {pr_auc(scores, ys):.3f}  "
              f"labels {res.labels} (pos {model.n_pos})  {res.events} events in {secs:.1f} s  version {res.model_version}")
        models[kind] = model
    return models, churned


def features_at(events, as_of=AS_OF) -> dict[str, dict[str, float]]:
    """Every customer's feature vector as of ``as_of`` (the stream's own state and feature code)."""
    states = {}
    for e in events:
        if e.occurred_at <= as_of:
            states[e.customer_id] = apply_event(states.get(e.customer_id), e)
    return {c: compute_features(s, as_of) for c, s in states.items()}


def ceiling(features, churned, kind=DEFAULT_KIND, folds=5, epochs=5, seed=0) -> float:
    """ROC AUC of ``kind`` *trained on the holdout truth itself*, ``folds``-fold cross-validated.

    No honest model can see the truth, so this bounds what the features and the pipeline
    can reach on the CDNOW question: each fold's model learns the other folds' customers'
    features as of the cut-off with their real holdout outcome (``epochs`` shuffled passes)
    and scores the held-out fold.
    """
    ids = sorted(features)
    rng = random.Random(seed)
    rng.shuffle(ids)
    scores = {}
    for k in range(folds):
        test, train = ids[k::folds], [c for i, c in enumerate(ids) if i % folds != k]
        model = ChurnModel(kind)
        for _ in range(epochs):
            rng.shuffle(train)
            for c in train:
                model.learn(features[c], churned[c])
        scores.update((c, model.score(features[c])) for c in test)
    return roc_auc([scores[c] for c in ids], [churned[c] for c in ids])


def cost(models, features, churned, n=2000):
    """Median and p99 µs of score and learn on real feature vectors as of the cut-off."""
    ids = sorted(features)[:n]
    xs = [features[c] for c in ids]
    print(f"Per-event cost on {len(xs)} CDNOW feature vectors ({len(xs[0])} features):")
    for kind, model in models.items():
        sc, le = [], []
        for x in xs:
            t0 = time.perf_counter()
            model.score(x)
            sc.append(time.perf_counter() - t0)
        copy = ChurnModel.from_bytes(model.to_bytes())
        for c, x in zip(ids, xs):
            t0 = time.perf_counter()
            copy.learn(x, churned[c])
            le.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        copy.explain(xs[0])
        ex = time.perf_counter() - t0
        print(f"  {kind:7s} score median {_us(sc, 50)} p99 {_us(sc, 99)} µs | learn median {_us(le, 50)} "
              f"p99 {_us(le, 99)} µs | explain {ex * 1e6:.0f} µs | {len(model.to_bytes()) / 1024:.0f} KiB pickled")


def _us(samples, q):
    return f"{statistics.quantiles(samples, n=100)[q - 1] * 1e6:7.1f}" if q < 100 else "-"


# ---------------------------------------------------------------- (c) our simulator
def simulator_figures(scored, fates, *, top_share=0.1):
    """Figures on our simulator: ``scored`` is ``[(customer_id, score, alerted_at | None)]``
    (last score per customer; ``alerted_at`` = first alert, aware datetime); ``fates`` maps
    customer_id → churn time (aware datetime) or ``None`` for a customer who stays.

    Returns ROC AUC, PR AUC, top-decile lift, share of churners alerted before they
    churned, median days of warning and alert precision (alerted who churned later).
    """
    rows = [(c, s, a, fates.get(c)) for c, s, a in scored if c in fates]
    scores, ys = [s for _, s, _, _ in rows], [f is not None for *_, f in rows]
    churners = [r for r in rows if r[3] is not None]
    warned = [r for r in churners if r[2] is not None and r[2] < r[3]]
    alerted = [r for r in rows if r[2] is not None]
    days = [(f - a).total_seconds() / 86400 for _, _, a, f in warned]
    return {"customers": len(rows), "roc_auc": roc_auc(scores, ys), "pr_auc": pr_auc(scores, ys),
            "top_decile_lift": top_lift(scores, ys, top_share),
            "churners_alerted_before_churn": len(warned) / len(churners) if churners else float("nan"),
            "median_days_of_warning": statistics.median(days) if days else float("nan"),
            "alert_precision": sum(1 for r in alerted if r[3] is not None and r[2] < r[3]) / len(alerted)
            if alerted else float("nan")}


SIM_START = datetime(2024, 1, 1, tzinfo=UTC)


def simulator(n_customers: int, days: float, seed: int, kind: str = DEFAULT_KIND, tier_mode: str = "fixed") -> dict:
    """Backtest ``n_customers`` simulated customers over ``days`` days; figures vs their fates.

    Churners churn within the simulated span (the simulator's ``horizon_days``), so every
    fate is known at the end; scores are as of the end, alerts are the first of each
    customer during the run.
    """
    from simulator import Simulator

    end = SIM_START + timedelta(days=days)
    sim = Simulator(n_customers, seed=seed, start=SIM_START, horizon_days=days)
    events = sim.events_between(SIM_START, end)
    t0 = time.perf_counter()
    res = run_backtest(events, as_of=end, settings=Settings(tier_mode=tier_mode), model=ChurnModel(kind))
    secs = time.perf_counter() - t0
    fates = {c: f.churn_at for c, f in sim.fates.items()}
    scored = [(c, s, res.first_alert_at.get(c)) for c, (s, _) in res.scores.items()]
    figs = simulator_figures(scored, fates)
    figs.update(events=res.events, labels=res.labels, seconds=secs, model_version=res.model_version, tiers=res.tiers,
                tier_mode=tier_mode,
                churners=sum(1 for f in fates.values() if f is not None), alerted=len(res.first_alert_at))
    return figs


def print_simulator(figs: dict, days: float, seed: int) -> None:
    f = figs
    print(f"Simulator: {f['customers']} customers ({f['churners']} churn) over {days:g} days, seed {seed}, "
          f"default settings but CHURN_TIER_MODE={f['tier_mode']}; {f['events']} events, {f['labels']} labels, "
          f"{f['seconds']:.1f} s, model {f['model_version']}, tiers at the end {'/'.join(f'{x:.2f}' for x in f['tiers'])}")
    print(f"  ROC AUC {f['roc_auc']:.3f}  PR AUC {f['pr_auc']:.3f}  top-decile lift {f['top_decile_lift']:.2f}")
    print(f"  churners alerted before they churned {f['churners_alerted_before_churn']:.1%}  "
          f"median days of warning {f['median_days_of_warning']:.1f}  "
          f"alert precision {f['alert_precision']:.1%} ({f['alerted']} customers alerted)")


# ---------------------------------------------------------------- (d) forward-looking
FW_HORIZON = 30.0


def forward_run(kind: str, n: int, days: float, seed: int, n_cut: int, boots: int, label_rule: str = "silence",
                oracle: bool = False) -> list[dict]:
    """Simulate, backtest once with cut-offs, evaluate each cut-off against the fates
    (``oracle``: with the ceilings of :func:`bench.forward.evaluate`)."""
    from bench import forward
    from simulator import Simulator

    end = SIM_START + timedelta(days=days)
    sim = Simulator(n, seed=seed, start=SIM_START, horizon_days=days, kind=kind)
    events = sim.events_between(SIM_START, end)
    cuts = forward.cutoffs(SIM_START, days, FW_HORIZON, n_cut)
    res = run_backtest(events, as_of=cuts[-1] + timedelta(seconds=1),
                       settings=Settings(horizon_days=FW_HORIZON, label_rule=label_rule), ordered=True, cutoffs=cuts)
    churn_at = {c: f.churn_at.timestamp() for c, f in sim.fates.items() if f.churn_at is not None}
    risk = None
    if kind == "app":
        plans = {c: s.plan for c, s in sim._customers.items()}  # noqa: SLF001 - the bench reads the truth
        risk = lambda c, T: forward.app_renewal_risk(plans[c], T, FW_HORIZON * 86_400, end.timestamp())  # noqa: E731
    rows = forward.evaluate(events, res, churn_at, FW_HORIZON, boots=boots, seed=seed, risk=risk, oracle=oracle)
    print(f"Forward-looking, {kind} simulator: {n} customers, {days:g} days, seed {seed}, {res.events} events "
          f"({res.events / res.seconds:,.0f}/s), horizon {FW_HORIZON:g} days, default settings but "
          f"CHURN_LABEL_RULE={label_rule}; "
          f"vocabulary at the end: {', '.join(v for v in res.vocabulary if v)}")
    for row in rows:
        h = row["handover"]
        print(f"  T = {row['T']:%Y-%m-%d}: {row['customers']} customers still there, {row['churners']} "
              f"({row['churn']:.1%}) churn in (T, T+{FW_HORIZON:g}d], top decile {round(0.1 * row['customers'])} "
              f"customers; scorer {row['version']} ({'model' if h.get('ready') else 'rule prior'}: "
              f"{h.get('n_seen')} labels, {h.get('active_positives')} churned / {h.get('active_negatives')} stayed "
              f"among the recently active, rolling ROC AUC model {_f(h.get('active_roc_auc'))} vs prior "
              f"{_f(h.get('active_prior_roc_auc'))})")
        for name, ms in row["scorers"].items():
            print(f"    {name:38s} " + "  ".join(f"{m} {v:.3f} [{lo:.3f}, {hi:.3f}]" for m, (v, lo, hi) in ms.items()))
    return rows


def _f(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def forward_targets(kind: str, rows: list[dict]) -> dict:
    """Print one run's means over its cut-offs and its targets; return those means."""
    mean = lambda name, m: statistics.mean(r["scorers"][name][m][0] for r in rows)  # noqa: E731
    ours, batch, rec = (mean(n, "ROC AUC") for n in ("online model (ours)", "batch logistic regression (Gold)",
                                                     "days since last event"))
    lift = mean("online model (ours)", "top-decile lift")
    in_use = bool(rows[-1]["handover"].get("ready"))
    print(f"  mean over {len(rows)} cut-offs: ROC AUC ours {ours:.3f}, batch {batch:.3f}, recency {rec:.3f}; "
          f"ours - batch {ours - batch:+.3f}; top-decile lift ours {lift:.2f}, batch "
          f"{mean('batch logistic regression (Gold)', 'top-decile lift'):.2f}; model in use at the last T: {in_use}")
    got = {"ours": ours, "batch": batch, "recency": rec, "lift": lift, "in_use": in_use}
    for name in [n for n in rows[0]["scorers"] if n.startswith("oracle")]:
        got[f"{name} lift"] = mean(name, "top-decile lift")
        print(f"  {name} (a ceiling, not a model): ROC AUC {mean(name, 'ROC AUC'):.3f}, "
              f"top-decile lift {got[f'{name} lift']:.2f}")
    print_targets(kind, got)
    return got


def print_targets(kind: str, got: dict) -> None:
    ours, batch, lift, in_use = got["ours"], got["batch"], got["lift"], got["in_use"]
    if kind == "app":
        print(f"  targets: ours >= batch + 0.02: {'met' if ours >= batch + 0.02 else 'NOT met'}; "
              f"lift >= 4: {'met' if lift >= 4 else 'NOT met'}; model in use by T: {'met' if in_use else 'NOT met'}")
    else:
        print(f"  target: ours >= batch: {'met' if ours >= batch else 'NOT met'}")


def across_seeds(kind: str, rule: str, seeds: list[int], runs: list[dict]) -> None:
    """One run per seed: each seed's difference, then the targets on the means over the seeds
    (one seed's few thousand customers leave differences of a hundredth to chance)."""
    diffs = [r["ours"] - r["batch"] for r in runs]
    mean = {k: statistics.mean(r[k] for r in runs) for k in runs[0] if k != "in_use"}
    mean["in_use"] = all(r["in_use"] for r in runs)
    print(f"Forward-looking, {kind} simulator, CHURN_LABEL_RULE={rule}, over seeds {', '.join(map(str, seeds))}: "
          f"ours - batch per seed {', '.join(f'{d:+.3f}' for d in diffs)} (mean {statistics.mean(diffs):+.3f}, "
          f"sd {statistics.stdev(diffs):.3f}; ours ahead on {sum(d >= 0 for d in diffs)} of {len(diffs)}); "
          f"means: ROC AUC ours {mean['ours']:.3f}, batch {mean['batch']:.3f}, recency {mean['recency']:.3f}, "
          f"top-decile lift ours {mean['lift']:.2f}"
          + "".join(f", {k} {v:.2f}" for k, v in mean.items() if k.startswith("oracle")))
    print_targets(kind, mean)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default=",".join(PIPELINES), help=f"pipelines to compare (default all; shipped: {DEFAULT_KIND})")
    ap.add_argument("--horizon-days", type=float, default=90.0)
    ap.add_argument("--data", default=None, help="CDNOW_master.txt (default ../shared/data)")
    ap.add_argument("--sim-customers", type=int, default=0, help="end-of-year simulator figures (c) for this many "
                    "customers (0: skip; the forward-looking figures (d) replace them)")
    ap.add_argument("--sim-days", type=float, default=365.0)
    ap.add_argument("--sim-seed", type=int, default=7)
    ap.add_argument("--fw-seeds", default=None, help="seeds of the forward-looking runs, e.g. 1,2,3,4,5: a run each, "
                    "then the targets on their means (default: --sim-seed)")
    ap.add_argument("--sim-tier-modes", default="fixed,precision", help="CHURN_TIER_MODE of each simulator run")
    ap.add_argument("--no-cdnow", action="store_true", help="only the simulator figures")
    ap.add_argument("--forward", default="app,shop", help="forward-looking runs: app, shop, both or none")
    ap.add_argument("--fw-customers", default="app=600,shop=2000", help="customers of each forward-looking run")
    ap.add_argument("--fw-cutoffs", type=int, default=4)
    ap.add_argument("--boots", type=int, default=200, help="bootstrap resamples of each interval")
    ap.add_argument("--fw-oracle", action="store_true", help="also the ceilings: the simulator's own churn "
                    "probability (app) and Gold's regression fitted on the truth of each T")
    ap.add_argument("--fw-label-rules", default="stops", help="CHURN_LABEL_RULE of each forward-looking run (silence,stops)")
    args = ap.parse_args(argv)
    sizes = dict((k, int(v)) for k, v in (kv.split("=") for kv in args.fw_customers.split(",")))
    seeds = [int(x) for x in args.fw_seeds.split(",")] if args.fw_seeds else [args.sim_seed]
    for kind in [k for k in args.forward.split(",") if k and k != "none"]:
        for rule in args.fw_label_rules.split(","):
            runs = [forward_targets(kind, forward_run(kind, sizes.get(kind, 1000), args.sim_days, seed,
                                                      args.fw_cutoffs, args.boots, rule, args.fw_oracle))
                    for seed in seeds]
            if len(seeds) > 1:
                across_seeds(kind, rule, seeds, runs)
    if not args.no_cdnow:
        events = load(args.data)
        models, churned = cdnow(events, args.kinds.split(","), args.horizon_days)
        features = features_at(events)
        print(f"  {'ceiling: ' + DEFAULT_KIND + ' fit to the truth':34s} ROC AUC {ceiling(features, churned):.3f}  "
              "(5-fold CV, trained on the holdout outcome itself)")
        cost(models, features, churned)
    if args.sim_customers > 0:
        for mode in args.sim_tier_modes.split(","):
            print_simulator(simulator(args.sim_customers, args.sim_days, args.sim_seed, tier_mode=mode),
                            args.sim_days, args.sim_seed)


if __name__ == "__main__":
    main()
