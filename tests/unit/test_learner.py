"""Learner: score before learn, rolling health, class balance, publishing and resume (real Redis)."""

import random

import pytest
from prometheus_client import CollectorRegistry

from models.labelling import LabelledExample
from models.learner import Learner
from models.metrics import ModelMetrics
from models.model import ChurnModel
from models.registry import ModelRegistry


def examples(n, seed=0, churn_rate=0.5):
    rnd = random.Random(seed)
    for i in range(n):
        y = rnd.random() < churn_rate
        x = {"order_overdue_ratio": rnd.gauss(3.0 if y else 1.0, 0.7), "noise": rnd.random()}
        yield LabelledExample(x=x, y=y, taken_at=float(i), resolved_at=float(i + 1), model_version="rules-1")


def test_scores_before_learning():
    learner = Learner(ChurnModel(), balance=False)
    for ex in examples(50):
        expected = learner.model.score(ex.x)
        assert learner.update(ex) == expected
    assert [p for p, _ in learner.window][-1] == expected


def test_health_reports_progressive_metrics_and_prometheus_gauges():
    reg = CollectorRegistry()
    learner = Learner(ChurnModel(), metrics=ModelMetrics(reg), window=500, min_labels=100)
    for ex in examples(1500, seed=1):
        learner.update(ex)
    h = learner.health()
    assert h["roc_auc"] > 0.85 and 0 < h["brier"] < 0.25 and h["log_loss"] > 0
    assert h["n_seen"] == 1500 and h["positives"] + h["negatives"] == 1500
    assert h["ready"] == (h["roc_auc"] >= h["prior_roc_auc"])
    assert h["window"] == 500 and sum(b["n"] for b in h["calibration"]) == 500
    assert reg.get_sample_value("churn_model_rolling_roc_auc_ratio") == h["roc_auc"]
    assert reg.get_sample_value("churn_model_examples_total", {"label": "positive"}) == h["positives"]
    assert reg.get_sample_value("churn_model_learn_duration_seconds_count") == 1500


def test_minority_class_is_weighted_by_the_running_ratio():
    learner = Learner(ChurnModel(), max_weight=10.0)
    for ex in examples(400, seed=2, churn_rate=0.2):
        learner.update(ex)
    m = learner.model
    assert m.n_pos < m.n_neg
    assert learner.weight(True) == pytest.approx((m.n_neg + 1) / (m.n_pos + 1))
    assert learner.weight(False) == 1.0
    assert Learner(ChurnModel(), balance=False).weight(True) == 1.0


def test_publishes_every_n_and_resume_continues(scratch_redis):
    async def body(client):
        reg = ModelRegistry(client, scratch_redis.prefix)
        metrics = ModelMetrics(CollectorRegistry())
        learner = Learner(ChurnModel(), registry=reg, publish_every=100, metrics=metrics)
        published = [v for ex in examples(250, seed=3) if (v := await learner.learn(ex))]
        assert published == ["m-000001", "m-000002"] and learner.model.version == "m-000002"
        assert metrics.published._value.get() == 2
        meta = (await reg.versions(1))[0]
        assert meta["n_seen"] == 200 and meta["version"] == "m-000002" and "roc_auc" in meta

        resumed = await Learner.resume(reg, publish_every=100)
        assert resumed.model.n_seen == 200 and resumed.model.version == "m-000002"
        assert not meta["ready"] and not resumed.ready, "the prior still ranks better: not in use"
        probe = {"order_overdue_ratio": 2.0, "noise": 0.1}
        # resumed == the published state, which is 50 examples behind the live learner
        snapshot = ChurnModel.from_bytes(await reg.load("m-000002"))
        assert resumed.model.score(probe) == snapshot.score(probe)
        for ex in examples(100, seed=4):
            await resumed.learn(ex)
        assert resumed.model.n_seen == 300 and await reg.latest_version() == "m-000003"
    scratch_redis.run(body)


def test_resume_without_any_version_starts_fresh(scratch_redis):
    async def body(client):
        learner = await Learner.resume(ModelRegistry(client, scratch_redis.prefix), kind="hat")
        assert learner.model.n_seen == 0 and learner.model.kind == "hat"
    scratch_redis.run(body)


def hidden_signal(n, seed=0):
    """Churn shows in a feature the rule prior does not read: only a model can rank it."""
    rnd = random.Random(seed)
    for i in range(n):
        y = rnd.random() < 0.4
        x = {"features_used_28d": rnd.gauss(1.0 if y else 4.0, 0.8), "order_overdue_ratio": 1.0}
        yield LabelledExample(x=x, y=y, taken_at=float(i), resolved_at=float(i + 1), model_version="rules-1")


def test_hand_over_only_when_the_model_ranks_at_least_as_well_as_the_prior():
    learner = Learner(ChurnModel(), min_labels=100, window=500)
    for ex in hidden_signal(60):
        learner.update(ex)
    assert not learner.health()["ready"], "too few labels"
    for ex in hidden_signal(1000, seed=1):
        learner.update(ex)
    h = learner.health()
    assert h["roc_auc"] > 0.8 and h["prior_roc_auc"] == 0.5 and h["ready"] and learner.ready
    # the rule itself, given enough labels of both kinds: at least the prior to take over ...
    learner.ready = False
    assert learner.ready_given(0.80, 0.70) and learner.ready_given(0.70, 0.70)
    assert not learner.ready_given(0.69, 0.70)
    # ... and, once in use, handed back only when clearly worse (no flapping on the window's noise)
    learner.ready = True
    assert learner.ready_given(0.69, 0.70) and learner.ready_given(0.68, 0.70)
    assert not learner.ready_given(0.67, 0.70)
    one_sided = Learner(ChurnModel(), min_labels=10)
    for ex in hidden_signal(300, seed=2):
        if not ex.y:
            one_sided.update(ex)
    assert not one_sided.ready_given(0.9, 0.5), "no churners seen yet: no hand-over"


def test_meta_carries_tier_thresholds_set_from_the_window_for_precision_or_capacity():
    from models.thresholds import thresholds_from_labels

    exs = list(examples(600, seed=4, churn_rate=0.4))
    by_precision = Learner(ChurnModel(), tier_goal={"target_precision": 0.7})
    by_capacity = Learner(ChurnModel(), tier_goal={"daily_capacity": 40.0})
    fixed = Learner(ChurnModel())
    for ex in exs:
        for lrn in (by_precision, by_capacity, fixed):
            lrn.update(ex)
    assert "tiers" not in fixed.health()
    ps, ys = [p for p, _ in by_precision.window], [y for _, y in by_precision.window]
    w, h, c = by_precision.health()["tiers"]
    assert (w, h, c) == thresholds_from_labels(ps, ys, target_precision=0.7)
    for threshold, goal in ((w, 0.7), (h, 0.8), (c, 0.9)):  # precision of the alerts at each threshold
        hits = [y for p, y in zip(ps, ys) if p >= threshold]
        assert sum(hits) / len(hits) >= goal - 1e-9
    # capacity: the window's 600 snapshots were taken one a second, so its span is the 1-day floor
    w, h, c = by_capacity.health()["tiers"]
    ps = [p for p, _ in by_capacity.window]
    assert sum(p >= w for p in ps) <= 40 and sum(p >= h for p in ps) <= 20 and sum(p >= c for p in ps) <= 10
    assert Learner(ChurnModel(), tier_goal={"target_precision": 1.0}).learned_tiers([0.9, 0.8], [False, False]) is None


def test_a_model_in_use_stays_in_use_across_a_learner_restart(scratch_redis):
    async def body(client):
        reg = ModelRegistry(client, scratch_redis.prefix)
        learner = Learner(ChurnModel(), registry=reg, publish_every=200, min_labels=100)
        for ex in hidden_signal(600, seed=5):
            await learner.learn(ex)
        assert (await reg.versions(1))[0]["ready"] and learner.ready
        resumed = await Learner.resume(reg, publish_every=200, min_labels=100)
        assert resumed.ready, "the restarted learner keeps the hand-back margin of a model in use"
    scratch_redis.run(body)


def silent_and_active(n, seed=0):
    """Half the examples are of customers silent for 40 days, churned by that very silence
    (the prior ranks them perfectly); the other half are active, and there churn shows in
    a feature only a model can read."""
    rnd = random.Random(seed)
    for i in range(n):
        if i % 2:
            y = rnd.random() < 0.8
            x = {"days_since_last_activity": 40.0 if y else 1.0, "use_1_28d": 10.0, "order_overdue_ratio": 1.0}
        else:
            y = rnd.random() < 0.3
            x = {"days_since_last_activity": rnd.uniform(0, 10), "use_1_28d": rnd.gauss(2.0 if y else 20.0, 4.0),
                 "order_overdue_ratio": 1.0}
        yield LabelledExample(x=x, y=y, taken_at=float(i), resolved_at=float(i + 1), model_version="rules-1")


def test_hand_over_is_judged_on_customers_still_active():
    learner = Learner(ChurnModel(), min_labels=200, window=1000)
    for ex in silent_and_active(3000):
        learner.update(ex)
    h = learner.handover()
    assert h["prior_roc_auc"] > h["roc_auc"] - 0.05 or h["prior_roc_auc"] > 0.8  # on all labels the prior looks good
    assert h["active_roc_auc"] > h["active_prior_roc_auc"] + 0.1
    assert h["ready"] and learner.ready and h["ready_at_labels"] is not None
    assert h["active_positives"] >= 20 and h["active_negatives"] >= 20


def test_replay_keeps_a_bounded_reservoir_and_learns_it_again_without_counting_it():
    plain, replayed = Learner(ChurnModel(), replay=0), Learner(ChurnModel(), replay=50, replay_every=20)
    for ex in examples(300, seed=3):
        plain.update(ex)
        replayed.update(ex)
    assert len(replayed._buffer) == 50  # noqa: SLF001 - bounded, whatever the labels seen
    assert replayed.model.n_seen == plain.model.n_seen == 300  # replayed examples are not labels
    assert replayed.model.n_pos == plain.model.n_pos
    scaler, lr = replayed.model.pipeline["StandardScaler"], replayed.model.pipeline["LogisticRegression"]
    assert scaler.counts["order_overdue_ratio"] == 300  # the scaler describes the stream, not the replays
    w_plain = plain.model.pipeline["LogisticRegression"].weights["order_overdue_ratio"]
    assert lr.weights["order_overdue_ratio"] > w_plain > 0  # the extra passes moved the weight further
    x = {"order_overdue_ratio": 3.0, "noise": 0.5}
    before = replayed.model.score(x)
    replayed.model.rehearse(x, True, 5.0)
    assert replayed.model.score(x) > before  # the fast scorer sees the rehearsed weights


def test_a_worker_learner_lets_the_event_loop_run_during_a_replay_and_learns_the_same():
    import asyncio

    sync, coop = (Learner(ChurnModel(), replay=200, replay_every=100, seed=5) for _ in range(2))
    exs = list(examples(300, seed=6))
    for ex in exs:
        sync.update(ex)
    turns = []

    async def run() -> None:
        async def other_agent() -> None:
            while True:
                turns.append(coop.model.n_seen)
                await asyncio.sleep(0)

        task = asyncio.create_task(other_agent())
        for ex in exs:
            await coop.update_yielding(ex)
        task.cancel()

    asyncio.run(run())
    assert turns.count(100) >= 2 and turns.count(200) >= 4  # it ran in the middle of each replay pass
    assert coop.model.pipeline["LogisticRegression"].weights == sync.model.pipeline["LogisticRegression"].weights


def test_the_reservoir_is_a_sample_of_every_label_not_only_the_newest():
    learner = Learner(ChurnModel(), replay=100, replay_every=1000)
    for ex in examples(1000, seed=4):
        learner.update(ex)
    firsts = {ex.x["noise"] for ex in list(examples(1000, seed=4))[:500]}
    old = sum(1 for names, values, _ in learner._buffer if dict(zip(names, values))["noise"] in firsts)  # noqa: SLF001
    assert 30 <= old <= 70  # about half from the first 500 labels (a window of the newest would hold none)


def test_a_changed_vocabulary_slot_empties_the_replay_buffer():
    from models.vocabulary import Vocabulary

    learner = Learner(ChurnModel(), replay=50, replay_every=1000)
    learner.use_vocabulary(Vocabulary.of(["messages", "groups"]))
    for ex in examples(30, seed=5):
        learner.update(ex)
    learner.use_vocabulary(Vocabulary.of(["messages", "groups", "help"]))  # a slot filled: nothing forgotten
    assert len(learner._buffer) == 30  # noqa: SLF001
    learner.use_vocabulary(Vocabulary.of(["messages", "photos", "help"]))  # slot 2 changed hands
    assert len(learner._buffer) == 0  # noqa: SLF001


def test_the_replay_stops_once_labels_are_many_and_lets_its_reservoir_go():
    capped, endless = (Learner(ChurnModel(), replay=50, replay_every=20, replay_until=100, seed=2),
                       Learner(ChurnModel(), replay=50, replay_every=20, replay_until=None, seed=2))
    rehearsed = {id(capped): 0, id(endless): 0}

    def counting(learner: Learner):  # noqa: ANN202
        key, real = id(learner), learner.model.rehearse

        def rehearse(x, y, w=1.0):  # noqa: ANN001, ANN202
            rehearsed[key] += 1
            real(x, y, w)
        return rehearse

    for learner in (capped, endless):
        learner.model.rehearse = counting(learner)
    exs = list(examples(300, seed=7))
    for ex in exs[:100]:
        capped.update(ex)
        endless.update(ex)
    lr = "LogisticRegression"
    assert capped.model.pipeline[lr].weights == endless.model.pipeline[lr].weights  # alike up to replay_until
    assert rehearsed[id(capped)] == rehearsed[id(endless)] == 20 + 40 + 3 * 50 and len(capped._buffer) == 50  # noqa: SLF001
    for ex in exs[100:]:
        capped.update(ex)
        endless.update(ex)
    assert rehearsed[id(capped)] == 210 and rehearsed[id(endless)] == 210 + 10 * 50  # no pass after 100 labels
    assert capped._buffer == [] and len(endless._buffer) == 50  # noqa: SLF001 - its reservoir let go
    assert capped.model.n_seen == endless.model.n_seen == 300
