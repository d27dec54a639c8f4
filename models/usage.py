"""Use per key in a customer's state: bounded day rings and a decayed past.

A customer's state counts each usage key (see :mod:`models.vocabulary`) in a slot:
``u_keys[k]`` (the key's hash), ``u_days[k]`` (uses per day, index = age in days from
the state's ``head_day``, at most ``USAGE_DAYS`` long, trailing zeros trimmed) and
``u_past[k]``: the uses of the days that left the ring, each weighted ``PAST_DECAY`` per
day it has been out. Divided by :func:`past_weight` (the same sum over the customer's
*observed* days, used or not) it is the key's usual daily use — the customer's own past,
against which the last 7 and 28 days are judged. At most ``USAGE_SLOTS`` keys: a new key
takes a free slot, or one whose key has not been used for months (nothing in its ring,
its past decayed below 0.05), else it is pooled (hash 0), so a customer who tries a
hundred features still has at most ``USAGE_SLOTS`` slots.

>>> from models.state import CustomerState
>>> s = CustomerState(head_day=100)
>>> bump(s, 7, 0); bump(s, 7, 0); bump(s, 9, 3)
>>> s.u_keys, s.u_days
([7, 9], [[2], [0, 0, 0, 1]])
>>> days, past = advance(s.u_days, s.u_past, 27)
>>> days, past  # day 0 is now 27 days old (still in the ring); day 3 left it two days ago: 1 x 0.98 x 0.98
([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], []], [0.0, 0.96])
"""

from __future__ import annotations

import math

USAGE_SLOTS = 12       # usage keys counted one by one per customer; more are pooled
USAGE_DAYS = 28        # day buckets of each key; older days go into its decayed past
PAST_DECAY = math.exp(-1 / 56)  # weight per day of age of the past (a usual level over about two months)
POOLED = 0             # key hash of the pooled slot
_GEOM = 1.0 / (1.0 - PAST_DECAY)


def bump(s, h: int, age: int, n: int = 1) -> None:
    """Count ``n`` uses of key hash ``h`` on the day ``age`` days before ``s.head_day``
    (copy on write: the lists changed are new lists). Days older than the ring are not counted."""
    if not 0 <= age < USAGE_DAYS:
        return
    keys = s.u_keys
    try:
        k = keys.index(h)
    except ValueError:
        k = _slot_for(s, h)
    days = s.u_days[:]
    ring = days[k] + [0] * (age + 1 - len(days[k])) if len(days[k]) <= age else days[k][:]
    ring[age] += n
    days[k] = ring
    s.u_days = days


def _slot_for(s, h: int) -> int:
    keys, days, past = s.u_keys[:], s.u_days[:], s.u_past[:]
    if len(keys) < USAGE_SLOTS:
        keys.append(h)
        days.append([])
        past.append(0.0)
        k = len(keys) - 1
    else:
        idle = [i for i, r in enumerate(days) if not r and past[i] < 0.05 and keys[i] != POOLED]
        if idle:
            k = idle[0]
            keys[k], days[k], past[k] = h, [], 0.0
        elif POOLED in keys:
            k = keys.index(POOLED)
        else:  # the least used slot becomes the pool of everything beyond
            k = min(range(len(keys)), key=lambda i: (sum(days[i]), past[i]))
            keys[k] = POOLED
    s.u_keys, s.u_days, s.u_past = keys, days, past
    return k


def advance(days: list[list[int]], past: list[float], dd: int) -> tuple[list[list[int]], list[float]]:
    """Rings and pasts ``dd`` days later: days leaving the ring move into the past."""
    if dd <= 0:
        return days, past
    decay, keep = PAST_DECAY ** dd, max(0, USAGE_DAYS - dd)
    new_days, new_past = [], []
    for ring, p in zip(days, past):
        acc = p * decay
        for j in range(keep, len(ring)):
            if ring[j]:
                acc += ring[j] * PAST_DECAY ** (j + dd - USAGE_DAYS)
        kept = ring[:keep]
        while kept and not kept[-1]:
            kept.pop()
        new_days.append([0] * min(dd, USAGE_DAYS) + kept if kept else [])
        new_past.append(round(acc, 2))
    return new_days, new_past


def past_at(ring: list[int], past: float, off: int) -> float:
    """The key's decayed past seen from ``off`` days after the head (ring days aged 28+ then count)."""
    if off <= 0:
        return past
    acc = past * PAST_DECAY ** off
    for j in range(max(0, USAGE_DAYS - off), len(ring)):
        if ring[j]:
            acc += ring[j] * PAST_DECAY ** (j + off - USAGE_DAYS)
    return acc


def past_weight(days_observed: int) -> float:
    """Sum of the past's weights over the observed days that left the ring, for a
    customer first seen ``days_observed`` days before now (0 until a day has left it).

    >>> past_weight(27), round(past_weight(28), 6), round(past_weight(10_000), 1)
    (0.0, 1.0, 56.5)
    """
    m = days_observed - USAGE_DAYS + 1
    return 0.0 if m <= 0 else (1.0 - PAST_DECAY ** m) * _GEOM
