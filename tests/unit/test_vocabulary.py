"""The vocabulary of app features: learnt, sticky, bounded, and agreed on through the registry."""

from __future__ import annotations

import pytest

from models.catalogue import VOCABULARY_SLOTS
from models.learner import Learner
from models.model import ChurnModel
from models.registry import ModelRegistry
from models.scorer import Scorer
from models.vocabulary import SIZE, UsageCounter, Vocabulary, changed_slots, learn_vocabulary
from tests.unit.test_state import T0, app


def test_catalogue_has_a_slot_for_every_vocabulary_entry():
    assert VOCABULARY_SLOTS == SIZE


def test_most_used_keys_fill_free_slots_and_stay_put():
    v = learn_vocabulary(Vocabulary(), {"feed": 90, "messages": 50, "help": 3})
    assert v.names[:3] == ("feed", "messages", "help") and v.version == 1
    # messages overtakes feed: nobody moves (a slot's weights must keep their meaning)
    again = learn_vocabulary(v, {"feed": 90, "messages": 150, "help": 3})
    assert again is v


def test_a_slot_changes_hands_only_for_a_key_used_twice_as_much():
    full = Vocabulary(tuple(f"f{i}" for i in range(SIZE)), version=4)
    counts = {f"f{i}": 100.0 for i in range(SIZE)} | {"f0": 10.0, "new": 19.0}
    assert learn_vocabulary(full, counts) is full
    moved = learn_vocabulary(full, counts | {"new": 21.0})
    assert moved.names[0] == "new" and moved.names[1:] == full.names[1:] and moved.version == 5
    assert changed_slots(full, moved) == [0]


def test_configured_list_overrides_and_is_bounded():
    v = Vocabulary.of(["messages", " groups ", ""])
    assert v.names[:2] == ("messages", "groups") and v.configured
    assert learn_vocabulary(v, {"feed": 1e6}) is v
    with pytest.raises(ValueError):
        Vocabulary.of([f"f{i}" for i in range(SIZE + 1)])
    with pytest.raises(ValueError):
        Vocabulary.of(["a", "a"])


def test_usage_counter_is_bounded():
    c = UsageCounter(capacity=8)
    for i in range(1000):
        c.observe(f"k{i % 50}")
    counts = c.drain()
    assert len(counts) == 8 and sum(counts.values()) == 1000


def test_workers_scorers_and_the_learner_agree_through_the_registry(scratch_redis):
    """Two workers see different shares of the traffic; after they sync, both score with
    one vocabulary, and the learner publishes that same one in the version's meta."""
    async def body(redis):
        reg = ModelRegistry(redis, scratch_redis.prefix)
        a, b = Scorer(), Scorer()
        for i in range(300):
            a.note_usage(app(T0, "feature_used", feature="messages" if i % 3 else "groups"))
        for _ in range(200):
            b.note_usage(app(T0, "feature_used", feature="feed"))
            b.note_usage(app(T0, "login"))
        b.note_usage(app(T0, "session"))  # sessions have features of their own: not a key
        await a.sync_vocabulary(reg)
        await b.sync_vocabulary(reg)
        await a.sync_vocabulary(reg)  # a now sees b's counts too, and the vocabulary b proposed
        assert a.vocabulary == b.vocabulary
        assert set(a.vocabulary.names) - {""} == {"messages", "groups", "feed", "login"}
        assert a.vocabulary.version >= 1
        learner = Learner(ChurnModel(), registry=reg, publish_every=1)
        version = await learner.publish()
        meta = await reg.meta(version)
        assert Vocabulary.from_json(meta["vocabulary"]) == a.vocabulary == learner.vocabulary
        # a configured list is kept whatever the registry says
        fixed = Scorer(vocabulary=Vocabulary.of(["calls"]))
        fixed.note_usage(app(T0, "feature_used", feature="feed"))
        assert not await fixed.sync_vocabulary(reg) and fixed.vocabulary.names[0] == "calls"
    scratch_redis.run(body)


def test_concurrent_proposals_leave_one_winner(scratch_redis):
    async def body(redis):
        reg = ModelRegistry(redis, scratch_redis.prefix)
        first = Vocabulary(("a",) + ("",) * (SIZE - 1), version=1)
        second = Vocabulary(("b",) + ("",) * (SIZE - 1), version=1)
        assert await reg.propose_vocabulary(0, first.to_json())
        assert not await reg.propose_vocabulary(0, second.to_json()), "saw version 0, but it is 1 now"
        assert Vocabulary.from_json(await reg.vocabulary()) == first
    scratch_redis.run(body)


def test_learner_forgets_the_weights_of_a_slot_that_changed_hands():
    learner = Learner(ChurnModel())
    learner.use_vocabulary(Vocabulary(("a", "b")))
    lr = learner.model.pipeline["LogisticRegression"]
    for i in range(50):
        learner.model.learn({"use_1_28d": float(i % 7), "use_2_28d": float(i % 5)}, i % 2 == 0)
    assert "use_1_28d" in lr._weights and "use_2_28d" in lr._weights
    assert learner.use_vocabulary(Vocabulary(("a", "c"))) == [1]
    assert "use_1_28d" in lr._weights and "use_2_28d" not in lr._weights
