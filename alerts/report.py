"""The uplift report: do offers keep customers, and what do they cost?

Uplift is retention of the treated minus retention of the control group, among
resolved customers, with Newcombe's hybrid score interval (method 10, 1998) for a
difference of proportions: it stays inside [-1, 1], behaves at 0 % and 100 % and for
small control groups, where the Wald interval is too narrow.

>>> wilson(81, 263)
(0.2553, 0.3662)
>>> newcombe_diff(56, 70, 48, 80)
(0.2, 0.0524, 0.3339)
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

Z95 = 1.959963984540054


def wilson(k: float, n: float, z: float = Z95, digits: int | None = 4) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` (rounded to ``digits``)."""
    if n <= 0:
        return (0.0, 1.0)
    p, z2 = k / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (round(lo, digits), round(hi, digits)) if digits is not None else (lo, hi)


def newcombe_diff(k1: float, n1: float, k2: float, n2: float, z: float = Z95, digits: int | None = 4) -> tuple[float, float, float]:
    """``p1 - p2`` and its hybrid score interval: ``(difference, low, high)``."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z, None)
    l2, u2 = wilson(k2, n2, z, None)
    d = p1 - p2
    lo, hi = d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)
    return (round(d, digits), round(lo, digits), round(hi, digits)) if digits is not None else (d, lo, hi)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report; ``None`` where a rate has no denominator yet."""

    offer_type: str
    segment: str
    offered: int
    held_out: int
    delivery_rate: float | None
    acceptance_rate: float | None
    redemption_rate: float | None
    retention_treated: float | None
    retention_control: float | None
    resolved: tuple[int, int]
    uplift: float | None
    ci_low: float | None
    ci_high: float | None
    revenue: float
    cost: float
    net: float


@dataclass(frozen=True, slots=True)
class Report:
    """Rows per offer type and segment, a subtotal per offer type (segment ``all``) and the total."""

    rows: tuple[Row, ...]
    overall: Row


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _row(offer_type: str, segment: str, t: dict[str, float], c: dict[str, float]) -> Row:
    get = lambda m, d=t: d.get(m, 0.0)  # noqa: E731
    n_t, n_c = get("retained") + get("churned"), get("retained", c) + get("churned", c)
    uplift = lo = hi = None
    if n_t > 0 and n_c > 0:
        uplift, lo, hi = newcombe_diff(get("retained"), n_t, get("retained", c), n_c, digits=None)
    return Row(offer_type, segment, int(get("offered")), int(get("offered", c)), _ratio(get("delivered"), get("offered")),
               _ratio(get("accepted"), get("delivered")), _ratio(get("redeemed"), get("delivered")),
               _ratio(get("retained"), n_t), _ratio(get("retained", c), n_c), (int(n_t), int(n_c)), uplift, lo, hi,
               get("revenue"), get("cost"), get("revenue") - get("cost"))


def _order(item: tuple[tuple[str, str], Any]) -> tuple[str, bool, str]:
    (offer_type, segment), _ = item
    return offer_type, segment == "all", segment  # segments first, then the offer type's subtotal


def build_report(counts: dict[tuple[str, str, str], dict[str, float]]) -> Report:
    """Pure: the report from :meth:`alerts.experiment_store.ExperimentStore.counts`."""
    cells: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(lambda: {"treated": {}, "control": {}})
    for (offer_type, segment, arm), metrics in counts.items():
        for key in ((offer_type, segment), (offer_type, "all"), ("all", "all")):
            into = cells[key][arm]
            for metric, amount in metrics.items():
                into[metric] = into.get(metric, 0.0) + amount
    rows = [_row(ot, seg, v["treated"], v["control"]) for (ot, seg), v in sorted(cells.items(), key=_order) if ot != "all"]
    total = cells["all", "all"]
    return Report(tuple(rows), _row("all", "all", total["treated"], total["control"]))


async def report(store: Any) -> Report:
    """Read the counters of an :class:`alerts.experiment_store.ExperimentStore` and build the report."""
    return build_report(await store.counts())


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def format_report(rep: Report) -> str:
    """A terminal table, one line per row and the total last."""
    head = ("offer type", "segment", "offered", "control", "deliv", "accept", "redeem", "ret T", "ret C",
            "uplift [95% CI]", "revenue", "cost", "net")
    lines = [head]
    for r in (*rep.rows, rep.overall):
        ci = "—" if r.uplift is None else f"{100 * r.uplift:+.1f} [{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}] pt"  # type: ignore[operator]
        lines.append((r.offer_type, r.segment, str(r.offered), str(r.held_out), _pct(r.delivery_rate), _pct(r.acceptance_rate),
                      _pct(r.redemption_rate), _pct(r.retention_treated), _pct(r.retention_control), ci,
                      f"{r.revenue:.2f}", f"{r.cost:.2f}", f"{r.net:.2f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "-" * len(text[0]))
    text.insert(len(text) - 1, "-" * len(text[0]))
    return "\n".join(text)
