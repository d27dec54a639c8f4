"""The online churn model: River hidden behind ``score(x)`` / ``learn(x, y)``.

Every pipeline starts with :func:`squash` (signed ``log1p`` of every feature, ratios
capped at 20 first), so counts, amounts and day spans enter on a log scale.
``PIPELINES`` holds the compared candidates; ``DEFAULT_KIND`` is the shipped one
(see docs/MODEL.md for the CDNOW comparison).

Explanations: for the logistic pipeline, ``coef x scaled value`` per feature; for
trees and forests an occlusion estimate (score minus the score with that feature set
to its running mean). Both are spread as shares of ``score - baseline``. Occlusion
costs one score per feature, so it runs only when an alert fires.

>>> m = ChurnModel("logreg")
>>> for i in range(200):
...     m.learn({"days_since_last_order": float(i % 50)}, i % 50 > 30)
>>> m.score({"days_since_last_order": 45.0}) > m.score({"days_since_last_order": 2.0})
True
>>> ChurnModel.from_bytes(m.to_bytes()).score({"days_since_last_order": 9.0}) == m.score({"days_since_last_order": 9.0})
True
"""

from __future__ import annotations

import math
import pickle
import random
import sys
from collections.abc import Callable, Mapping

from river import compose, linear_model, optim, preprocessing

from models.prior import shares, sigmoid, top_reasons
from models.vocabulary import Vocabulary
from schemas.events import Reason

RATIO_CAP = 20.0


def squash(x: Mapping[str, float]) -> dict[str, float]:
    """Signed ``log1p`` of every feature; ``*_ratio`` features capped at 20 first.

    >>> squash({"orders_90d": math.e - 1, "order_overdue_ratio": 1e9, "spend_trend": -(math.e - 1)})
    {'orders_90d': 1.0, 'order_overdue_ratio': 3.044522437723423, 'spend_trend': -1.0}
    """
    out = {}
    for k, v in x.items():
        if k.endswith("_ratio") and v > RATIO_CAP:
            v = RATIO_CAP
        out[k] = math.log1p(v) if v >= 0 else -math.log1p(-v)
    return out


def _logreg() -> compose.Pipeline:
    return (compose.FuncTransformer(squash) | preprocessing.StandardScaler()
            | linear_model.LogisticRegression(optimizer=optim.SGD(0.001), l2=1e-4))


# The tree candidates import river.forest and river.tree (and with them scipy) only when
# built: a second or more of every worker's and backtest's start for a model not shipped.
def _arf() -> compose.Pipeline:
    from river import forest

    return compose.FuncTransformer(squash) | forest.ARFClassifier(n_models=10, seed=42)


def _amf() -> compose.Pipeline:
    from river import forest

    return compose.FuncTransformer(squash) | forest.AMFClassifier(n_estimators=10, seed=42)


def _hat() -> compose.Pipeline:
    from river import tree

    return compose.FuncTransformer(squash) | tree.HoeffdingAdaptiveTreeClassifier(seed=42)


PIPELINES: dict[str, Callable[[], compose.Pipeline]] = {"logreg": _logreg, "arf": _arf, "amf": _amf, "hat": _hat}
DEFAULT_KIND = "logreg"

def _native_weight(estimator: object) -> bool:
    """Whether ``learn_one`` takes a sample weight (logistic regression, Hoeffding trees)."""
    if isinstance(estimator, linear_model.LogisticRegression):
        return True
    tree = sys.modules.get("river.tree")  # loaded by the time a tree exists
    return tree is not None and isinstance(estimator, tree.HoeffdingTreeClassifier)


class ChurnModel:
    """One River pipeline plus the counts the learner and scorer need."""

    def __init__(self, kind: str = DEFAULT_KIND, *, seed: int = 0) -> None:
        self.kind = kind
        self.pipeline = PIPELINES[kind]()
        self.version = f"{kind}-local"
        self.n_seen = self.n_pos = self.n_neg = 0
        self._means: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._native_weight = _native_weight(self.pipeline[list(self.pipeline.steps)[-1]])
        self._changes = 0  # learnt examples and forgotten features: the version of ``_fast``
        self._fast: _Linear | None = None

    def score(self, x: Mapping[str, float]) -> float:
        """Churn probability estimate 0-1 (``predict_proba_one``); 0.5 before any learning.

        The logistic pipeline is scored from its weights folded into one linear function
        of the squashed features (:class:`_Linear`), rebuilt after each change: River's
        three steps build two dicts per score, and scoring runs on every event.
        """
        if self.kind != "logreg":
            return self.pipeline.predict_proba_one(x).get(True, 0.5)
        fast = self._fast
        if fast is None or fast.at != self._changes:
            fast = self._fast = _Linear(self.pipeline, self._changes)
        return fast.score(x)

    def learn(self, x: Mapping[str, float], y: bool, weight: float = 1.0) -> None:
        """Learn one labelled example; ``weight`` is native or by stochastic repetition."""
        self.n_seen += 1
        self._changes += 1
        if y:
            self.n_pos += 1
        else:
            self.n_neg += 1
        means, n = self._means, self.n_seen
        for k, v in x.items():
            m = means.get(k, 0.0)
            means[k] = m + (v - m) / n
        if self._native_weight:
            self.pipeline.learn_one(x, bool(y), w=weight)
            return
        reps = int(weight) + (self._rng.random() < weight - int(weight))
        for _ in range(reps):
            self.pipeline.learn_one(x, bool(y))

    def rehearse(self, x: Mapping[str, float], y: bool, weight: float = 1.0) -> None:
        """Learn ``x`` again (a replayed example): only the last step learns; the counts,
        the running means and the scaler's statistics, which describe the stream, stay."""
        self._changes += 1  # the fast scorer's folded weights are stale
        steps = list(self.pipeline.steps.values())
        z = x
        for step in steps[:-1]:
            z = step.transform_one(z)
        last = steps[-1]
        if self._native_weight:
            last.learn_one(z, bool(y), w=weight)
            return
        for _ in range(int(weight) + (self._rng.random() < weight - int(weight))):
            last.learn_one(z, bool(y))

    def explain(self, x: Mapping[str, float], top: int = 3, vocab: Vocabulary | None = None) -> list[Reason]:
        """Top features raising the score, as shares of ``score - baseline``; ``vocab``
        names the app features of the ``use_<i>_*`` slots."""
        p = self.score(x)
        last = self.pipeline[list(self.pipeline.steps)[-1]]
        if isinstance(last, linear_model.LogisticRegression):
            z = self.pipeline["StandardScaler"].transform_one(squash(x))
            contribs = {k: last.weights.get(k, 0.0) * v for k, v in z.items()}
            return top_reasons(x, shares(contribs, p - sigmoid(last.intercept)), top, vocab)
        contribs = {}
        for k, v in x.items():
            mean = self._means.get(k, v)
            if mean != v:
                contribs[k] = p - self.score({**x, k: mean})
        return top_reasons(x, contribs, top, vocab)

    def forget(self, names: list[str]) -> None:
        """Forget what was learnt about features ``names`` (a vocabulary slot changed its
        key: its weights meant another feature). Logistic pipeline only; trees keep theirs."""
        last = self.pipeline[list(self.pipeline.steps)[-1]]
        if not isinstance(last, linear_model.LogisticRegression):
            return
        scaler = self.pipeline["StandardScaler"]
        self._changes += 1
        for name in names:
            for stat in (last._weights, scaler.counts, scaler.means, scaler.vars):  # noqa: SLF001 - River's own
                if name in stat:
                    del stat[name]
            self._means.pop(name, None)

    def to_bytes(self) -> bytes:
        """Pickle of the whole model (River estimators pickle; see test_model)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> ChurnModel:
        """Inverse of :meth:`to_bytes`; only load bytes from our own registry."""
        obj = pickle.loads(data)
        if not isinstance(obj, cls):
            raise TypeError(f"expected a pickled ChurnModel, got {type(obj).__name__}")
        obj.__dict__.setdefault("_changes", 0)  # models pickled before the fast scorer
        obj._fast = None
        return obj


class _Linear:
    """The logistic pipeline ``squash | StandardScaler | LogisticRegression`` as one linear
    function: ``sigmoid(c + sum a_k * squash(x_k))`` with ``a_k = w_k / sd_k`` and
    ``c = b - sum w_k * mean_k / sd_k``. Same value as River's (up to float rounding):
    a feature the scaler has no spread for contributes 0, and so does a missing one.

    >>> m = ChurnModel("logreg")
    >>> for i in range(100):
    ...     m.learn({"a": float(i % 7), "b_ratio": float(i % 30)}, i % 7 > 3)
    >>> x = {"a": 5.0, "b_ratio": 25.0}
    >>> abs(m.score(x) - m.pipeline.predict_proba_one(x)[True]) < 1e-12
    True
    """

    __slots__ = ("at", "terms", "missing", "c")

    def __init__(self, pipeline: compose.Pipeline, at: int) -> None:
        scaler, last = pipeline["StandardScaler"], pipeline["LogisticRegression"]
        self.at, self.terms, self.missing, self.c = at, [], {}, float(last.intercept)
        for k, w in last._weights.items():  # noqa: SLF001 - River's own weights
            var = scaler.vars.get(k, 0.0)
            if not w or not var:
                continue
            sd = var**0.5
            off = w * scaler.means.get(k, 0.0) / sd
            self.terms.append((k, w / sd, k.endswith("_ratio")))
            self.missing[k] = off  # a feature absent from x: River leaves its term out
            self.c -= off

    def score(self, x: Mapping[str, float]) -> float:
        z, log1p = self.c, math.log1p
        for k, a, ratio in self.terms:
            v = x.get(k)
            if v is None:
                z += self.missing[k]
                continue
            if ratio and v > RATIO_CAP:
                v = RATIO_CAP
            z += a * (log1p(v) if v >= 0 else -log1p(-v))
        if z < -30:  # as river.utils.math.sigmoid
            return 0.0
        return 1.0 if z > 30 else 1.0 / (1.0 + math.exp(-z))
