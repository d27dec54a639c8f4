"""Use per key in a customer's state: bounded day rings and week rings of the past.

A customer's state counts each usage key (see :mod:`models.vocabulary`) in a slot:
``u_keys[k]`` (the key's hash), ``u_days[k]`` (uses per day, index = age in days from
the state's ``head_day``, at most ``USAGE_DAYS`` long, trailing zeros trimmed) and
``u_weeks[k]``: the uses of days older than that, per calendar week (index = weeks
before ``head_day``'s week, at most ``PAST_WEEKS``). A day leaving the day ring goes into
its week's bucket, and a late event older than the day ring straight there, so the
counts are integers that do not depend on the order events arrive in (a replay, a
restart and the backtest hold the same state). The past divided by the days it covers
is the key's usual daily use — the customer's own past, against which the last 7 and
28 days are judged. At most ``USAGE_SLOTS`` keys: a new key takes a free slot, or one
whose key has not been used in all that time, else it is pooled (hash 0), so a
customer who tries a hundred features still has at most ``USAGE_SLOTS`` slots.

>>> from models.state import CustomerState
>>> s = CustomerState(head_day=100)
>>> bump(s, 7, 0); bump(s, 7, 0); bump(s, 9, 3)
>>> s.u_keys, s.u_days
([7, 9], [[2], [0, 0, 0, 1]])
>>> days, weeks = advance(s.u_days, s.u_weeks, 100, 127)
>>> days[0][27], days[1], weeks  # day 100 is 27 days old (still in the ring); day 97 left it
(2, [], [[], [0, 0, 0, 0, 1]])
"""

from __future__ import annotations

USAGE_SLOTS = 12       # usage keys counted one by one per customer; more are pooled
USAGE_DAYS = 28        # day buckets of each key
PAST_WEEKS = 9         # week buckets of the past before them (about two months)
POOLED = 0             # key hash of the pooled slot


def week_of(day: int) -> int:
    return (day + 3) // 7  # as models.state.week_of (weeks start Monday)


def bump(s, h: int, age: int, n: int = 1) -> None:
    """Count ``n`` uses of key hash ``h`` on the day ``age`` days before ``s.head_day``
    (copy on write: the lists changed are new lists)."""
    if age < 0:
        return
    wi = week_of(s.head_day) - week_of(s.head_day - age)
    if age >= USAGE_DAYS and wi >= PAST_WEEKS:
        return  # older than everything kept
    try:
        k = s.u_keys.index(h)
    except ValueError:
        k = _slot_for(s, h)
    if age < USAGE_DAYS:
        s.u_days = _add(s.u_days, k, age, n)
    else:
        s.u_weeks = _add(s.u_weeks, k, wi, n)


def _add(rings: list[list[int]], k: int, i: int, n: int) -> list[list[int]]:
    rings = rings[:]
    ring = rings[k] + [0] * (i + 1 - len(rings[k])) if len(rings[k]) <= i else rings[k][:]
    ring[i] += n
    rings[k] = ring
    return rings


def _slot_for(s, h: int) -> int:
    keys, days, weeks = s.u_keys[:], s.u_days[:], s.u_weeks[:]
    if len(keys) < USAGE_SLOTS:
        keys.append(h)
        days.append([])
        weeks.append([])
        k = len(keys) - 1
    else:
        idle = [i for i in range(len(keys)) if not days[i] and not weeks[i] and keys[i] != POOLED]
        if idle:
            k = idle[0]
            keys[k] = h
        elif POOLED in keys:
            k = keys.index(POOLED)
        else:  # the least used slot becomes the pool of everything beyond
            k = min(range(len(keys)), key=lambda i: (sum(days[i]) + sum(weeks[i]), i))
            keys[k] = POOLED
    s.u_keys, s.u_days, s.u_weeks = keys, days, weeks
    return k


def advance(days: list[list[int]], weeks: list[list[int]], old_head: int, new_head: int,
            ) -> tuple[list[list[int]], list[list[int]]]:
    """Rings from ``old_head`` to ``new_head``: days leaving the day ring go into their week."""
    dd, dw = new_head - old_head, week_of(new_head) - week_of(old_head)
    if dd <= 0:
        return days, weeks
    keep, new_w = max(0, USAGE_DAYS - dd), week_of(new_head)
    new_days, new_weeks = [], []
    for ring, wring in zip(days, weeks):
        w = ([0] * min(dw, PAST_WEEKS) + wring[: max(0, PAST_WEEKS - dw)]) if dw and wring else wring[:]
        for j in range(keep, len(ring)):
            if ring[j]:
                wi = new_w - week_of(old_head - j)
                if wi < PAST_WEEKS:
                    w += [0] * (wi + 1 - len(w))
                    w[wi] += ring[j]
        while w and not w[-1]:
            w.pop()
        kept = ring[:keep]
        while kept and not kept[-1]:
            kept.pop()
        new_days.append([0] * min(dd, USAGE_DAYS) + kept if kept else [])
        new_weeks.append(w)
    return new_days, new_weeks


def usual_per_day(ring: list[int], wring: list[int], head: int, off: int, first_day: int) -> float | None:
    """The key's mean daily use over the kept past as seen from ``off`` days after the head
    (ring days aged 28+ by then count as past); ``None`` with under 14 days of past.

    >>> usual_per_day([], [7, 7], head=100, off=0, first_day=0) == 14 / 34  # days 39 (a Monday) .. 72
    True
    """
    span = past_span(head, off, first_day)
    return None if span is None else past_uses(ring, wring, off) / span


def past_uses(ring: list[int], wring: list[int], off: int) -> int:
    """Uses of a key in the past that :func:`usual_per_day` averages: its week ring, and the
    day buckets that have aged out of the last ``USAGE_DAYS`` days (``off`` days after the head).

    >>> past_uses([1] * 30, [5, 5], off=0), past_uses([1] * 30, [5, 5], off=3)
    (10, 15)
    """
    return sum(wring) + sum(ring[max(0, USAGE_DAYS - off):]) if off > 0 else sum(wring)


def past_span(head: int, off: int, first_day: int) -> int | None:
    """Days of the past that :func:`usual_per_day` divides by (the same for every key of a
    customer); ``None`` with under 14.

    >>> past_span(100, 0, 0), past_span(100, 0, 60)  # first seen on day 60: 13 days of past
    (34, None)
    """
    last_past = head + off - USAGE_DAYS  # newest day of the past
    oldest = max(first_day, 7 * (week_of(head) - PAST_WEEKS + 1) - 3)  # the oldest week's Monday, or first seen
    span = last_past - oldest + 1
    return None if span < 14 else span
