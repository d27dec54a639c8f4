"""The learner agent's revoke hook: losing the labels partition drops the in-memory learner
and the labels learned since the last publish (they are read again and learned once)."""

from types import SimpleNamespace

from faust.types import TP

from config.settings import Settings
from streams.agents.learner import forget_unpublished


def fake_runtime():
    rt = SimpleNamespace(settings=Settings(topic_prefix="t-"), _learner="learner")
    rt.forget_learner = lambda: setattr(rt, "_learner", None)
    return rt


def test_losing_the_labels_partition_forgets_what_was_not_published():
    rt, unpublished = fake_runtime(), ["e1", "e2"]
    assert forget_unpublished(rt, unpublished, {TP(rt.settings.topic("orders"), 0)}) is False
    assert rt._learner == "learner" and unpublished == ["e1", "e2"]
    assert forget_unpublished(rt, unpublished, {TP(rt.settings.topic("labels"), 0)}) is True
    assert rt._learner is None and unpublished == []
