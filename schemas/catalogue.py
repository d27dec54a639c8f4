"""The one topic catalogue: every topic's setting name, default name, value type,
accepted event types, key and partitioning. The codec, the worker's topics, the
publisher, the JSON Schema export, ``docs/PRODUCERS.md`` and the tests read it.

Each input topic carries one event type (``docs/CONTRACT.md``): an event of another
type on it is dead-lettered as ``wrong_topic``, with the topic it belongs on.

>>> BY_SETTING["support"].default, sorted(BY_SETTING["support"].accepts)
('support-tickets', ['support'])
>>> TOPIC_OF_TYPE["app_activity"]
'activity'
>>> [t.setting for t in TOPICS if t.partitions == "one"]
['labels']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from schemas.deadletter import DeadLetter
from schemas.events import (
    AppActivityEvent,
    ErasureConfirmation,
    ErasureRequest,
    OfferOutcome,
    OrderEvent,
    ProfileUpdate,
    RetentionOffer,
    RiskAlert,
    SupportEvent,
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic of the contract."""

    setting: str  # ``Settings.topic_<setting>`` holds the configured name
    default: str  # the default name
    value: Any  # pydantic type of the values (None: internal bytes)
    role: Literal["input", "output", "internal"]
    description: str
    accepts: frozenset[str] = frozenset()  # event types accepted (inputs only)
    key: Literal["customer_id", "original key", "none"] = "customer_id"
    partitions: Literal["keyed", "one"] = "keyed"  # keyed: the co-partitioned count; one: a single partition


def _input(setting: str, default: str, value: Any, event_type: str, description: str) -> TopicSpec:
    return TopicSpec(setting, default, value, "input", description, accepts=frozenset({event_type}))


TOPICS: tuple[TopicSpec, ...] = (
    _input("orders", "orders", OrderEvent, "order", "Order events, keyed by customer_id."),
    _input("support", "support-tickets", SupportEvent, "support", "Support-ticket events, keyed by customer_id."),
    _input("activity", "app-activity", AppActivityEvent, "app_activity", "App-activity events, keyed by customer_id."),
    _input("profiles", "customer-profiles", ProfileUpdate, "profile", "Profile and consent updates, keyed by customer_id."),
    _input("outcomes", "offer-outcomes", OfferOutcome, "offer_outcome",
           "What happened to a retention offer, keyed by customer_id."),
    _input("erasure", "erasure-requests", ErasureRequest, "erasure_request",
           "Right-to-erasure requests, keyed by customer_id."),
    TopicSpec("alerts", "churn-alerts", RiskAlert, "output", "Risk alerts, keyed by customer_id."),
    TopicSpec("offers", "retention-offers", RetentionOffer, "output", "Retention offers, keyed by customer_id."),
    TopicSpec("dead_letter", "dead-letter", DeadLetter, "output",
              "Messages that were not applied, keyed by the original key.", key="original key"),
    TopicSpec("erasure_done", "erasure-confirmations", ErasureConfirmation, "output",
              "Confirmations that a customer was erased, keyed by customer_id."),
    TopicSpec("labels", "churn-labels", None, "internal",
              "Resolved training examples for the one learner (no customer id).", key="none", partitions="one"),
    TopicSpec("ticks", "churn-silence-ticks", None, "internal",
              "Silence checkpoints due on the wall clock, co-partitioned with the inputs."),
)

BY_SETTING: dict[str, TopicSpec] = {t.setting: t for t in TOPICS}
INPUTS: tuple[TopicSpec, ...] = tuple(t for t in TOPICS if t.role == "input")
#: event_type → the setting name of the one topic that carries it.
TOPIC_OF_TYPE: dict[str, str] = {ty: t.setting for t in INPUTS for ty in t.accepts}
ALL_TYPES: frozenset[str] = frozenset(TOPIC_OF_TYPE)


def topics_table() -> str:
    """Markdown table of the catalogue, as pasted in ``docs/PRODUCERS.md`` (a test keeps it current).

    >>> topics_table().splitlines()[2]
    '| `orders` | input | `order` | customer_id | co-partitioned | Order events, keyed by customer_id. |'
    """
    rows = [f"| `{t.default}` | {t.role} | {', '.join(f'`{a}`' for a in sorted(t.accepts)) or '—'} | {t.key} | "
            f"{'co-partitioned' if t.partitions == 'keyed' else 'one partition'} | {t.description} |" for t in TOPICS]
    return "\n".join(["| topic | role | accepts | key | partitions | what |", "|---|---|---|---|---|---|", *rows]) + "\n"
