"""Model-health metrics: exact ranking metrics and the Prometheus instruments.

Every instrument is created against an injectable ``CollectorRegistry`` so tests use
a fresh one. Labels are low-cardinality (``label`` = positive/negative); there is
never a customer id in a label.

>>> roc_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False])
0.75
>>> round(pr_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False]), 3)
0.833
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Exact ROC AUC (Mann-Whitney U, ties count one half); ``nan`` with one class.

    >>> roc_auc([0.5, 0.5], [True, False]), roc_auc([1.0], [True]) != roc_auc([1.0], [True])
    (0.5, True)
    """
    order = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum, n_pos, i = 0.0, 0, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1  # average 1-based rank of the tie group
        for k in range(i, j + 1):
            if labels[order[k]]:
                rank_sum += mid
                n_pos += 1
        i = j + 1
    n_neg = len(order) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pr_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Average precision (area under the precision-recall curve, step-wise).

    >>> pr_auc([0.2, 0.1], [True, False])
    1.0
    """
    pairs = sorted(zip(scores, labels), key=lambda p: -p[0])
    n_pos = sum(1 for _, y in pairs if y)
    if n_pos == 0:
        return float("nan")
    hits, total = 0, 0.0
    for k, (_, y) in enumerate(pairs, start=1):
        if y:
            hits += 1
            total += hits / k
    return total / n_pos


def top_lift(scores: Sequence[float], labels: Sequence[bool], share: float = 0.1) -> float:
    """Positive rate in the top ``share`` of scores divided by the overall rate.

    >>> top_lift([0.9, 0.1, 0.2, 0.3], [True, False, False, False], share=0.25)
    4.0
    """
    n = max(1, int(round(len(scores) * share)))
    top = sorted(zip(scores, labels), key=lambda p: -p[0])[:n]
    base = sum(labels) / len(labels)
    return (sum(y for _, y in top) / n) / base if base else float("nan")


class ModelMetrics:
    """Prometheus instruments of the learner and scorer.

    >>> reg = CollectorRegistry()
    >>> m = ModelMetrics(reg)
    >>> m.examples.labels(label="positive").inc()
    >>> reg.get_sample_value("churn_model_examples_total", {"label": "positive"})
    1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.registry = reg
        self.examples = Counter("churn_model_examples", "Labelled examples learned.", ["label"], registry=reg)
        for label in ("positive", "negative"):
            self.examples.labels(label=label)
        self.published = Counter("churn_model_published_versions", "Model versions published.", registry=reg)
        self.drifts = Counter("churn_model_drifts", "Drifts detected (ADWIN) on the error stream.", registry=reg)
        self.n_seen = Gauge("churn_model_examples_seen", "Examples the current model has learned.", registry=reg)
        self.roc_auc = Gauge("churn_model_rolling_roc_auc_ratio", "Rolling ROC AUC, progressive validation.", registry=reg)
        self.log_loss = Gauge("churn_model_rolling_log_loss", "Rolling log loss (nats), progressive validation.", registry=reg)
        self.brier = Gauge("churn_model_rolling_brier_score", "Rolling Brier score, progressive validation.", registry=reg)
        self.positive_rate = Gauge("churn_model_rolling_positive_ratio", "Share of positives in the rolling window.", registry=reg)
        self.mean_score = Gauge("churn_model_rolling_mean_score_ratio", "Mean predicted score in the rolling window.", registry=reg)
        self.learn_seconds = Histogram(
            "churn_model_learn_duration_seconds", "Time to validate and learn one example.",
            buckets=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1), registry=reg)
        self.model_loads = Counter("churn_model_loads", "Model versions loaded by a scorer.", registry=reg)
        self.using_prior = Gauge("churn_model_using_prior", "1 while the scorer uses the rule-based prior (no model, or "
                                 "none ready: hand-over state).", registry=reg)
        self.loaded_version = Gauge("churn_model_loaded_version", "Sequence number of the newest model version the "
                                    "scorer loaded (m-000042 → 42; 0: none). Alerts name it while using_prior is 0.", registry=reg)
        self.score_seconds = Histogram(
            "churn_model_score_duration_seconds", "Time to score one feature vector (prior or model).",
            buckets=(1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2), registry=reg)
