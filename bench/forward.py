"""Forward-looking evaluation: rank at cut-off T the customers still there, against churn in (T, T+H].

Called by ``bench/quality.py``. One backtest pass over a simulated run gives our
online model's score of every customer at each cut-off (the stream's own code; the
model learns only labels resolved before T). At each T the customers seen before T
who have not churned by T are ranked; truth: they churn in (T, T+H]. In the same
run, on the same customers, two baselines:

* **recency**: days since the customer's last event;
* **batch** (C. Gold, *Fighting Churn with Data*, 2020): logistic regression on log1p of
  28-day counts of every event kind (order status, ticket action, app activity) and
  every app feature, plus tenure, standardised; fitted on the customers active at
  T-H with labels churn in (T-H, T], then scoring the snapshot at T.

ROC AUC, PR AUC and top-decile lift, each with a bootstrap 95 % interval (customers
resampled).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np

from models.metrics import pr_auc, roc_auc, top_lift

DAY = 86_400.0
METRICS = {"ROC AUC": roc_auc, "PR AUC": pr_auc, "top-decile lift": lambda s, y: top_lift(s, y, 0.1)}


def kind_of(e) -> list[str]:  # noqa: ANN001
    """The event kinds an event counts toward (the batch baseline's columns)."""
    if e.event_type == "order":
        return [f"order_{e.status}"]
    if e.event_type == "support":
        return [f"support_{e.action}"] + (["support_complaint"] if e.is_complaint else [])
    if e.event_type == "app_activity":
        return [f"app_{e.activity}"] + ([f"feature_{e.feature}"] if e.feature else [])
    return []


def snapshot(events, cut: float, window_days: float = 28.0):
    """Per customer seen before ``cut``: counts of each kind in the last 28 days, tenure,
    days since the last event."""
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    first, last = {}, {}
    lo = cut - window_days * DAY
    for e in events:
        t = e.occurred_at.timestamp()
        if t >= cut:
            break
        kinds = kind_of(e)
        if not kinds:
            continue
        c = e.customer_id
        first.setdefault(c, t)
        last[c] = t
        if t >= lo:
            row = counts[c]
            for k in kinds:
                row[k] += 1
    rows = {c: {**counts[c], "tenure_days": (cut - first[c]) / DAY} for c in first}
    recency = {c: (cut - last[c]) / DAY for c in last}
    return rows, recency


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 30) -> np.ndarray:
    """Batch L2 logistic regression by Newton's method; weights with the intercept last."""
    Xb = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xb.shape[1])
    reg = l2 * np.eye(Xb.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(Xb @ w)))
        g = Xb.T @ (p - y) + reg @ w
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb + reg
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def batch_baseline(events, T: float, H: float, churn_at: dict[str, float]) -> dict[str, float]:
    """Gold's method: fit at T-H on churn in (T-H, T], score the snapshot at T."""
    train, _ = snapshot(events, T - H)
    test, _ = snapshot(events, T)
    train = {c: r for c, r in train.items() if churn_at.get(c, math.inf) > T - H}
    cols = sorted({k for r in list(train.values()) + list(test.values()) for k in r})

    def matrix(rows, ids):  # noqa: ANN001, ANN202
        return np.log1p(np.array([[rows[c].get(k, 0.0) for k in cols] for c in ids]))

    ids = sorted(train)
    X, y = matrix(train, ids), np.array([T - H < churn_at.get(c, math.inf) <= T for c in ids], dtype=float)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    w = fit_logistic((X - mu) / sd, y)
    tids = sorted(test)
    Z = (matrix(test, tids) - mu) / sd
    return dict(zip(tids, (np.hstack([Z, np.ones((len(Z), 1))]) @ w).tolist()))


def app_renewal_risk(plan, T: float, H: float, end: float) -> float:  # noqa: ANN001
    """P(churn in (T, T+H] | still there at T) for an app subscriber's plan: the renewal
    hazards :func:`simulator.app.draw_app_plan` draws from, and its churn time (up to 25
    days before the renewal that ends it)."""
    from simulator.app import MONTH, renewal_hazard

    alive, p_after, p_in = 1.0, 0.0, 0.0  # P(no churn yet), P(churn_at > T), P(T < churn_at <= T+H)
    m = 1
    while True:
        renewal = plan.active_from + m * MONTH
        if renewal >= end:
            break
        h = renewal_hazard(plan, renewal)
        p_m, alive = alive * h, alive * (1 - h)
        lo, hi = renewal - 25 * DAY, renewal  # churn_at uniform in [lo, hi]
        p_after += p_m * max(0.0, hi - max(lo, T)) / (hi - lo)
        p_in += p_m * max(0.0, min(hi, T + H) - max(lo, T)) / (hi - lo)
        m += 1
    p_after += alive
    return p_in / p_after if p_after > 0 else 0.0


def batch_on_truth(events, T: float, H: float, churn_at: dict[str, float], ids: list[str]) -> list[float]:
    """A ceiling: Gold's regression fitted in-sample on the truth of T itself (the customers
    ``ids`` at T with their churn in (T, T+H]), scoring the same customers (L2 1, as
    ``bench/fwreplay.py oracle``: in-sample fits of a hundred columns over-fit)."""
    rows, _ = snapshot(events, T)
    cols = sorted({k for c in ids for k in rows[c]})
    X = np.log1p(np.array([[rows[c].get(k, 0.0) for k in cols] for c in ids]))
    y = np.array([T < churn_at.get(c, math.inf) <= T + H for c in ids], dtype=float)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    Z = (X - mu) / sd
    w = fit_logistic(Z, y, l2=1.0)
    return (np.hstack([Z, np.ones((len(Z), 1))]) @ w).tolist()


def with_interval(metric, scores: list[float], ys: list[bool], boots: int, rng: random.Random):  # noqa: ANN001
    """(value, low, high): the metric and its bootstrap 95 % interval."""
    value, n, draws = metric(scores, ys), len(ys), []
    for _ in range(boots):
        idx = [rng.randrange(n) for _ in range(n)]
        ys_b = [ys[i] for i in idx]
        if 0 < sum(ys_b) < n:
            draws.append(metric([scores[i] for i in idx], ys_b))
    draws.sort()
    if not draws:
        return value, math.nan, math.nan
    return value, draws[int(0.025 * len(draws))], draws[min(len(draws) - 1, int(0.975 * len(draws)))]


def evaluate(events, result, churn_at: dict[str, float], horizon_days: float, boots: int = 200, seed: int = 0,
             risk=None, oracle: bool = False):  # noqa: ANN001
    """Per cut-off of ``result.at``: the customers, churn rate, scorer in use and the
    three scorers' metrics with intervals. ``oracle``: also two ceilings no model can
    reach, named ``oracle: ...`` — ``risk(customer, T)``, the simulator's own probability of
    churn in (T, T+H] (when given), and Gold's regression fitted on the truth of T."""
    rng, H, out = random.Random(seed), horizon_days * DAY, []
    for T_dt, cut in sorted(result.at.items()):
        T = T_dt.timestamp()
        _, recency = snapshot(events, T)
        batch = batch_baseline(events, T, H, churn_at)
        ids = sorted(c for c in cut.scores if c in recency and churn_at.get(c, math.inf) > T)
        ys = [T < churn_at.get(c, math.inf) <= T + H for c in ids]
        scorers = {"online model (ours)": [cut.scores[c] for c in ids],
                   "days since last event": [recency[c] for c in ids],
                   "batch logistic regression (Gold)": [batch.get(c, 0.0) for c in ids]}
        if oracle and risk is not None:
            scorers["oracle: simulator's churn probability"] = [risk(c, T) for c in ids]
        if oracle and 0 < sum(ys) < len(ys):
            scorers["oracle: Gold's fit on the truth of T"] = batch_on_truth(events, T, H, churn_at, ids)
        row = {"T": T_dt, "customers": len(ids), "churners": sum(ys), "churn": sum(ys) / len(ys) if ids else math.nan,
               "version": cut.version, "handover": cut.handover, "labels": cut.labels, "scorers": {}}
        for name, sc in scorers.items():
            row["scorers"][name] = {m: with_interval(f, sc, ys, boots, rng) for m, f in METRICS.items()}
        out.append(row)
    return out


def cutoffs(start: datetime, days: float, horizon_days: float, n: int) -> list[datetime]:
    """``n`` cut-offs spread over the second half of the run, the last one H before its end."""
    last, first = days - horizon_days, max(2 * horizon_days + 30, days / 2)
    step = (last - first) / max(1, n - 1)
    return [start + timedelta(days=first + i * step) for i in range(n)]
