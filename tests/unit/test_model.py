"""ChurnModel: learns, ranks, explains, survives a pickle round trip."""

import random

import pytest

from models.metrics import roc_auc
from models.model import PIPELINES, ChurnModel

KINDS = sorted(PIPELINES)


def stream(n, seed):
    """Churn when long overdue; the other features are noise."""
    rnd = random.Random(seed)
    for _ in range(n):
        overdue = rnd.expovariate(1.0)
        x = {"order_overdue_ratio": overdue, "orders_90d": float(rnd.randint(0, 5)), "noise": rnd.random()}
        yield x, rnd.random() < (0.9 if overdue > 1.5 else 0.1)


def trained(kind, n=1500):
    m = ChurnModel(kind)
    for x, y in stream(n, seed=1):
        assert m.learn(x, y) is None
    return m


@pytest.fixture(scope="module", params=KINDS)
def model(request):
    return trained(request.param)


def test_learns_to_rank_on_fresh_data(model):
    held = list(stream(800, seed=2))
    auc = roc_auc([model.score(x) for x, _ in held], [y for _, y in held])
    assert auc > 0.75, (model.kind, auc)


def test_counts_examples(model):
    assert model.n_seen == 1500 and model.n_pos + model.n_neg == 1500 and model.n_pos > 0


def test_pickle_round_trip_gives_same_scores_and_keeps_learning(model):
    copy = ChurnModel.from_bytes(model.to_bytes())
    probe = [x for x, _ in stream(50, seed=3)]
    assert [copy.score(x) for x in probe] == [model.score(x) for x in probe]
    assert copy.n_seen == model.n_seen and copy.version == model.version
    copy.learn(probe[0], True)
    assert copy.n_seen == model.n_seen + 1


def test_scoring_does_not_change_the_model(model):
    before = model.to_bytes()
    for x, _ in stream(20, seed=4):
        model.score(x)
    assert model.to_bytes() == before


def test_explain_names_the_informative_feature(model):
    x = {"order_overdue_ratio": 6.0, "orders_90d": 2.0, "noise": 0.5}
    reasons = model.explain(x, top=3)
    assert reasons and reasons[0].feature == "order_overdue_ratio" and reasons[0].value == 6.0
    assert all(r.contribution > 0 for r in reasons)
    assert [r.contribution for r in reasons] == sorted((r.contribution for r in reasons), reverse=True)


def test_weight_counts_more():
    light, heavy = ChurnModel("logreg"), ChurnModel("logreg")
    x = {"order_overdue_ratio": 2.0}
    light.learn(x, True)
    heavy.learn(x, True, weight=5.0)
    assert heavy.score(x) > light.score(x) > 0.5


def test_from_bytes_rejects_other_objects():
    import pickle
    with pytest.raises(TypeError):
        ChurnModel.from_bytes(pickle.dumps({"not": "a model"}))
