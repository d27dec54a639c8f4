"""Bounded per-customer state, updated purely by :func:`apply_event`.

Whatever the history, the state holds fixed-size rings of time buckets, a few
timestamps, counters and EWMAs — never a list of events. Rings are indexed by age
relative to ``head_day`` (the newest day any bucketed event reached): index ``i`` of a
day ring is day ``head_day - i``; index ``i`` of a week ring is week
``week_of(head_day) - i``. A late event lands in the bucket of its own day or week; an
event older than a ring's span only updates what it can (counters, timestamps).

Days are UTC days since the epoch; weeks start on Monday (``week_of``). Weekly spend
is kept to 0.1 of the currency unit, EWMAs to 4 decimals, event ids and ticket ids as
32-bit hashes: a heavy customer encodes to under 2 KiB.

Order days (for the typical gap) are counted when an order's day differs from the first
and the last order day seen; a late order on an in-between day that already had an
order is counted again, a rare over-count that only shortens the typical gap.

>>> from schemas.events import OrderEvent
>>> ev = OrderEvent(event_type="order", event_id="e1", customer_id="c1", occurred_at="2024-05-01T10:00:00+00:00",
...                 order_id="o1", status="placed", amount=25.0, currency="EUR", items=2, channel="web")
>>> s = apply_event(None, ev)
>>> s.seen("e1"), s.n_orders, s.preferred_channel, s.typical_gap_days
(True, 1, 'web', 30.0)
>>> CustomerState.from_json(s.to_json()) == s
True
"""

from __future__ import annotations

import base64
import struct
import sys
import zlib
from array import array
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from operator import attrgetter

from models import usage
from models.vocabulary import ACTIVITY_KEYS, key_hash
from schemas.events import AppActivityEvent, OrderEvent, ProfileUpdate, SupportEvent

DAY_S = 86_400.0
DAY_SPAN = 35          # day buckets: windows up to 35 days (7d, 28d, 30d)
WEEK_SPAN = 53         # week buckets for orders and spend: windows up to 365 days
SUPPORT_WEEKS = 14     # week buckets for reopened/escalated tickets: 90-day windows
SEEN_IDS = 32          # remembered event-id hashes (duplicate guard)
MAX_OPEN = 8           # open tickets tracked; more saturate
RESOLVED_IDS = 8       # recently resolved ticket hashes (a late `opened` stays closed)
DEFAULT_GAP_DAYS = 30.0  # population default order gap until two order days are seen
MIN_GAP_DAYS = 1.0     # typical gap never below one day
CHANNELS = ("web", "app", "store", "other")
CATEGORIES = ("billing", "delivery", "product", "account", "app", "other")
FEATURE_BITS = 32      # hashed bitset of app features used, per week
FEATURE_WEEKS = 5      # weeks of feature bitsets: a 28-day window touches at most 5

ACTIVE_DAYS = 28       # days of the active-day bitmask
_ACTIVE_MASK = (1 << ACTIVE_DAYS) - 1
_DAY_RINGS = ("d_orders", "d_tickets", "d_complaints", "d_sessions")
_WEEK_RINGS = {"w_orders": WEEK_SPAN, "w_spend": WEEK_SPAN, "w_reopened": SUPPORT_WEEKS,
               "w_escalations": SUPPORT_WEEKS, "w_features": FEATURE_WEEKS}


def id_hash(text: str) -> int:
    """Small stable hash of an id (CRC-32; the same in every process).

    >>> id_hash("e1") == id_hash("e1"), id_hash("e1") == id_hash("e2")
    (True, False)
    """
    return zlib.crc32(text.encode("utf-8"))


def day_of(epoch: float) -> int:
    """UTC day number of an epoch time.

    >>> day_of(0.0), day_of(86_399.9), day_of(-1.0)
    (0, 0, -1)
    """
    return int(epoch // DAY_S)


def week_of(day: int) -> int:
    """Week number (weeks start Monday; the middle day of week ``w`` is day ``7 * w``).

    >>> week_of(0), week_of(-3), week_of(-4), week_of(4)  # 1970-01-01 was a Thursday
    (0, 0, -1, 1)
    """
    return (day + 3) // 7


def _ewma(old: float | None, x: float, alpha: float) -> float:
    """EWMA rounded to 4 decimals (keeps the stored state short)."""
    return round(x if old is None else old + alpha * (x - old), 4)


@dataclass(slots=True)
class CustomerState:
    """One customer's bounded state. Build it with :func:`apply_event`, not by hand.

    Times are epoch seconds (float) inside; the public properties return aware datetimes.
    """

    head_day: int | None = None
    d_orders: list[int] = field(default_factory=lambda: [0] * DAY_SPAN)
    d_tickets: list[int] = field(default_factory=lambda: [0] * DAY_SPAN)
    d_complaints: list[int] = field(default_factory=lambda: [0] * DAY_SPAN)
    d_sessions: list[int] = field(default_factory=lambda: [0] * DAY_SPAN)
    w_orders: list[int] = field(default_factory=lambda: [0] * WEEK_SPAN)
    w_spend: list[float] = field(default_factory=lambda: [0] * WEEK_SPAN)  # int where whole
    w_reopened: list[int] = field(default_factory=lambda: [0] * SUPPORT_WEEKS)
    w_escalations: list[int] = field(default_factory=lambda: [0] * SUPPORT_WEEKS)
    w_features: list[int] = field(default_factory=lambda: [0] * FEATURE_WEEKS)
    seen_ids: list[int] = field(default_factory=list)
    # orders (lifetime)
    n_orders: int = 0
    n_order_days: int = 0
    n_cancelled: int = 0
    n_refunded: int = 0
    n_returned: int = 0
    total_spend: float = 0.0
    total_discount: float = 0.0
    channel_counts: list[int] = field(default_factory=lambda: [0] * len(CHANNELS))
    first_order: float | None = None
    last_order: float | None = None
    # support
    open_tickets: dict[int, float] = field(default_factory=dict)
    resolved_ids: list[int] = field(default_factory=list)
    category_opened: dict[str, list[float]] = field(default_factory=dict)
    resolution_hours: float | None = None
    csat: float | None = None
    sentiment_fast: float | None = None
    sentiment_slow: float | None = None
    # app
    last_login: float | None = None
    last_push_opened: float | None = None
    notifications_off: float | None = None
    uninstalled_at: float | None = None
    closed_at: float | None = None
    session_fast: float | None = None
    session_slow: float | None = None
    active_bits: int = 0  # bit i: an order, support or app event on day head_day - i (i < 28)
    # use per key: hashes, day rings (index = age in days, trailing zeros trimmed), week rings before them
    u_keys: list[int] = field(default_factory=list)
    u_days: list[list[int]] = field(default_factory=list)
    u_weeks: list[list[int]] = field(default_factory=list)
    # customer
    first_seen: float | None = None
    last_activity: float | None = None
    profile_at: float | None = None
    consent: bool | None = None
    owner: str | None = None
    segment: str | None = None
    signup: str | None = None

    # ------------------------------------------------------------ public view
    def seen(self, event_id: str) -> bool:
        """True when this event id is among the last ``SEEN_IDS`` applied."""
        return id_hash(event_id) in self.seen_ids

    @property
    def last_activity_at(self) -> datetime | None:
        """Latest order, support or app event from the customer (not leaving actions)."""
        return _dt(self.last_activity)

    @property
    def first_seen_at(self) -> datetime | None:
        """Earliest event time seen for this customer."""
        return _dt(self.first_seen)

    @property
    def churned(self) -> bool:
        """True once an ``account_closed`` activity was seen."""
        return self.closed_at is not None

    @property
    def marketing_consent(self) -> bool:
        """False until a profile update says True."""
        return bool(self.consent)

    @property
    def signup_date(self) -> date | None:
        """Signup date from the profile, if given."""
        return date.fromisoformat(self.signup) if self.signup else None

    @property
    def preferred_channel(self) -> str | None:
        """Channel of most placed orders (ties: web, app, store, other); None before any."""
        best = max(range(len(CHANNELS)), key=lambda i: (self.channel_counts[i], -i))
        return CHANNELS[best] if self.channel_counts[best] else None

    @property
    def typical_gap_days(self) -> float:
        """Mean gap between order days, ``DEFAULT_GAP_DAYS`` until two order days are seen.

        Computed as (last order - first order) / (order days - 1), so it does not
        depend on the order events arrive in; never below ``MIN_GAP_DAYS``.
        """
        if self.n_order_days < 2 or self.first_order is None or self.last_order is None:
            return DEFAULT_GAP_DAYS
        span = (self.last_order - self.first_order) / DAY_S
        return max(MIN_GAP_DAYS, span / (self.n_order_days - 1))

    # ------------------------------------------------------------ persistence
    def to_json(self) -> dict:
        """Compact JSON-serialisable dict: defaults left out, rings trimmed, floats exact."""
        out = {}
        for name in _NAMES:
            v = getattr(self, name)
            if v == _DEFAULTS[name]:
                continue
            if name in _RING_LEN:
                v = _trim(v)  # weekly spend holds ints where whole (see _bump): no conversion
            elif name in _HASHES:
                v = base64.b64encode(struct.pack(f"<{len(v)}I", *v)).decode("ascii")
            elif name == "open_tickets":
                v = [[k, _num(t)] for k, t in v.items()]
            elif name == "category_opened":
                v = {k: [_num(x) for x in ts] for k, ts in v.items()}
            elif name in ("channel_counts", "u_days", "u_weeks"):
                v = v[:] if name == "channel_counts" else [r[:] for r in v]
            elif type(v) is float:
                v = _num(v)
            out[_CODE[name]] = v
        return out

    def to_array(self, like: tuple[CustomerState, list] | None = None) -> list:
        """The binary record's layout (:mod:`engine.record` formats 2 and 3): every field in
        :data:`LAYOUT` order, as it is (MessagePack keeps ints, floats, dicts with int keys),
        except rings trimmed and hashes packed into bytes. No per-field conversion of
        scalars: it is written for every customer in every batch.

        ``like``: an earlier state and its array (as decoded, :meth:`from_array`). A ring or
        hash list this state still shares with it (the same object: updates copy on write)
        is taken from that array instead of being trimmed or packed again.

        >>> s = CustomerState(head_day=3, d_orders=[1, 0, 2] + [0] * (DAY_SPAN - 3), seen_ids=[7], csat=4.0)
        >>> arr = s.to_array()
        >>> t = CustomerState.from_array(arr)
        >>> t == s, t.to_array(like=(t, arr)) == arr
        (True, True)
        """
        vals = list(_GET_LAYOUT(self))
        if like is not None:
            before, arr = like
            was, n = _GET_LAYOUT(before), len(arr)
        else:
            was, n = None, 0
        for i in _RING_AT:
            v = vals[i]
            vals[i] = arr[i] if i < n and v is was[i] else _trim(v)
        for i in _HASH_AT:
            v = vals[i]
            vals[i] = arr[i] if i < n and v is was[i] else _pack_hashes(v)
        return vals

    @classmethod
    def from_array(cls, vals: list) -> CustomerState:
        """Inverse of :meth:`to_array`; a shorter array (written before fields were added to
        :data:`LAYOUT`) leaves the newer fields at their defaults."""
        vals = list(vals)
        n = len(vals)
        for i, size in _RING_LEN_AT:
            if i < n:
                v = vals[i]
                vals[i] = v + [0] * (size - len(v))  # a new list, padded
        for i in _HASH_AT:
            if i < n:
                raw = vals[i]
                vals[i] = _unpack_hashes(raw)
        if _POSITIONAL and n <= len(LAYOUT):
            return cls(*vals)
        return cls(**dict(zip(LAYOUT, vals)))

    @classmethod
    def from_json(cls, obj: dict) -> CustomerState:
        """Inverse of :meth:`to_json`."""
        kw = {}
        for key, v in obj.items():
            name = _NAME_OF.get(key, key)  # full names: records written before the short codes
            if name in _RING_LEN:
                v = v + [0] * (_RING_LEN[name] - len(v))  # a new list, padded
            elif name in _HASHES:
                raw = base64.b64decode(v)
                v = list(struct.unpack(f"<{len(raw) // 4}I", raw))
            elif name == "open_tickets":
                v = {int(k): float(t) for k, t in v}
            elif name == "category_opened":
                v = {k: [float(x) for x in ts] for k, ts in v.items()}
            elif name in ("channel_counts", "u_days", "u_weeks"):
                v = v[:] if name == "channel_counts" else [r[:] for r in v]
            elif name in _FLOATS and v is not None:
                v = float(v)
            kw[name] = v
        return cls(**kw)


_HASHES = ("seen_ids", "resolved_ids", "u_keys")  # 32-bit hashes, stored packed (base64 of little-endian uint32)
_NAMES = tuple(f.name for f in fields(CustomerState))
# Short, stable JSON keys: the record is written on every event, and full field names were a
# fifth of its size. Never reuse a code; a new field gets a new one.
_CODE = {
    "head_day": "hd", "d_orders": "do", "d_tickets": "dt", "d_complaints": "dc", "d_sessions": "ds",
    "w_orders": "wo", "w_spend": "ws", "w_reopened": "wr", "w_escalations": "we", "w_features": "wf",
    "seen_ids": "si", "n_orders": "no", "n_order_days": "nd", "n_cancelled": "nc", "n_refunded": "nf",
    "n_returned": "nr", "total_spend": "ts", "total_discount": "td", "channel_counts": "cc", "first_order": "fo",
    "last_order": "lo", "open_tickets": "ot", "resolved_ids": "ri", "category_opened": "co",
    "resolution_hours": "rh", "csat": "cs", "sentiment_fast": "sf", "sentiment_slow": "ss", "last_login": "ll",
    "last_push_opened": "lp", "notifications_off": "nx", "uninstalled_at": "ua", "closed_at": "ca",
    "session_fast": "qf", "session_slow": "qs", "first_seen": "fs", "last_activity": "la", "profile_at": "pa",
    "consent": "mc", "owner": "ow", "segment": "sg", "signup": "su",
    "active_bits": "ab", "u_keys": "uk", "u_days": "ud", "u_weeks": "uw",
}
_NAME_OF = {code: name for name, code in _CODE.items()}
_DEFAULTS = {f.name: getattr(CustomerState(), f.name) for f in fields(CustomerState)}
_RING_LEN = {**{n: DAY_SPAN for n in _DAY_RINGS}, **_WEEK_RINGS}
_FLOATS = {f.name for f in fields(CustomerState) if "float" in str(f.type) and "list" not in str(f.type)
           and "dict" not in str(f.type)}
#: The field order of :meth:`CustomerState.to_array`. Part of the stored format: never reorder
#: or remove a name; a new field is appended at the end (tests/unit/test_record.py checks it).
LAYOUT = (
    "head_day", "d_orders", "d_tickets", "d_complaints", "d_sessions", "w_orders", "w_spend", "w_reopened",
    "w_escalations", "w_features", "seen_ids", "n_orders", "n_order_days", "n_cancelled", "n_refunded", "n_returned",
    "total_spend", "total_discount", "channel_counts", "first_order", "last_order", "open_tickets", "resolved_ids",
    "category_opened", "resolution_hours", "csat", "sentiment_fast", "sentiment_slow", "last_login",
    "last_push_opened", "notifications_off", "uninstalled_at", "closed_at", "session_fast", "session_slow",
    "active_bits", "u_keys", "u_days", "u_weeks", "first_seen", "last_activity", "profile_at", "consent", "owner",
    "segment", "signup",
)
_GET_LAYOUT = attrgetter(*LAYOUT)
_RING_AT = tuple(i for i, n in enumerate(LAYOUT) if n in _RING_LEN)
_RING_LEN_AT = tuple((i, _RING_LEN[n]) for i, n in enumerate(LAYOUT) if n in _RING_LEN)
_HASH_AT = tuple(i for i, n in enumerate(LAYOUT) if n in _HASHES)
_POSITIONAL = LAYOUT == _NAMES  # the fields in layout order: the array is the constructor's arguments


def _pack_hashes(v: list[int]) -> bytes:
    """Little-endian uint32s (``array`` packs natively: on a little-endian machine that is it, and faster)."""
    return array("I", v).tobytes() if _NATIVE_LE else struct.pack(f"<{len(v)}I", *v)


_NATIVE_LE = sys.byteorder == "little" and array("I").itemsize == 4


def _unpack_hashes(raw: bytes) -> list[int]:
    """Inverse of :func:`_pack_hashes`.

    >>> _unpack_hashes(_pack_hashes([1, 2**32 - 1]))
    [1, 4294967295]
    """
    if _NATIVE_LE:
        a = array("I")
        a.frombytes(raw)
        return a.tolist()
    return list(struct.unpack(f"<{len(raw) // 4}I", raw))


def _num(x):
    return int(x) if isinstance(x, float) and x.is_integer() and abs(x) < 2**53 else x


def _trim(xs: list) -> list:
    n = len(xs)
    while n and xs[n - 1] == 0:
        n -= 1
    return xs[:n]


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


# ---------------------------------------------------------------- updates
CSAT_ALPHA = 0.5                       # recent CSAT: EWMA weight of the newest score
SENTIMENT_FAST, SENTIMENT_SLOW = 0.5, 0.1
SESSION_FAST, SESSION_SLOW = 0.5, 0.1
RESOLUTION_ALPHA = 0.3
_LEAVING = frozenset({"notifications_disabled", "uninstall", "account_closed"})


def apply_event(state: CustomerState | None, event, *, at: float | None = None) -> CustomerState:
    """Return a new state with ``event`` applied; ``state`` is never mutated. ``at``: the
    event's ``occurred_at`` in epoch seconds, when the caller has it already.

    Handles order, support, app-activity and profile events; any other event and a
    repeated event id (among the last ``SEEN_IDS``) leave the state as it was (copied).
    The copy is shallow: every update below replaces a list or dict it changes (copy on
    write), so the new state shares nothing it changes with the old one.
    """
    s = CustomerState() if state is None else _copy(state)
    h = id_hash(event.event_id)
    if h in s.seen_ids:
        return s
    s.seen_ids = (s.seen_ids + [h])[-SEEN_IDS:]
    t = event.occurred_at.timestamp() if at is None else at
    if isinstance(event, ProfileUpdate):
        s.first_seen = t if s.first_seen is None else min(s.first_seen, t)
        _profile(s, event, t)
        return s
    if not isinstance(event, (OrderEvent, SupportEvent, AppActivityEvent)):
        return s
    s.first_seen = t if s.first_seen is None else min(s.first_seen, t)
    day = day_of(t)
    _advance(s, day)
    if 0 <= s.head_day - day < ACTIVE_DAYS:
        s.active_bits |= 1 << (s.head_day - day)
    if isinstance(event, OrderEvent):
        _order(s, event, t, day)
        active = True
    elif isinstance(event, SupportEvent):
        _support(s, event, t, day)
        active = event.action != "resolved"  # resolving is the agent's act, not the customer's
    else:
        _app(s, event, t, day)
        active = event.activity not in _LEAVING
    if active:
        s.last_activity = t if s.last_activity is None else max(s.last_activity, t)
    return s


def _make_copy():  # noqa: ANN202
    """A shallow copy of a state, one assignment per field (as dataclasses builds ``__init__``):
    a state is copied on every event, and a loop of ``setattr(getattr(...))`` was three times slower."""
    body = "".join(f"    c.{n} = s.{n}\n" for n in _NAMES)
    scope = {"new": object.__new__, "CustomerState": CustomerState}
    exec(f"def _copy(s):\n    c = new(CustomerState)\n{body}    return c\n", scope)  # noqa: S102 - our own field names
    return scope["_copy"]


_copy = _make_copy()


def _advance(s: CustomerState, day: int) -> None:
    if s.head_day is None:
        s.head_day = day
        return
    if day <= s.head_day:
        return
    dd, dw = day - s.head_day, week_of(day) - week_of(s.head_day)
    for name in _DAY_RINGS:
        setattr(s, name, _shift(getattr(s, name), dd))
    if dw:
        for name in _WEEK_RINGS:
            setattr(s, name, _shift(getattr(s, name), dw))
    if s.u_keys:
        s.u_days, s.u_weeks = usage.advance(s.u_days, s.u_weeks, s.head_day, day)
    s.active_bits = (s.active_bits << dd) & _ACTIVE_MASK
    s.head_day = day


def _shift(ring: list, by: int) -> list:
    if by <= 0:
        return ring
    n = len(ring)
    return [0] * min(by, n) + ring[: max(0, n - by)]


def _bump(s: CustomerState, name: str, day: int, x=1) -> None:
    i = s.head_day - day if name in _DAY_RINGS else week_of(s.head_day) - week_of(day)
    ring = getattr(s, name)
    if 0 <= i < len(ring):
        ring = ring[:]  # copy on write
        if name == "w_spend":
            v = round(ring[i] + x, 1)
            ring[i] = int(v) if v.is_integer() else v  # whole amounts stay ints: shorter JSON
        else:
            ring[i] = ring[i] + x
        setattr(s, name, ring)


def _order(s: CustomerState, ev: OrderEvent, t: float, day: int) -> None:
    if ev.status != "placed":
        name = {"cancelled": "n_cancelled", "refunded": "n_refunded", "returned": "n_returned"}[ev.status]
        setattr(s, name, getattr(s, name) + 1)
        return
    if s.first_order is None or s.last_order is None:
        s.n_order_days, s.first_order, s.last_order = 1, t, t
    else:
        if day not in (day_of(s.first_order), day_of(s.last_order)):
            s.n_order_days += 1
        s.first_order, s.last_order = min(s.first_order, t), max(s.last_order, t)
    s.n_orders += 1
    s.total_spend = round(s.total_spend + ev.amount, 2)
    s.total_discount = round(s.total_discount + ev.discount_amount, 2)
    s.channel_counts = s.channel_counts[:]
    s.channel_counts[CHANNELS.index(ev.channel)] += 1
    _bump(s, "d_orders", day)
    _bump(s, "w_orders", day)
    _bump(s, "w_spend", day, ev.amount)


def _support(s: CustomerState, ev: SupportEvent, t: float, day: int) -> None:
    key = id_hash(ev.ticket_id)
    if ev.action == "opened":
        _bump(s, "d_tickets", day)
        times = sorted(s.category_opened.get(ev.category, []) + [t])[-2:]
        s.category_opened = {**s.category_opened, ev.category: times}
        if key not in s.resolved_ids and key not in s.open_tickets:
            _open(s, key, t)
    elif ev.action == "reopened":
        _bump(s, "w_reopened", day)
        s.resolved_ids = [k for k in s.resolved_ids if k != key]
        _open(s, key, t)
    elif ev.action == "escalated":
        _bump(s, "w_escalations", day)
    elif ev.action == "resolved":
        opened = s.open_tickets.get(key)
        if opened is not None and opened > t:
            return _moods(s, ev)  # a late resolution of an earlier episode: the ticket stays open
        if opened is not None:
            s.open_tickets = {k: v for k, v in s.open_tickets.items() if k != key}
            s.resolution_hours = _ewma(s.resolution_hours, (t - opened) / 3600.0, RESOLUTION_ALPHA)
        s.resolved_ids = ([k for k in s.resolved_ids if k != key] + [key])[-RESOLVED_IDS:]
    if ev.is_complaint and ev.action in ("opened", "reopened"):
        _bump(s, "d_complaints", day)
    _moods(s, ev)


def _moods(s: CustomerState, ev: SupportEvent) -> None:
    if ev.csat is not None:
        s.csat = _ewma(s.csat, float(ev.csat), CSAT_ALPHA)
    if ev.sentiment is not None:
        s.sentiment_fast = _ewma(s.sentiment_fast, ev.sentiment, SENTIMENT_FAST)
        s.sentiment_slow = _ewma(s.sentiment_slow, ev.sentiment, SENTIMENT_SLOW)


def _open(s: CustomerState, key: int, t: float) -> None:
    s.open_tickets = {**s.open_tickets, key: t}
    if len(s.open_tickets) > MAX_OPEN:
        del s.open_tickets[min(s.open_tickets, key=s.open_tickets.__getitem__)]


def _app(s: CustomerState, ev: AppActivityEvent, t: float, day: int) -> None:
    a = ev.activity
    key = ev.feature or (a if a in ACTIVITY_KEYS else None)
    if key is not None:
        usage.bump(s, key_hash(key), s.head_day - day)
    if a in ("login", "session"):
        s.last_login = t if s.last_login is None else max(s.last_login, t)
    if a == "session":
        _bump(s, "d_sessions", day)
        if ev.duration_s is not None:
            s.session_fast = _ewma(s.session_fast, ev.duration_s, SESSION_FAST)
            s.session_slow = _ewma(s.session_slow, ev.duration_s, SESSION_SLOW)
    if a == "feature_used" and ev.feature:
        i = week_of(s.head_day) - week_of(day)
        if 0 <= i < len(s.w_features):
            s.w_features = s.w_features[:]
            s.w_features[i] |= 1 << (id_hash(ev.feature) % FEATURE_BITS)
    if a == "push_opened":
        s.last_push_opened = t if s.last_push_opened is None else max(s.last_push_opened, t)
    elif a == "notifications_disabled":
        s.notifications_off = t if s.notifications_off is None else max(s.notifications_off, t)
    elif a == "uninstall":
        s.uninstalled_at = t if s.uninstalled_at is None else max(s.uninstalled_at, t)
    elif a == "account_closed":
        s.closed_at = t if s.closed_at is None else min(s.closed_at, t)


def _profile(s: CustomerState, ev: ProfileUpdate, t: float) -> None:
    newer = s.profile_at is None or t >= s.profile_at
    signup = ev.signup_date.isoformat() if ev.signup_date else None
    for name, v in (("segment", ev.segment), ("signup", signup), ("consent", ev.marketing_consent), ("owner", ev.owner)):
        if v is not None and (newer or getattr(s, name) is None):
            setattr(s, name, v)
    if newer:
        s.profile_at = t
