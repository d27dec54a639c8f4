"""What a running worker holds: the wired components the agents and timers use.

Built by ``streams.bootstrap.bootstrap``; the agents in ``streams.agents`` receive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError

from config.settings import Settings
from engine.compose import tier_goal
from models.learner import Learner
from models.metrics import ModelMetrics
from models.registry import ModelRegistry
from models.scorer import Scorer
from streams.effects import Effects
from streams.endpoints import Endpoints
from streams.handler import CustomerHandler
from streams.health import Health
from streams.metrics import RuntimeMetrics
from streams.retry import Dependency
from streams.topics import Topics


@dataclass
class Runtime:
    settings: Settings
    app: faust.App
    topics: Topics
    table: Any
    redis: aioredis.Redis
    registry: ModelRegistry
    scorer: Scorer
    handler: CustomerHandler
    effects: Effects
    metrics: RuntimeMetrics
    model_metrics: ModelMetrics
    prometheus: CollectorRegistry
    redis_dep: Dependency
    health: Health | None = None
    endpoints: Endpoints | None = None
    _learner: Learner | None = field(default=None, repr=False)

    def count_error(self, exc: Exception, path: str = "timer") -> None:
        """Count an error a timer or the learner caught (Redis errors by where they ran)."""
        if isinstance(exc, RedisError):
            self.metrics.redis_errors.labels(path=path).inc()

    def show_tiers(self) -> None:
        """Export the tier thresholds in use (the model's, set from labels, or the configured)."""
        tiers = self.handler.processor.tiers_in_use
        for name in ("watch", "high", "critical"):
            self.metrics.tier_threshold.labels(tier=name).set(tiers.threshold(name))

    def forget_learner(self) -> None:
        """Drop the in-memory learner; the next label resumes one from the registry."""
        self._learner = None

    async def get_learner(self) -> Learner:
        """The learner, resumed from the newest registry version on first use."""
        if self._learner is None:
            self._learner = await Learner.resume(self.registry, publish_every=self.settings.publish_every,
                                                 min_labels=self.settings.min_labels, metrics=self.model_metrics,
                                                 tier_goal=tier_goal(self.settings))
        return self._learner
