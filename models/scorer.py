"""Scores on every event: the rule prior until a model has learned enough, then the model.

A stream worker calls :meth:`Scorer.refresh` every ``model_poll_s``; it costs one
Redis GET while the newest version is unchanged. The backtest uses
:meth:`Scorer.from_model` so the learner and the scorer share one model object.

>>> from models.prior import RulePrior
>>> s = Scorer(RulePrior(), min_labels=10)
>>> s.score({"order_overdue_ratio": 3.0})[1]
'rules-1'
"""

from __future__ import annotations

from typing import Mapping

from models.metrics import ModelMetrics
from models.model import ChurnModel
from models.prior import RulePrior
from models.registry import ModelRegistry
from schemas.events import Reason


class Scorer:
    """Rule prior or newest model, whichever is ready; every score names its version."""

    def __init__(self, prior: RulePrior | None = None, *, min_labels: int = 200,
                 metrics: ModelMetrics | None = None) -> None:
        self.prior = prior if prior is not None else RulePrior()
        self.min_labels, self.metrics = min_labels, metrics
        self.model: ChurnModel | None = None
        self.loaded: str | None = None
        if metrics:
            metrics.using_prior.set(1)

    @classmethod
    def from_model(cls, model: ChurnModel, prior: RulePrior | None = None, *, min_labels: int = 200) -> "Scorer":
        """In-process scorer sharing ``model`` with a learner (the backtest).

        >>> s = Scorer.from_model(ChurnModel(), min_labels=0)
        >>> s.score({})
        (0.5, 'logreg-local')
        """
        s = cls(prior, min_labels=min_labels)
        s.model = model
        return s

    def _active(self) -> ChurnModel | RulePrior:
        m = self.model
        return m if m is not None and m.n_seen >= self.min_labels else self.prior

    def score(self, x: Mapping[str, float]) -> tuple[float, str]:
        """``(score, model_version)`` for one feature vector."""
        m = self.model
        if m is not None and m.n_seen >= self.min_labels:
            return m.score(x), m.version
        return self.prior.score(x), self.prior.version

    def explain(self, x: Mapping[str, float], top: int = 3) -> list[Reason]:
        """Top reasons from whichever scorer produced :meth:`score`."""
        return self._active().explain(x, top)

    async def refresh(self, registry: ModelRegistry) -> bool:
        """Load the newest version if it changed; ``True`` when a new model was loaded."""
        v = await registry.latest_version()
        if v is None or v == self.loaded:
            return False
        model = ChurnModel.from_bytes(await registry.load(v))
        model.version = v
        self.model, self.loaded = model, v
        if self.metrics:
            self.metrics.model_loads.inc()
            self.metrics.using_prior.set(0 if model.n_seen >= self.min_labels else 1)
        return True
