"""The learner agent (labels topic has one partition: one learner) and the model refresher."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from faust.types import TP, StreamT

from models.labelling import LabelledExample
from streams.agents.guard import guarded

if TYPE_CHECKING:
    from streams.runtime import Runtime

log = logging.getLogger(__name__)


def forget_unpublished(rt: Runtime, unpublished: list, revoked: Iterable[TP]) -> bool:
    """The labels partition left this worker: drop the in-memory learner and the labels it
    learned since the last publish. Whoever reads the partition next (this worker again,
    after the seek) resumes from the newest version and learns them once more; keeping
    them would learn them twice. True when something was dropped."""
    labels = rt.settings.topic("labels")
    if not any(tp.topic == labels for tp in revoked):
        return False
    rt.forget_learner()
    unpublished.clear()
    return True


def register(rt: Runtime) -> None:
    """The learner agent (workers of role ``all`` or ``learner``)."""
    unpublished: list = []  # label events learned since the last publish, not yet acked

    @rt.app.on_partitions_revoked.connect
    async def on_revoked(sender, revoked: Iterable[TP] = (), **kwargs) -> None:  # noqa: ANN001
        forget_unpublished(rt, unpublished, revoked)

    @rt.app.agent(rt.topics.labels, name="learner")
    async def learner(stream: StreamT[bytes]) -> None:
        # A label is acked (its offset may be committed) only once a published version holds
        # it: a learner that stops or dies in between leaves those labels to its successor,
        # which resumes from the newest version and learns them again. Nothing is lost.
        # While Redis is away, resuming and publishing wait for it (rt.redis_dep); learning does not.
        manual = stream.noack()
        async for event in manual.events():
            unpublished.append(event)
            lrn = await rt.redis_dep.call(rt.get_learner)
            try:
                await lrn.update_yielding(LabelledExample.from_json(json.loads(event.value)))
            except Exception:  # one bad example must not stop learning
                m = event.message
                log.exception("learner: cannot learn from %s[%s]@%s", m.topic, m.partition, m.offset)
                continue
            published = await rt.redis_dep.call(lrn.publish) if lrn.publish_due else None
            if published is not None:
                for done in unpublished:
                    await manual.ack(done)
                unpublished.clear()


def register_refresh(rt: Runtime) -> None:
    """Scorers look for a newer model version every ``model_poll_s``."""

    @rt.app.timer(rt.settings.model_poll_s, name="model-refresh")
    @guarded(on_error=rt.count_error)
    async def refresh() -> None:
        if await rt.scorer.refresh(rt.registry):
            using = rt.scorer.loaded if rt.scorer.model is rt.scorer._active() else f"the rule prior ({rt.scorer.loaded} not ready)"
            tiers = rt.scorer.thresholds
            log.warning("scorer now uses %s%s", using, f" with tiers set from labels {tiers}" if tiers else "")
            rt.show_tiers()
