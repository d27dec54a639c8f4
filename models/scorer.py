"""Scores on every event: the rule prior until a model is ready, then the model.

A model is used once it has seen ``min_labels`` examples and the learner declared it
ready (enough of both labels, ranking at least as well as the prior on the same
resolved examples; see ``models.learner``).

A stream worker calls :meth:`Scorer.refresh` every ``model_poll_s``; it costs one
Redis GET while the newest version is unchanged. The backtest uses
:meth:`Scorer.from_model` so the learner and the scorer share one model object.

>>> from models.prior import RulePrior
>>> s = Scorer(RulePrior(), min_labels=10)
>>> s.score({"order_overdue_ratio": 3.0})[1]
'rules-1'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from models.metrics import ModelMetrics
from models.model import ChurnModel
from models.prior import RulePrior
from models.vocabulary import SIZE, UsageCounter, Vocabulary, learn_vocabulary, usage_key
from schemas.events import Reason

if TYPE_CHECKING:
    from models.registry import ModelRegistry


def version_number(version: str) -> int:
    """The sequence number of a registry version id; 0 for anything else (the prior).

    >>> version_number("m-000042"), version_number("rules-1")
    (42, 0)
    """
    head, _, n = version.partition("-")
    return int(n) if head == "m" and n.isdigit() else 0


class Scorer:
    """Rule prior or newest model, whichever is ready; every score names its version."""

    def __init__(self, prior: RulePrior | None = None, *, min_labels: int = 200,
                 metrics: ModelMetrics | None = None, vocabulary: Vocabulary | None = None) -> None:
        self.prior = prior if prior is not None else RulePrior()
        self.vocabulary = vocabulary if vocabulary is not None else Vocabulary()  # which key feeds which slot
        self.usage = UsageCounter()  # keys seen since the last flush to the registry
        self.min_labels, self.metrics = min_labels, metrics
        self.model: ChurnModel | None = None
        self.loaded: str | None = None
        self.ready: Callable[[], bool] = lambda: False
        self.model_thresholds: tuple[float, float, float] | None = None  # set from labels by the version's learner
        self.checked = False  # the registry was read at least once (readiness)
        if metrics:
            metrics.using_prior.set(1)

    @classmethod
    def from_model(cls, model: ChurnModel, prior: RulePrior | None = None, *, min_labels: int = 200,
                   ready: Callable[[], bool] | None = None) -> Scorer:
        """In-process scorer sharing ``model`` with a learner (the backtest); ``ready``
        is the learner's verdict (default: always).

        >>> s = Scorer.from_model(ChurnModel(), min_labels=0)
        >>> s.score({})
        (0.5, 'logreg-local')
        """
        s = cls(prior, min_labels=min_labels)
        s.model = model
        s.ready = ready if ready is not None else (lambda: True)
        return s

    def _active(self) -> ChurnModel | RulePrior:
        m = self.model
        return m if m is not None and m.n_seen >= self.min_labels and self.ready() else self.prior

    @property
    def thresholds(self) -> tuple[float, float, float] | None:
        """(watch, high, critical) set from labels for the model in use; ``None``: the configured ones apply."""
        return self.model_thresholds if self.model is not None and self._active() is self.model else None

    def use_thresholds(self, thresholds: list[float] | None) -> None:
        """Apply the (watch, high, critical) thresholds the model's learner set from labels;
        ``None``: the configured ones."""
        self.model_thresholds = (thresholds[0], thresholds[1], thresholds[2]) if thresholds else None

    def score(self, x: Mapping[str, float]) -> tuple[float, str]:
        """``(score, model_version)`` for one feature vector."""
        active = self._active()
        if self.metrics is None:
            return active.score(x), active.version
        t0 = time.perf_counter()
        p = active.score(x)
        self.metrics.score_seconds.observe(time.perf_counter() - t0)
        return p, active.version

    def explain(self, x: Mapping[str, float], top: int = 3) -> list[Reason]:
        """Top reasons from whichever scorer produced :meth:`score`, app features named
        by the vocabulary."""
        return self._active().explain(x, top, vocab=self.vocabulary)

    def note_usage(self, event) -> None:  # noqa: ANN001
        """Count the event's usage key (if any) towards the learnt vocabulary."""
        key = usage_key(event)
        if key is not None:
            self.usage.observe(key)

    async def sync_vocabulary(self, registry: ModelRegistry) -> bool:
        """Flush the usage counts to the registry, propose the next vocabulary from the
        summed counts and adopt whichever the registry holds; ``True`` when it changed.
        A configured vocabulary (``CHURN_APP_FEATURES``) is kept as it is."""
        await registry.add_usage(self.usage.drain())
        if self.vocabulary.configured:
            return False
        current = Vocabulary.from_json(await registry.vocabulary())
        proposed = learn_vocabulary(current, await registry.usage(4 * SIZE))
        if proposed is not current:
            if await registry.propose_vocabulary(current.version, proposed.to_json()):
                current = proposed
            else:  # another worker was first: theirs is the one
                current = Vocabulary.from_json(await registry.vocabulary())
        changed = current != self.vocabulary
        self.vocabulary = current
        return changed

    async def refresh(self, registry: ModelRegistry) -> bool:
        """Sync the vocabulary, then load the newest version if it changed; ``True`` when
        a new model was loaded."""
        await self.sync_vocabulary(registry)
        v = await registry.latest_version()
        self.checked = True
        if v is None or v == self.loaded:
            return False
        model = ChurnModel.from_bytes(await registry.load(v))
        model.version = v
        meta = await registry.meta(v)
        ready = bool(meta.get("ready", False))
        self.model, self.loaded, self.ready = model, v, (lambda: ready)
        self.use_thresholds(meta.get("tiers"))
        if self.metrics:
            self.metrics.model_loads.inc()
            self.metrics.loaded_version.set(version_number(v))
            self.metrics.using_prior.set(0 if self._active() is model else 1)
        return True
