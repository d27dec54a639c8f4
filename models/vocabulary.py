"""The vocabulary of app features: which usage keys get their own model features.

Every customer's state counts use per *usage key* (an ``app_activity`` event's
``feature``, or its activity type when it names none: ``login``, ``push_opened``;
sessions have features of their own), by a 32-bit hash of the key. Which keys the model sees one by one is
the :class:`Vocabulary`: ``SIZE`` slots, each holding one key or empty. Slot ``i`` feeds
the features ``use_<i>_7d``, ``use_<i>_28d``, ... (see :mod:`models.catalogue`); every
other key is pooled into ``use_other_28d``.

The vocabulary is learnt from the stream: each worker counts the keys it sees in a
bounded :class:`UsageCounter` and adds them to shared counts in the model registry;
:func:`learn_vocabulary` turns the counts into the next vocabulary, *sticky*: a key
keeps its slot while it stays among the most used, a free slot goes to the next most
used key, and a slot changes hands only when a key outside the vocabulary is used
``SWAP_FACTOR`` times more than the slot's key (the model's weights of that slot are
then reset). A configured list (``CHURN_APP_FEATURES``) overrides all of this.

>>> v = learn_vocabulary(Vocabulary(), {"messages": 50, "search": 20, "help": 3}, size=2)
>>> v.names, v.version
(('messages', 'search'), 1)
>>> learn_vocabulary(v, {"messages": 50, "search": 20, "help": 30}, size=2) is v  # 30 < 2 x 20: sticky
True
>>> learn_vocabulary(v, {"messages": 50, "search": 20, "help": 45}, size=2).names
('messages', 'help')
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SIZE = 12               # slots (each feeds a handful of model features)
COUNTER_CAPACITY = 64   # keys a worker's counter tracks between flushes (Space-Saving)
SWAP_FACTOR = 2.0       # an outside key takes a slot only when used this many times more
ACTIVITY_KEYS = ("login", "push_opened")  # activities counted under their own name (sessions have their own ring)


def key_hash(key: str) -> int:
    """CRC-32 of a usage key: how customer states store keys (the same in every process).

    >>> key_hash("messages") == key_hash("messages")
    True
    """
    return zlib.crc32(key.encode("utf-8"))


def usage_key(event: Any) -> str | None:
    """The usage key of an event: its ``feature``, else its activity type; ``None`` for
    events that are not app use (orders, tickets, leaving actions)."""
    if getattr(event, "event_type", None) != "app_activity":
        return None
    if event.feature:
        return event.feature
    return event.activity if event.activity in ACTIVITY_KEYS else None


@dataclass(frozen=True)
class Vocabulary:
    """``names[i]`` is slot ``i``'s key (``""``: free); ``version`` grows with each change.

    >>> v = Vocabulary(("messages", ""), version=3)
    >>> v.slot_of(key_hash("messages")), v.slot_of(key_hash("search")), v.size, v.features
    (0, None, 2, 1)
    >>> Vocabulary.from_json(v.to_json()) == v
    True
    """

    names: tuple[str, ...] = ("",) * SIZE
    version: int = 0
    configured: bool = False
    _slots: dict[int, int] = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "_slots", {key_hash(n): i for i, n in enumerate(self.names) if n})

    @classmethod
    def of(cls, names: list[str] | tuple[str, ...], size: int = SIZE) -> Vocabulary:
        """A configured vocabulary (``CHURN_APP_FEATURES``): these keys, in this order.

        >>> Vocabulary.of(["messages", "groups"], size=3).names
        ('messages', 'groups', '')
        """
        names = [n.strip() for n in names if n.strip()]
        if len(set(names)) != len(names):
            raise ValueError(f"app features must be distinct, got {names}")
        if len(names) > size:
            raise ValueError(f"at most {size} app features get features of their own, got {len(names)}")
        size = max(size, len(names))
        return cls(tuple(names) + ("",) * (size - len(names)), version=1, configured=True)

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def hashes(self) -> dict[int, int]:
        """Key hash → slot."""
        return self._slots

    @property
    def features(self) -> int:
        """Slots that hold a product feature (not an activity type such as ``login``)."""
        return sum(1 for n in self.names if n and n not in ACTIVITY_KEYS)

    def slot_of(self, h: int) -> int | None:
        return self._slots.get(h)

    def name(self, slot: int) -> str:
        return self.names[slot] if 0 <= slot < len(self.names) else ""

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "version": self.version, "configured": self.configured}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any] | None) -> Vocabulary:
        if not obj:
            return cls()
        return cls(tuple(obj["names"]), version=int(obj.get("version", 0)), configured=bool(obj.get("configured")))


def learn_vocabulary(current: Vocabulary, counts: Mapping[str, float], size: int = SIZE) -> Vocabulary:
    """The next vocabulary from usage ``counts`` (key → uses); ``current`` itself when
    nothing changes (a configured vocabulary never changes)."""
    if current.configured:
        return current
    names = list(current.names[:size]) + [""] * max(0, size - current.size)
    top = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size] if counts[k] > 0]
    for key in top:
        if key in names:
            continue
        if "" in names:
            names[names.index("")] = key
            continue
        weakest = min(range(size), key=lambda i: (counts.get(names[i], 0.0), i))
        if names[weakest] not in top and counts[key] > SWAP_FACTOR * counts.get(names[weakest], 0.0):
            names[weakest] = key
    if tuple(names) == current.names:
        return current
    return Vocabulary(tuple(names), version=current.version + 1)


def changed_slots(old: Vocabulary, new: Vocabulary) -> list[int]:
    """Slots whose key changed from ``old`` to ``new`` (their model weights mean something else now).

    >>> changed_slots(Vocabulary(("a", "b")), Vocabulary(("a", "c")))
    [1]
    """
    return [i for i in range(new.size) if (old.names[i] if i < old.size else "") not in ("", new.names[i])]


class UsageCounter:
    """Bounded counts of usage keys (Space-Saving: at most ``capacity`` keys; a new key
    beyond that takes the place of the least counted one, inheriting its count).

    >>> c = UsageCounter(capacity=2)
    >>> for k in ["a", "a", "b", "c"]:
    ...     c.observe(k)
    >>> c.drain(), c.drain()
    ({'a': 2, 'c': 2}, {})
    """

    __slots__ = ("capacity", "counts")

    def __init__(self, capacity: int = COUNTER_CAPACITY) -> None:
        self.capacity, self.counts = capacity, {}

    def observe(self, key: str, n: int = 1) -> None:
        counts = self.counts
        if key in counts:
            counts[key] += n
        elif len(counts) < self.capacity:
            counts[key] = n
        else:
            low = min(counts, key=counts.__getitem__)
            counts[key] = counts.pop(low) + n

    def drain(self) -> dict[str, int]:
        """The counts since the last drain; the counter starts again from empty."""
        out, self.counts = self.counts, {}
        return out
