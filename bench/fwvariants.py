"""Learner variants compared by ``bench/fwreplay.py replay`` (bench only; none shipped
unless docs/MODEL.md says so)."""

from __future__ import annotations

from functools import partial

from river import compose, linear_model, optim, preprocessing

from models.learner import REPLAY_CHUNK, Learner
from models.model import PIPELINES, ChurnModel, _Linear, squash


class AveragedModel(ChurnModel):
    """Logistic pipeline scored with an exponential moving average of its SGD weights
    (averaged SGD): the iterate wanders with the newest labels, its average less."""

    def __init__(self, alpha: float) -> None:
        super().__init__("logreg")
        self.alpha, self._steps, self.avg_w, self.avg_b = alpha, 0, {}, 0.0

    def _average(self) -> None:
        lr = self.pipeline["LogisticRegression"]
        self._steps += 1
        a = max(self.alpha, 1.0 / self._steps)
        avg = self.avg_w
        for k, v in lr._weights.items():  # noqa: SLF001
            m = avg.get(k, 0.0)
            avg[k] = m + a * (v - m)
        self.avg_b += a * (float(lr.intercept) - self.avg_b)

    def learn(self, x, y, weight=1.0):  # noqa: ANN001, ANN201
        super().learn(x, y, weight)
        self._average()

    def rehearse(self, x, y, weight=1.0):  # noqa: ANN001, ANN201
        super().rehearse(x, y, weight)
        self._average()

    def forget(self, names):  # noqa: ANN001, ANN201
        super().forget(names)
        for n in names:
            self.avg_w.pop(n, None)

    def score(self, x):  # noqa: ANN001, ANN201
        fast = self._fast
        if fast is None or fast.at != self._changes:
            shim = type("W", (), {})()
            shim._weights, shim.intercept = self.avg_w, self.avg_b
            fast = self._fast = _Linear({"StandardScaler": self.pipeline["StandardScaler"], "LogisticRegression": shim},
                                        self._changes)
        return fast.score(x)


class ScaledReplay(Learner):
    """Replay whose rehearsals weigh ``factor(n_seen)`` times a label (0: no pass)."""

    def __init__(self, model, factor, **kw) -> None:  # noqa: ANN001
        super().__init__(model, **kw)
        self.factor = factor

    def _rehearsal(self):  # noqa: ANN202
        f = self.factor(self.model.n_seen)
        if f <= 0:
            return
        batch = list(self._buffer)
        self._rng.shuffle(batch)
        for i, (names, values, y) in enumerate(batch, 1):
            self.model.rehearse(dict(zip(names, values)), y, self.weight(y) * f)
            if i % REPLAY_CHUNK == 0:
                yield


class BiasedReservoir(Learner):
    """Replay of a reservoir biased to recent labels: once full, a label enters with
    probability ``max(capacity / n, capacity / window)`` (uniform until ``window`` labels,
    then ages roughly exponential with mean ``window``)."""

    def __init__(self, model, window: int, **kw) -> None:  # noqa: ANN001
        super().__init__(model, **kw)
        self.window_labels = window

    def _remember(self, ex) -> None:  # noqa: ANN001
        from array import array

        buf, cap = self._buffer, self._capacity
        item = (tuple(ex.x), array("d", ex.x.values()), ex.y)
        if len(buf) < cap:
            buf.append(item)
        elif self._rng.random() < max(cap / self.model.n_seen, cap / self.window_labels):
            buf[self._rng.randrange(cap)] = item


def _gain(groups: dict[str, float]):  # noqa: ANN202
    def scale(z):  # noqa: ANN001, ANN202
        out = {}
        for k, v in z.items():
            g = 1.0
            for prefix, gain in groups.items():
                if k.startswith(prefix):
                    g = gain
                    break
            out[k] = v * g
        return out
    return scale


def _group_pipeline(groups: dict[str, float]) -> compose.Pipeline:
    """A feature's standardised value times its group's gain: its SGD step is gain² times the
    others' (and its l2 pull gain² smaller)."""
    return (compose.FuncTransformer(squash) | preprocessing.StandardScaler() | compose.FuncTransformer(_gain(groups))
            | linear_model.LogisticRegression(optimizer=optim.SGD(0.001), l2=1e-4))


def _model(kind: str, make):  # noqa: ANN001, ANN202
    PIPELINES.setdefault(kind, make)
    return ChurnModel(kind)


class UnweightedReplay(Learner):
    """Replay whose rehearsals carry no class weight."""

    def _rehearsal(self):  # noqa: ANN202
        batch = list(self._buffer)
        self._rng.shuffle(batch)
        for i, (names, values, y) in enumerate(batch, 1):
            self.model.rehearse(dict(zip(names, values)), y, 1.0)
            if i % REPLAY_CHUNK == 0:
                yield


def composed(spec: str):  # noqa: ANN201
    """``lr0.0005+noreplay+cap3+every2000+res4000+unw``: a learner factory from parts."""
    kw, lr, cls, model_fn = {}, None, Learner, None
    for part in spec.split("+"):
        if part.startswith("avg"):
            model_fn = partial(AveragedModel, 1 / int(part[3:]))
        elif part.startswith("use"):
            g = float(part[3:])
            groups = {"use_": g, "main_features": g, "features_used": g}
            model_fn = partial(_model, f"logreg_use{g:g}", partial(_group_pipeline, groups))
        elif part.startswith("lr"):
            lr = float(part[2:])
        elif part == "noreplay":
            kw["replay"] = 0
        elif part.startswith("cap"):
            kw["max_weight"] = float(part[3:])
        elif part.startswith("every"):
            kw["replay_every"] = int(part[5:])
        elif part.startswith("res"):
            kw["replay"] = int(part[3:])
        elif part == "unw":
            cls = UnweightedReplay
        elif part == "endless":
            kw["replay_until"] = None  # the replay before it stopped at REPLAY_UNTIL labels
        elif part == "nobal":
            kw["balance"] = False
        elif part.startswith("seed"):
            kw["seed"] = int(part[4:])
        elif part.startswith("stop"):
            cls, kw["factor"] = ScaledReplay, (lambda n, n0=int(part[4:]): 1.0 if n <= n0 else 0.0)
        elif part.startswith("decay"):
            cls, kw["factor"] = ScaledReplay, (lambda n, n0=int(part[5:]): min(1.0, n0 / max(n, 1)))
        else:
            raise KeyError(part)

    def make(m):  # noqa: ANN001, ANN202
        if model_fn is not None:
            m = model_fn()
        if lr is not None:
            m.pipeline["LogisticRegression"].optimizer = optim.SGD(lr)
        return cls(m, **kw)
    return make


def variants() -> dict:
    def learner(model_fn=None, cls=Learner, **kw):  # noqa: ANN001, ANN202
        return lambda m: cls(model_fn() if model_fn else m, **kw)

    v = {"shipped": learner(), "noreplay": learner(replay=0), "endless": learner(replay_until=None)}
    for a in (1 / 500, 1 / 2000, 1 / 8000):
        v[f"asgd{round(1 / a)}"] = learner(partial(AveragedModel, a))
        v[f"asgd{round(1 / a)}_noreplay"] = learner(partial(AveragedModel, a), replay=0)
    for n0 in (3000, 6000, 12000):
        v[f"replay_decay{n0}"] = learner(cls=ScaledReplay, factor=lambda n, n0=n0: min(1.0, n0 / max(n, 1)))
        v[f"replay_stop{n0}"] = learner(cls=ScaledReplay, factor=lambda n, n0=n0: 1.0 if n <= n0 else 0.0)
    for w in (5000, 10000, 20000):
        v[f"replay_recent{w}"] = learner(cls=BiasedReservoir, window=w)
    v["replay_w05"] = learner(cls=ScaledReplay, factor=lambda n: 0.5)
    for gain in (2.0, 0.5):
        groups = {"use_": gain, "main_features": gain, "features_used": gain}
        v[f"group_use{gain:g}"] = learner(partial(_model, f"logreg_use{gain:g}", partial(_group_pipeline, groups)))
    return v
