"""The one learner: progressive validation, class balance, periodic publishing.

Each labelled example is first *scored* by the current model, then learned (score
before learn), so the rolling metrics judge the model the way it runs, on delayed
labels. Rolling window metrics: ROC AUC and log loss (river's ``RollingROCAUC`` and
``utils.Rolling(LogLoss)``; the AUC equals the exact Mann-Whitney one without ties and
is within 0.001 of it with them), Brier score, positive rate, mean score and
calibration in five score bins; an ADWIN drift detector watches the
squared error.

Class imbalance: the minority class is weighted by the running
majority/minority ratio (capped at ``max_weight``). Scores then rank like
balanced-odds scores rather than calibrated probabilities, which is what the tier
thresholds (0.5/0.7/0.85) need when churners are rare. ``balance=False`` turns it
off. A version is published every ``publish_every`` examples (the learner agent acks a
label only once a published version holds it, so a restart loses none).

Replay: every ``replay_every`` labels (1,000) the model learns once more, shuffled, a
reservoir of ``replay`` examples (2,000; a uniform sample of every label learnt so far,
kept as value arrays, about 0.7 KB each), up to ``replay_until`` labels (5,000): after
them the passes stop and the reservoir is let go (with many labels they only added the
noise of the reservoir's draw: docs/MODEL.md). Only the logistic step learns them again
(:meth:`ChurnModel.rehearse`): the counts, running means and the scaler describe the
stream. An online learner follows its newest labels; the reservoir gives the old ones
a second say, which on a few thousand labels of an app product ranks better than a
larger step (docs/MODEL.md). In a worker the pass yields to the event loop every
``REPLAY_CHUNK`` examples (:meth:`Learner.update_yielding`). The reservoir is not published: a restarted learner
starts a new one. A vocabulary slot that changes hands empties it.

Tier thresholds from labels (optional, ``tier_goal``): each version's meta carries the
thresholds that reach a target precision, or a daily alert capacity, on the rolling
window (:func:`models.thresholds.thresholds_from_labels`; capacity counts the window's snapshots
per day of the span they were taken in). Scorers use them with that model.

Hand-over from the rule prior: every example is also scored by the prior, and a
version's meta says ``ready`` only when the model has seen ``min_labels`` examples,
at least ``MIN_PER_CLASS`` of each label, and its rolling ROC AUC is at least the
prior's on the same examples — the examples of customers who were active in the
``ACTIVE_DAYS`` before their snapshot (at least ``MIN_PER_CLASS`` of each label among
them). Snapshots taken at silence checkpoints, of customers already silent for weeks,
are labelled churned by that very silence: the prior, which scores silence, ranks them
almost perfectly, and judged on them the model never took over (an app-centred product
kept ``rules-1`` after 3,257 labels). Alerts matter for customers who are still there. Scorers use a model only when it is ready, so an
immature model never replaces the transparent prior. Once ready, a model stays ready
until its rolling ROC AUC falls ``READY_MARGIN`` below the prior's: the window's noise
alone must not switch the alerts' scorer back and forth between versions.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from array import array
from collections import deque
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from river import drift
from river import metrics as rmetrics
from river import utils as rutils

from models.labelling import DAY, LabelledExample
from models.metrics import ModelMetrics
from models.model import DEFAULT_KIND, ChurnModel
from models.prior import RulePrior
from models.thresholds import thresholds_from_labels
from models.vocabulary import Vocabulary, changed_slots
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from models.registry import ModelRegistry


SLOT_FEATURES = ("7d", "28d", "usual_28d", "share_28d")  # the use_<i>_* features of a vocabulary slot
MIN_PER_CLASS = 20
ACTIVE_DAYS = 14.0  # an example counts for the hand-over when the customer was active this recently
READY_EVERY = 100
READY_MARGIN = 0.02  # a ready model is handed back to the prior only when it ranks this much worse
REPLAY = 2000  # examples in the replay reservoir (a uniform sample of every label learnt)
REPLAY_EVERY = 1000  # labels between two replays of the reservoir
REPLAY_CHUNK = 50  # replayed examples between two yields to the event loop (a few ms)
REPLAY_UNTIL = 5000  # labels after which the replay stops (its reservoir is let go): it helps while labels are few


class Learner:
    """Consumes labelled examples; publishes model versions to ``registry``."""

    def __init__(self, model: ChurnModel, *, registry: ModelRegistry | None = None, publish_every: int = 200,
                 min_labels: int = 200, metrics: ModelMetrics | None = None, window: int = 1000,
                 balance: bool = True, max_weight: float = 10.0, drifts: int = 0,
                 prior: RulePrior | None = None, tier_goal: dict[str, float] | None = None,
                 replay: int = REPLAY, replay_every: int = REPLAY_EVERY, replay_until: int | None = REPLAY_UNTIL,
                 seed: int = 0) -> None:
        self.model, self.registry, self.metrics = model, registry, metrics
        self.prior = prior if prior is not None else RulePrior()
        self.publish_every, self.min_labels = publish_every, min_labels
        self.balance, self.max_weight = balance, max_weight
        self.window: deque[tuple[float, bool]] = deque(maxlen=window)
        self._auc = rmetrics.RollingROCAUC(window_size=window)
        self._prior_auc = rmetrics.RollingROCAUC(window_size=window)  # the prior, on the same examples
        # the same two on the examples of customers still active when scored (the hand-over's judge)
        self._active_auc = rmetrics.RollingROCAUC(window_size=window)
        self._active_prior_auc = rmetrics.RollingROCAUC(window_size=window)
        self._active_ys: deque[bool] = deque(maxlen=window)
        self._log_loss = rutils.Rolling(rmetrics.LogLoss, window_size=window)
        self.taken: deque[float] = deque(maxlen=window)  # when each example's snapshot was taken
        self.tier_goal = tier_goal
        self.ready = False  # for in-process use (the backtest); scorers in workers read the meta
        self.ready_at: int | None = None  # labels seen when the model last took over
        self.vocabulary = Vocabulary()  # the one the examples' use_<i>_* slots were computed with
        self.drifts, self._adwin, self._since_publish = drifts, drift.ADWIN(), 0
        # replay: every ``replay_every`` labels one more shuffled pass over a reservoir of ``replay``
        # examples (a uniform sample of every label)
        self.replay_every = replay_every if replay else 0
        self.replay_until = replay_until  # ``None``: replay for ever
        self._buffer: list[tuple[tuple[str, ...], array, bool]] = []  # at most ``replay``; replaced in place once full
        self._capacity = max(1, replay)
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}  # one key tuple shared by the buffer's examples
        self._rng = random.Random(seed)

    @classmethod
    async def resume(cls, registry: ModelRegistry, *, kind: str = DEFAULT_KIND, **kwargs: Any) -> Learner:
        """Continue from the newest published version, or start a fresh ``kind`` model."""
        v = await registry.latest_version()
        if v is None:
            return cls(ChurnModel(kind), registry=registry, **kwargs)
        model = ChurnModel.from_bytes(await registry.load(v))
        model.version = v
        meta = await registry.meta(v)
        kwargs.setdefault("drifts", int(meta.get("drifts", 0)))
        learner = cls(model, registry=registry, **kwargs)
        learner.ready = bool(meta.get("ready", False))  # a model in use stays in use across a restart
        learner.ready_at = meta.get("ready_at_labels")
        learner.vocabulary = Vocabulary.from_json(meta.get("vocabulary"))
        return learner

    def use_vocabulary(self, vocab: Vocabulary) -> list[int]:
        """Adopt ``vocab``; the model forgets the weights of every slot whose key changed
        (they were learnt for another feature). Returns those slots (0-based)."""
        slots = changed_slots(self.vocabulary, vocab)
        if slots:
            self.model.forget([f"use_{i + 1}_{w}" for i in slots for w in SLOT_FEATURES])
            self._buffer.clear()  # its examples' slots hold the old keys' figures
        self.vocabulary = vocab
        return slots

    def weight(self, y: bool) -> float:
        """Weight of a ``y`` example: majority/minority ratio for the minority class."""
        if not self.balance:
            return 1.0
        mine, other = (self.model.n_pos, self.model.n_neg) if y else (self.model.n_neg, self.model.n_pos)
        return min(self.max_weight, (other + 1) / (mine + 1)) if mine < other else 1.0

    def update(self, ex: LabelledExample) -> float:
        """Score, then learn one example (no I/O); returns the pre-learning score."""
        steps = self._update(ex)
        try:
            while True:
                next(steps)
        except StopIteration as done:
            return done.value

    async def update_yielding(self, ex: LabelledExample) -> float:
        """:meth:`update`, letting the event loop run between chunks of a replay pass
        (a pass of 2,000 examples takes 0.3-1 s; a worker's other agents must not wait that
        long). The model learns the same examples in the same order as :meth:`update`."""
        steps = self._update(ex)
        try:
            while True:
                next(steps)
                await asyncio.sleep(0)
        except StopIteration as done:
            return done.value

    def _update(self, ex: LabelledExample) -> Generator[None, None, float]:
        """:meth:`update`'s steps; yields between chunks of a replay pass."""
        t0 = time.perf_counter()
        p = self.model.score(ex.x)
        self.window.append((p, ex.y))
        q = self.prior.score(ex.x)
        self._auc.update(ex.y, p)
        self._prior_auc.update(ex.y, q)
        if ex.x.get("days_since_last_activity", 0.0) < ACTIVE_DAYS:
            self._active_auc.update(ex.y, p)
            self._active_prior_auc.update(ex.y, q)
            self._active_ys.append(ex.y)
        self._log_loss.update(ex.y, p)
        self.taken.append(ex.taken_at)
        self._adwin.update((float(ex.y) - p) ** 2)
        if self._adwin.drift_detected:
            self.drifts += 1
            if self.metrics:
                self.metrics.drifts.inc()
        self.model.learn(ex.x, ex.y, self.weight(ex.y))
        self._since_publish += 1
        if self.replay_every:
            if self.replay_until is not None and self.model.n_seen > self.replay_until:
                self.replay_every, self._buffer, self._names = 0, [], {}  # labels are many now: no more passes
            else:
                self._remember(ex)
                if self.model.n_seen % self.replay_every == 0:
                    yield from self._rehearsal()
        if self.model.n_seen % READY_EVERY == 0:  # AUCs over the window are not free: amortised
            was, self.ready = self.ready, self._check_ready()
            if self.ready and not was:
                self.ready_at = self.model.n_seen
        if self.metrics:
            self.metrics.examples.labels(label="positive" if ex.y else "negative").inc()
            self.metrics.learn_seconds.observe(time.perf_counter() - t0)
        return p

    def _remember(self, ex: LabelledExample) -> None:
        buf = self._buffer
        full = len(buf) >= self._capacity
        if full:
            k = self._rng.randrange(self.model.n_seen)  # reservoir sampling: a uniform sample of every label so far
            if k >= len(buf):
                return
        names = tuple(ex.x)
        item = (self._names.setdefault(names, names), array("d", ex.x.values()), ex.y)  # ~0.7 KB, not a dict's ~7
        if full:
            buf[k] = item
        else:
            buf.append(item)
        if len(self._names) > 8:  # the catalogue grew (a rolling upgrade): keep only the tuples still in use
            self._names = {n: n for n, _, _ in buf}

    def rehearse(self) -> None:
        """One shuffled pass over the reservoir (the model learns its examples again)."""
        for _ in self._rehearsal():
            pass

    def _rehearsal(self) -> Iterator[None]:
        """:meth:`rehearse`, yielding after every :data:`REPLAY_CHUNK` examples."""
        batch = list(self._buffer)
        self._rng.shuffle(batch)
        for i, (names, values, y) in enumerate(batch, 1):
            self.model.rehearse(dict(zip(names, values)), y, self.weight(y))
            if i % REPLAY_CHUNK == 0:
                yield

    async def learn(self, ex: LabelledExample) -> str | None:
        """:meth:`update`, then publish when due; returns the new version id or ``None``."""
        self.update(ex)
        return await self.publish() if self.publish_due else None

    @property
    def publish_due(self) -> bool:
        """``publish_every`` examples learned since the last published version."""
        return self.registry is not None and self._since_publish >= self.publish_every

    async def publish(self) -> str:
        """Publish the current model with its health as meta; the model takes the new version."""
        if self.registry is None:
            raise ValueError("this learner has no registry to publish to")
        self.use_vocabulary(Vocabulary.from_json(await self.registry.vocabulary()))
        meta = self.health()
        meta["vocabulary"] = self.vocabulary.to_json()
        self.model.version = await self.registry.publish(self.model.to_bytes(), meta)
        self._since_publish = 0
        if self.metrics:
            self.metrics.published.inc()
        return self.model.version

    def ready_given(self, model_auc: float, prior_auc: float) -> bool:
        """Enough labels of both kinds, and ranking at least as well as the prior (once
        ready: no more than ``READY_MARGIN`` worse)."""
        m = self.model
        enough = m.n_seen >= self.min_labels and min(m.n_pos, m.n_neg) >= MIN_PER_CLASS
        bar = prior_auc - (READY_MARGIN if self.ready else 0.0)
        return bool(enough and math.isfinite(model_auc) and (not math.isfinite(prior_auc) or model_auc >= bar))

    def _window_aucs(self) -> tuple[float, float]:
        """Rolling ROC AUC of the model, and of the prior on the same resolved examples
        (``nan`` while the window lacks a class)."""
        positives = sum(y for _, y in self.window)
        if positives in (0, len(self.window)):
            return float("nan"), float("nan")
        return self._auc.get(), self._prior_auc.get()

    def _active_aucs(self) -> tuple[float, float]:
        """Both rolling ROC AUCs on the examples of customers active in the ``ACTIVE_DAYS``
        before their snapshot (``nan`` until both classes have ``MIN_PER_CLASS`` there)."""
        pos = sum(self._active_ys)
        if min(pos, len(self._active_ys) - pos) < MIN_PER_CLASS:
            return float("nan"), float("nan")
        return self._active_auc.get(), self._active_prior_auc.get()

    def _check_ready(self) -> bool:
        return bool(self.window) and self.ready_given(*self._active_aucs())

    def window_tiers(self) -> list[float] | None:
        """:meth:`learned_tiers` on the current window; ``None`` without a goal or labels."""
        if not self.tier_goal or not self.window:
            return None
        return self.learned_tiers([p for p, _ in self.window], [y for _, y in self.window])

    def learned_tiers(self, ps: list[float], ys: list[bool]) -> list[float] | None:
        """Thresholds (watch, high, critical) for ``tier_goal`` on the window; ``None`` when
        no thresholds reach it (the scorer then keeps the fixed ones)."""
        goal = dict(self.tier_goal or {})
        if "daily_capacity" in goal:
            goal["days"] = max(1.0, (max(self.taken) - min(self.taken)) / DAY)
        try:
            return list(thresholds_from_labels(ps, ys, **goal))
        except ConfigError:
            return None

    def handover(self) -> dict[str, Any]:
        """Why the model is (or is not yet) the scorer in use: labels of each class, the
        thresholds of the rule, both rolling ROC AUCs on the same resolved examples."""
        h = {k: v for k, v in self.health().items() if k in ("n_seen", "positives", "negatives", "ready",
                                                             "roc_auc", "prior_roc_auc", "active_roc_auc",
                                                             "active_prior_roc_auc", "window")}
        h["active_positives"] = sum(self._active_ys)
        h["active_negatives"] = len(self._active_ys) - h["active_positives"]
        h.update(ready=self.ready, min_labels=self.min_labels, min_per_class=MIN_PER_CLASS, ready_at_labels=self.ready_at)
        return h

    def health(self) -> dict[str, Any]:
        """Rolling progressive-validation metrics; also pushed to the Prometheus gauges."""
        m, w = self.model, self.window
        h: dict[str, Any] = {"kind": m.kind, "n_seen": m.n_seen, "positives": m.n_pos, "negatives": m.n_neg,
                             "ready": False, "drifts": self.drifts, "window": len(w)}
        if w:
            ps, ys = [p for p, _ in w], [y for _, y in w]
            h["roc_auc"], h["prior_roc_auc"] = self._window_aucs()
            h["active_roc_auc"], h["active_prior_roc_auc"] = self._active_aucs()
            h["ready"] = self.ready_given(h["active_roc_auc"], h["active_prior_roc_auc"])
            h["ready_at_labels"] = self.ready_at if h["ready"] else None
            h["log_loss"] = self._log_loss.get()
            h["brier"] = sum((float(y) - p) ** 2 for p, y in w) / len(w)
            h["positive_rate"] = sum(ys) / len(w)
            h["mean_score"] = sum(ps) / len(w)
            bins: list[list[float]] = [[0.0, 0.0, 0] for _ in range(5)]
            for p, y in w:
                b = bins[min(4, int(p * 5))]
                b[0], b[1], b[2] = b[0] + p, b[1] + y, b[2] + 1
            h["calibration"] = [{"mean_score": s / n, "observed_rate": o / n, "n": n} for s, o, n in bins if n]
            if self.tier_goal:
                h["tiers"] = self.learned_tiers(ps, ys)
            if self.metrics:
                for key in ("roc_auc", "log_loss", "brier", "positive_rate", "mean_score"):
                    getattr(self.metrics, key).set(h[key])
        if self.metrics:
            self.metrics.n_seen.set(m.n_seen)
        h = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in h.items()}
        return h
