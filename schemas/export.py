"""JSON Schema files for every public topic of the catalogue (``schemas/catalogue.py``).

The files under ``schemas/json/`` are generated from the pydantic models and
committed; ``churn-alert schemas export`` rewrites them, and a unit test fails when
they are stale. File names use the topics' default names.

>>> files = render()
>>> sorted(files)[:3]
['app-activity.schema.json', 'churn-alerts.schema.json', 'customer-profiles.schema.json']
>>> '"title": "orders"' in files["orders.schema.json"]
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.catalogue import TOPICS, TopicSpec
from schemas.codec import REASONS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:churn-alert:schema:"


def schema_of(topic: TopicSpec) -> dict[str, Any]:
    """JSON Schema of one topic's values: validation mode for inputs, serialization for outputs."""
    name = topic.default
    body = TypeAdapter(topic.value).json_schema(mode="validation" if topic.role == "input" else "serialization")
    return {"$schema": SCHEMA_DIALECT, "$id": f"{ID_PREFIX}{name}", **body, "title": name,
            "description": topic.description + (" " + body["description"] if "description" in body else ""),
            "x-kafka-key": topic.key}


def render() -> dict[str, str]:
    """File name → file text for every topic (sorted keys, indented, trailing newline)."""
    return {f"{t.default}.schema.json": json.dumps(schema_of(t), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            for t in TOPICS if t.value is not None}


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
