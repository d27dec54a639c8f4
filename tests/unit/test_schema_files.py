"""The committed JSON Schema files, the models' documentation, and docs/PRODUCERS.md stay in step."""

from __future__ import annotations

import json
import types
from datetime import UTC
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from schemas import events
from schemas.catalogue import TOPICS, topics_table
from schemas.codec import REASONS
from schemas.deadletter import DeadLetter
from schemas.export import export, reasons_table, render

ROOT = Path(__file__).resolve().parents[2]
JSON_DIR = ROOT / "schemas" / "json"
MODELS = sorted({v for v in vars(events).values() if isinstance(v, type) and issubclass(v, BaseModel)
                 and v.__module__ == events.__name__ and not v.__name__.startswith("_")} | {DeadLetter}, key=lambda m: m.__name__)
TOPIC_FILES = {"orders", "support-tickets", "app-activity", "customer-profiles", "offer-outcomes",
               "erasure-requests", "churn-alerts", "retention-offers", "dead-letter", "erasure-confirmations"}
FIX = "run `churn-alert schemas export` and commit schemas/json/"


def example_of(model: type[BaseModel]) -> dict:
    """A document made of the first example of every field."""
    return {name: f.examples[0] for name, f in model.model_fields.items()}


def members(value) -> tuple:
    """Models a topic value type stands for (the members of a discriminated union)."""
    if get_origin(value) is Annotated:
        value = get_args(value)[0]
    return get_args(value) if get_origin(value) in (Union, types.UnionType) else (value,)


def schema_file_of(model: type[BaseModel]) -> str:
    return next(f"{t.default}.schema.json" for t in TOPICS if t.value is not None and model in members(t.value))


def test_one_schema_file_per_design_topic():
    assert set(render()) == {f"{t}.schema.json" for t in TOPIC_FILES}


@pytest.mark.parametrize("name", sorted(render()))
def test_committed_schema_file_is_current(name):
    path = JSON_DIR / name
    assert path.exists(), f"{path} is missing: {FIX}"
    assert path.read_text(encoding="utf-8") == render()[name], f"{path} is stale: {FIX}"


def test_no_stray_schema_files():
    assert {p.name for p in JSON_DIR.glob("*.json")} == set(render()), f"unexpected files in {JSON_DIR}: {FIX}"


def test_export_writes_what_render_returns(tmp_path):
    paths = export(tmp_path / "out")
    assert {p.name: p.read_text(encoding="utf-8") for p in paths} == render()


@pytest.mark.parametrize("name", sorted(render()))
def test_schema_header_and_refs_resolve(name):
    doc = json.loads(render()[name])
    assert doc["$schema"].endswith("2020-12/schema") and doc["$id"].endswith(name.removesuffix(".schema.json"))
    assert doc["title"] == name.removesuffix(".schema.json")
    refs = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)
    for ref in refs:
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in doc.get("$defs", {}), ref


@pytest.mark.parametrize("name", sorted(render()))
def test_schema_is_valid_json_schema(name):
    import jsonschema
    jsonschema.Draft202012Validator.check_schema(json.loads((JSON_DIR / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_has_description_and_example(model):
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        assert field.examples, f"{model.__name__}.{name} has no example"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_examples_validate_against_their_model(model):
    doc = example_of(model)
    model.model_validate_json(json.dumps(doc), strict=True)
    for name, field in model.model_fields.items():  # every alternative example too
        for value in field.examples[1:]:
            model.model_validate_json(json.dumps({**doc, name: value}), strict=True)


@pytest.mark.parametrize("model", [m for m in MODELS if m is not events.Reason], ids=lambda m: m.__name__)
def test_examples_validate_against_committed_schema_file(model):
    """Reason is checked inside RiskAlert's example."""
    import jsonschema
    schema = json.loads((JSON_DIR / schema_file_of(model)).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(example_of(model))
    with pytest.raises(jsonschema.ValidationError):  # the schema is not vacuous
        jsonschema.Draft202012Validator(schema).validate({**example_of(model), "not_a_field": 1})


def test_producer_doc_has_the_current_reason_table():
    doc = (ROOT / "docs" / "PRODUCERS.md").read_text(encoding="utf-8")
    for code in REASONS:
        assert f"`{code}`" in doc, f"reason code {code} is not documented in docs/PRODUCERS.md"
    assert reasons_table() in doc, "docs/PRODUCERS.md reason table is stale: paste schemas.export.reasons_table()"


def test_producer_doc_has_the_current_topic_table():
    doc = (ROOT / "docs" / "PRODUCERS.md").read_text(encoding="utf-8")
    assert topics_table() in doc, "docs/PRODUCERS.md topic table is stale: paste schemas.catalogue.topics_table()"
    contract = (ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    assert topics_table() in contract, "docs/CONTRACT.md topic table is stale: paste schemas.catalogue.topics_table()"


def test_producer_doc_examples_decode():
    import re
    from datetime import datetime, timedelta

    from schemas.codec import ALL_TYPES, decode
    doc = (ROOT / "docs" / "PRODUCERS.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)\n```", doc, flags=re.S)
    seen = {decode(b.encode(), allowed=ALL_TYPES, now=datetime(2024, 5, 5, tzinfo=UTC), max_bytes=4096,
                   max_future=timedelta(0)).event_type for b in blocks}
    assert seen == ALL_TYPES
