"""Rule-based cold-start score: the classic warning signs, weighted by hand.

Used until the online model has seen ``min_labels`` labelled examples. The score is
``sigmoid(BIAS + sum(weight * term))`` where every term is a capped, documented
transform of one feature, so an alert's reasons are exactly the rule terms:

================================  ======  =========================================
term (feature)                    weight  transform
================================  ======  =========================================
overdue (order_overdue_ratio)      1.2    ``clip(ratio - 1, 0, 3)``: late against own rhythm
silent (days_since_last_activity)  0.6    ``clip(days / 30, 0, 4)``: nothing at all from them
fading orders (orders_90d)         1.0    ``clip(1 - 4*orders_90d / orders_365d, 0, 1)``
complaints (complaints_30d)        0.7    ``min(complaints, 3)``
unhappy (csat_recent)              0.6    ``clip((3 - csat) / 2, 0, 1)`` when a csat is known (> 0)
fading app (session_trend)         0.8    ``clip(-trend, 0, 1)``: sessions falling
muted (notifications_disabled)     0.5    flag
uninstalled (uninstalled)          1.5    flag
================================  ======  =========================================

``BIAS = -2.5``: a customer with no warning sign scores 0.076.

>>> p = RulePrior()
>>> round(p.score({}), 3)
0.076
>>> p.score({"order_overdue_ratio": 3.0, "complaints_30d": 2.0}) > 0.5
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from models.sentences import describe, informative
from models.vocabulary import Vocabulary
from schemas.events import Reason

BIAS = -2.5


def _clip(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def _overdue(x: Mapping[str, float]) -> float:
    return _clip(x.get("order_overdue_ratio", 0.0) - 1.0, 0.0, 3.0)


def _silent(x: Mapping[str, float]) -> float:
    return _clip(x.get("days_since_last_activity", 0.0) / 30.0, 0.0, 4.0)


def _fading_orders(x: Mapping[str, float]) -> float:
    year = x.get("orders_365d", 0.0)
    return _clip(1.0 - 4.0 * x.get("orders_90d", 0.0) / year, 0.0, 1.0) if year > 0 else 0.0


def _complaints(x: Mapping[str, float]) -> float:
    return min(x.get("complaints_30d", 0.0), 3.0)


def _unhappy(x: Mapping[str, float]) -> float:
    csat = x.get("csat_recent", 0.0)
    return _clip((3.0 - csat) / 2.0, 0.0, 1.0) if csat > 0 else 0.0


def _fading_app(x: Mapping[str, float]) -> float:
    return _clip(-x.get("session_trend", 0.0), 0.0, 1.0)


def _flag(name: str) -> Callable[[Mapping[str, float]], float]:
    def term(x: Mapping[str, float]) -> float:
        return 1.0 if x.get(name, 0.0) > 0 else 0.0
    return term


#: (feature the reason names, weight, term)
RULES: tuple[tuple[str, float, Callable[[Mapping[str, float]], float]], ...] = (
    ("order_overdue_ratio", 1.2, _overdue),
    ("days_since_last_activity", 0.6, _silent),
    ("orders_90d", 1.0, _fading_orders),
    ("complaints_30d", 0.7, _complaints),
    ("csat_recent", 0.6, _unhappy),
    ("session_trend", 0.8, _fading_app),
    ("notifications_disabled", 0.5, _flag("notifications_disabled")),
    ("uninstalled", 1.5, _flag("uninstalled")),
)


def sigmoid(z: float) -> float:
    """Numerically safe logistic function.

    >>> sigmoid(0.0), sigmoid(-1000.0)
    (0.5, 0.0)
    """
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def describe_safe(name: str, x: Mapping[str, float], vocab: Vocabulary | None = None) -> str:
    """``models.sentences.describe`` when it knows the feature, else a plain sentence."""
    try:
        return describe(name, x, vocab)
    except (KeyError, ValueError):
        return f"{name.replace('_', ' ')} is {x.get(name, 0.0):g}"


def shares(contribs: Mapping[str, float], total: float) -> dict[str, float]:
    """Spread ``total`` (score minus baseline) over terms in proportion to their size.

    >>> shares({"a": 1.0, "b": -1.0, "c": 2.0}, 0.4)
    {'a': 0.1, 'b': -0.1, 'c': 0.2}
    """
    norm = sum(abs(c) for c in contribs.values())
    if norm == 0:
        return {k: 0.0 for k in contribs}
    return {k: total * c / norm for k, c in contribs.items()}


def top_reasons(x: Mapping[str, float], contribs: Mapping[str, float], top: int,
                vocab: Vocabulary | None = None) -> list[Reason]:
    """Reasons for the ``top`` largest positive contributions, largest first, leaving out
    values that explain nothing (``models.sentences.informative``: a day of silence, no
    complaint, years of tenure).

    >>> [r.feature for r in top_reasons({"days_since_last_activity": 1.0, "complaints_30d": 2.0},
    ...                                 {"days_since_last_activity": 0.3, "complaints_30d": 0.1}, 3)]
    ['complaints_30d']
    """
    ranked = [(c, f) for c, f in sorted((c, f) for f, c in contribs.items() if c > 0)[::-1] if informative(f, x)][:top]
    return [Reason(feature=f, value=float(x.get(f, 0.0)), contribution=round(c, 6), text=describe_safe(f, x, vocab))
            for c, f in ranked]


class RulePrior:
    """Transparent rule score; ``version`` is ``"rules-1"``."""

    version = "rules-1"
    n_seen = 0

    def score(self, x: Mapping[str, float]) -> float:
        """Churn score 0-1 from the rule terms."""
        z = BIAS
        for _, w, term in RULES:
            z += w * term(x)
        return sigmoid(z)

    def explain(self, x: Mapping[str, float], top: int = 3, vocab: Vocabulary | None = None) -> list[Reason]:
        """The rule terms that raise the score most, as shares of ``score - sigmoid(BIAS)``.

        >>> [r.feature for r in RulePrior().explain({"order_overdue_ratio": 4.0, "uninstalled": 1.0})]
        ['order_overdue_ratio', 'uninstalled']
        """
        contribs = {f: w * term(x) for f, w, term in RULES}
        return top_reasons(x, shares(contribs, self.score(x) - sigmoid(BIAS)), top, vocab)
