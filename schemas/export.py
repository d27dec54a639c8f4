"""JSON Schema files for every topic of ``shared/DESIGN.md``.

The files under ``schemas/json/`` are generated from the pydantic models and
committed; ``churn-alert schemas export`` rewrites them, and a unit test fails when
they are stale. File names use the default topic names of ``config.settings``.

>>> files = render()
>>> sorted(files)[:3]
['app-activity.schema.json', 'churn-alerts.schema.json', 'customer-profiles.schema.json']
>>> '"title": "orders"' in files["orders.schema.json"]
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from schemas.codec import REASONS
from schemas.deadletter import DeadLetter
from schemas.events import (ErasureConfirmation, ErasureRequest, InputEvent, OfferOutcome, ProfileUpdate,
                            RetentionOffer, RiskAlert)
from config.settings import Settings

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:churn-alert:schema:"


class TopicSchema(NamedTuple):
    """One topic: its ``Settings.topic_<setting>`` name, value type, and who writes it."""

    setting: str
    value: Any
    description: str
    produced_by_us: bool


TOPICS: tuple[TopicSchema, ...] = (
    TopicSchema("orders", InputEvent, "Input events (order, support or app_activity), keyed by customer_id.", False),
    TopicSchema("support", InputEvent, "Input events (order, support or app_activity), keyed by customer_id.", False),
    TopicSchema("activity", InputEvent, "Input events (order, support or app_activity), keyed by customer_id.", False),
    TopicSchema("profiles", ProfileUpdate, "Profile and consent updates, keyed by customer_id.", False),
    TopicSchema("outcomes", OfferOutcome, "What happened to a retention offer, keyed by customer_id.", False),
    TopicSchema("erasure", ErasureRequest, "Right-to-erasure requests, keyed by customer_id.", False),
    TopicSchema("alerts", RiskAlert, "Risk alerts, keyed by customer_id.", True),
    TopicSchema("offers", RetentionOffer, "Retention offers, keyed by customer_id.", True),
    TopicSchema("dead_letter", DeadLetter, "Messages that were not applied, keyed by the original key.", True),
    TopicSchema("erasure_done", ErasureConfirmation, "Confirmations that a customer was erased, keyed by customer_id.", True),
)


def topic_name(setting: str) -> str:
    """Default topic name of a ``Settings.topic_<setting>`` field.

    >>> topic_name("support")
    'support-tickets'
    """
    return Settings.model_fields[f"topic_{setting}"].default


def schema_of(topic: TopicSchema) -> dict[str, Any]:
    """JSON Schema of one topic's values: validation mode for inputs, serialization for outputs."""
    name = topic_name(topic.setting)
    body = TypeAdapter(topic.value).json_schema(mode="serialization" if topic.produced_by_us else "validation")
    return {"$schema": SCHEMA_DIALECT, "$id": f"{ID_PREFIX}{name}", **body, "title": name,
            "description": topic.description + (" " + body["description"] if "description" in body else ""),
            "x-kafka-key": "original key" if topic.setting == "dead_letter" else "customer_id"}


def render() -> dict[str, str]:
    """File name → file text for every topic (sorted keys, indented, trailing newline)."""
    return {f"{topic_name(t.setting)}.schema.json": json.dumps(schema_of(t), indent=2, sort_keys=True,
                                                                 ensure_ascii=False) + "\n"
            for t in TOPICS}


def export(directory: Path) -> list[Path]:
    """Write every schema file into ``directory`` (created if missing); return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def reasons_table() -> str:
    """Markdown table of the dead-letter reason codes, as pasted in ``docs/PRODUCERS.md``.

    >>> reasons_table().splitlines()[2]
    '| `empty` | The message has no value (null or zero bytes). |'
    """
    rows = [f"| `{code}` | {text} |" for code, text in REASONS.items()]
    return "\n".join(["| reason_code | meaning |", "|---|---|", *rows]) + "\n"
