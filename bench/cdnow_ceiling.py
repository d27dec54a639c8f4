"""How far can *any* model get on the CDNOW question? (prints numbers; not a test)

The quality target asks for ROC AUC ≥ 0.775 ranking customers as of 1997-09-30 by "no
purchase 1997-10-01..1998-06-30". This script fits batch models **to that holdout
truth itself**, 5-fold cross-validated (each customer scored by a model that learned
the other customers' real outcomes), on everything the calibration period holds:
recency, frequency, age, spend, items, inter-purchase gaps, purchases and spend in
the last 30/90/180 days, and the 40-week purchase and spend histograms; and, to
compare, the stream's own feature vectors (``models.features``, squashed as the shipped
pipeline squashes them) in a batch logistic regression. No model that
learns only from the calibration period can see the truth, so these figures bound
what the calibration data supports; the stream's own pipeline is bounded the same way
in ``bench/quality.py`` (``ceiling``).

Needs the ``analysis`` extra (scikit-learn, LightGBM), which the product does not:
``.venv/bin/pip install -e '.[analysis]' && .venv/bin/python bench/cdnow_ceiling.py``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cdnow import AS_OF, load, truth_and_recency  # noqa: E402
from bench.quality import features_at  # noqa: E402
from models.model import squash  # noqa: E402

WEEKS = 40


def matrices(events) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per customer seen by the cut-off: (ids, summary features, weekly count+spend histogram)."""
    days = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))  # cid -> day -> [items, spend]
    for e in events:
        if e.occurred_at <= AS_OF:
            d = days[e.customer_id][(AS_OF - e.occurred_at).days]
            d[0] += e.items
            d[1] += e.amount
    ids = sorted(days)
    summary, hist = [], np.zeros((len(ids), 2 * WEEKS))
    for i, c in enumerate(ids):
        ago = sorted(days[c])  # days before the cut-off, newest first
        rec, age, freq = ago[0], ago[-1], len(ago) - 1
        gaps = np.diff(ago[::-1]) * -1 if freq else np.zeros(1)
        spend = sum(v[1] for v in days[c].values())
        items = sum(v[0] for v in days[c].values())
        summary.append([rec, age, freq, spend, spend / len(ago), items / len(ago), gaps.mean(), gaps[-1],
                        *(sum(1 for a in ago if a < w) for w in (30, 90, 180)),
                        rec / (gaps.mean() + 1) if freq else rec / (age + 1)])
        for a in ago:
            hist[i, a // 7] += 1
            hist[i, WEEKS + a // 7] += days[c][a][1]
    return ids, np.array(summary, float), hist


def main() -> None:
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    events = load()
    churned, weeks = truth_and_recency(events)
    ids, summary, hist = matrices(events)
    y = np.array([churned[c] for c in ids])
    print(f"CDNOW: {len(ids)} customers, {y.mean():.1%} churn in the holdout; "
          f"weeks since last purchase ROC AUC {roc_auc_score(y, [weeks[c] for c in ids]):.3f}")
    logged = np.column_stack([np.log1p(np.abs(summary)), summary])
    ours = features_at(events)
    names = sorted({k for x in ours.values() for k in x})
    stream_features = np.array([[squash(ours[c]).get(k, 0.0) for k in names] for c in ids])
    candidates = {
        "logistic, the stream's own features": (
            lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)), stream_features),
        "logistic, summary (log + raw)": (lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)), logged),
        "logistic, summary + weekly histograms": (
            lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
            np.column_stack([logged, np.log1p(hist)])),
        "LightGBM, summary": (lambda: LGBMClassifier(n_estimators=400, learning_rate=0.02, num_leaves=7,
                                                     min_child_samples=50, subsample=0.8, subsample_freq=1,
                                                     colsample_bytree=0.8, verbose=-1), summary),
        "LightGBM, summary + weekly histograms": (
            lambda: LGBMClassifier(n_estimators=500, learning_rate=0.02, num_leaves=7, min_child_samples=50,
                                   subsample=0.8, subsample_freq=1, colsample_bytree=0.5, verbose=-1),
            np.column_stack([summary, hist])),
    }
    print("Fitted to the holdout truth itself, 5-fold CV, three fold seeds:")
    for name, (make, x) in candidates.items():
        aucs = [roc_auc_score(y, cross_val_predict(make(), x, y, method="predict_proba",
                                                   cv=StratifiedKFold(5, shuffle=True, random_state=s))[:, 1])
                for s in (0, 1, 2)]
        print(f"  {name:40s} ROC AUC {' '.join(f'{a:.4f}' for a in aucs)}", flush=True)
    make, x = candidates["logistic, summary (log + raw)"]
    curve = {k: roc_auc_score(y, cross_val_predict(make(), x, y, method="predict_proba",
                                                   cv=StratifiedKFold(k, shuffle=True, random_state=0))[:, 1])
             for k in (2, 5, 20)}
    print("Learning curve, logistic on the summary (training on 1/2, 4/5, 19/20 of the customers): "
          + ", ".join(f"{k}-fold {a:.4f}" for k, a in curve.items()))


if __name__ == "__main__":
    main()
