"""Bad input messages of many kinds, each with the reason code the codec must give it.

For tests that push mixed traffic through the real broker and count dead letters
per reason. Every message has exactly one fault, so its expected code is certain
when decoded on an input topic with ``max_future`` under 200 days.

>>> import random
>>> from datetime import datetime, timezone
>>> msgs = bad_messages(random.Random(1), len(KINDS), ["c1", "c2"], datetime(2024, 5, 1, tzinfo=timezone.utc))
>>> sorted({code for _, code in msgs}) == sorted(KINDS)
True
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

Fault = Callable[[random.Random, dict[str, Any], datetime], Any]

_NUMBERS = {"order": ("amount", "discount_amount"), "support": ("sentiment",), "app_activity": ("duration_s",)}
_CHOICES = {"order": ("status", "channel"), "support": ("action", "category", "priority"),
            "app_activity": ("activity", "platform")}
_REQUIRED = {"order": ("order_id", "status", "amount", "currency", "items", "channel"),
             "support": ("ticket_id", "action", "category", "priority", "is_complaint"),
             "app_activity": ("activity", "platform")}


def _valid(rng: random.Random, customer_id: str, now: datetime) -> dict[str, Any]:
    """A valid input event as a JSON-ready dict, a little before ``now``."""
    ev = {"event_id": f"bad-{rng.getrandbits(64):016x}", "customer_id": customer_id,
          "occurred_at": (now - timedelta(seconds=rng.uniform(1, 3600))).isoformat()}
    kind = rng.choice(("order", "support", "app_activity"))
    if kind == "order":
        return {**ev, **_order(rng)}
    if kind == "support":
        return {**ev, "event_type": kind, "ticket_id": f"t-{rng.randrange(10**6)}", "action": "opened",
                "category": "delivery", "priority": "normal", "is_complaint": rng.random() < 0.5,
                "sentiment": round(rng.uniform(-1, 1), 2)}
    return {**ev, "event_type": kind, "activity": "session", "duration_s": round(rng.uniform(0, 900), 1),
            "platform": rng.choice(("ios", "android", "web"))}


def _envelope(ev: dict[str, Any]) -> dict[str, Any]:
    return {k: ev[k] for k in ("event_id", "customer_id", "occurred_at")}


def _order(rng: random.Random, **changes: Any) -> dict[str, Any]:
    return {"event_type": "order", "order_id": f"o-{rng.randrange(10**6)}", "status": "placed",
            "amount": round(rng.uniform(0, 300), 2), "currency": "EUR", "items": rng.randrange(1, 6),
            "discount_amount": 0.0, "channel": rng.choice(("web", "app", "store")), **changes}


def _set(ev: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**ev, **changes}


def _drop(ev: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in ev.items() if k != field}


_FAULTS: dict[str, Fault] = {
    "empty": lambda r, ev, now: b"",
    "not_utf8": lambda r, ev, now: json.dumps(ev).encode().replace(b'"bad-', b'"bad-\xff\xfe', 1),
    "not_json": lambda r, ev, now: (s := json.dumps(ev).encode())[: r.randrange(1, len(s) - 1)],
    "not_object": lambda r, ev, now: r.choice(([ev], "order", 42, None)),
    "missing_event_type": lambda r, ev, now: _drop(ev, "event_type"),
    "unknown_event_type": lambda r, ev, now: _set(ev, event_type=r.choice(("purchase", "Order", "click", ""))),
    "wrong_topic": lambda r, ev, now: _envelope(ev) | r.choice(({"event_type": "profile", "segment": "smb"}, {"event_type": "erasure_request"})),
    "missing_field": lambda r, ev, now: _drop(ev, r.choice(_REQUIRED[ev["event_type"]])),
    "unknown_field": lambda r, ev, now: _set(ev, **{r.choice(("colour", "Amount", "note")): "x"}),
    "wrong_type": lambda r, ev, now: _set(ev, **r.choice(({"customer_id": 42}, {"event_id": ["a"]}, {"occurred_at": 1714557600}))),
    "out_of_range": lambda r, ev, now: _set(ev, **{r.choice(_NUMBERS[ev["event_type"]]): -1.5}),
    "not_allowed": lambda r, ev, now: _set(ev, **{r.choice(_CHOICES[ev["event_type"]]): "teleport"}),
    "bad_format": lambda r, ev, now: _envelope(ev) | _order(r, currency=r.choice(("eur", "EURO", "€"))),
    "not_finite": lambda r, ev, now: _set(ev, **{r.choice(_NUMBERS[ev["event_type"]]): r.choice((float("nan"), float("inf")))}),
    "unsupported_version": lambda r, ev, now: _set(ev, schema_version=r.choice((0, 2, 99))),
    "naive_timestamp": lambda r, ev, now: _set(ev, occurred_at=now.replace(tzinfo=None).isoformat()),
    "bad_timestamp": lambda r, ev, now: _set(ev, occurred_at=r.choice(("2999-01-01T00:00:00Z", "yesterday", "2024-13-01T00:00:00Z"))),
    "future_timestamp": lambda r, ev, now: _set(ev, occurred_at=(now + timedelta(days=200)).isoformat()),
}
KINDS: tuple[str, ...] = tuple(_FAULTS)


def bad_messages(rng: random.Random, n: int, customer_ids: list[str], now: datetime, *,
                 max_bytes: int | None = None) -> list[tuple[bytes, str]]:
    """``n`` bad message values with their expected reason codes, kinds in turn (shuffled).

    ``too_large`` is included only when ``max_bytes`` (the decoder's limit) is given.
    """
    kinds = list(KINDS) + (["too_large"] if max_bytes is not None else [])
    rng.shuffle(kinds)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        ev = _valid(rng, rng.choice(customer_ids), now)
        if kind == "too_large":
            value: Any = _set(ev, note="x" * max_bytes)  # type: ignore[operator]
        else:
            value = _FAULTS[kind](rng, ev, now)
        out.append((value if isinstance(value, bytes) else json.dumps(value).encode(), kind))
    return out
