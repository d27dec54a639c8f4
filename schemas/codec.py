"""The one codec at the topic edge: bytes in, a validated event out, or a ``DecodeError``.

Decoding is one strict pass of pydantic's JSON validator over ``schemas.events.AnyEvent``
(strict JSON mode: no ``"25"`` for a number, no epoch number for a time). Every failure
carries a machine-readable code from ``REASONS`` and a sentence naming field and value.

>>> from datetime import datetime, timedelta, timezone
>>> now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
>>> raw = (b'{"event_id":"e1","event_type":"order","customer_id":"c1","occurred_at":"2024-05-01T10:00:00Z",'
...        b'"order_id":"o1","status":"placed","amount":-1,"currency":"EUR","items":1,"channel":"web"}')
>>> try:
...     decode(raw, allowed=ALLOWED["orders"], now=now, max_bytes=4096, max_future=timedelta(hours=1))
... except DecodeError as e:
...     print(e.code, "|", e.message)
out_of_range | Field 'amount' of the order event: should be greater than or equal to 0 (got -1).
>>> decode(raw.replace(b"-1", b"9.5"), allowed=ALLOWED["orders"], now=now, max_bytes=4096,
...        max_future=timedelta(hours=1)).amount
9.5
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas.catalogue import ALL_TYPES, BY_SETTING, INPUTS, TOPIC_OF_TYPE
from schemas.errors import DecodeError
from schemas.events import AnyEvent, Event

REASONS: dict[str, str] = {
    "empty": "The message has no value (null or zero bytes).",
    "too_large": "The value is larger than the configured maximum message size.",
    "not_utf8": "The value is not valid UTF-8 text.",
    "not_json": "The value is not one well-formed JSON document.",
    "not_object": "The JSON document is not an object.",
    "missing_event_type": "The object has no `event_type`.",
    "unknown_event_type": "`event_type` is not one of the event types of the contract.",
    "wrong_topic": "`event_type` is valid but not accepted on this topic.",
    "missing_field": "A required field is missing.",
    "unknown_field": "A field that is not in the contract is present.",
    "wrong_type": "A field has the wrong JSON type (e.g. a string where a number belongs).",
    "out_of_range": "A number is outside its bounds, or a string is too short or too long.",
    "not_allowed": "A field's value is not one of its allowed values.",
    "bad_format": "A string does not have the required format (e.g. a currency not like `EUR`).",
    "not_finite": "A number is NaN or Infinity.",
    "unsupported_version": "`schema_version` is not a version this worker reads.",
    "naive_timestamp": "A time has no UTC offset.",
    "bad_timestamp": "A time or date cannot be parsed, or its year is outside the plausible range.",
    "future_timestamp": "`occurred_at` is further ahead of the wall clock than allowed.",
    "invalid": "The event is invalid for another reason (see the sentence).",
    "key_mismatch": "The message key is not the event's `customer_id` (or the message has no key).",
    "reserved_key": "The `customer_id` begins with a NUL character, which the worker keeps for its own state.",
    "processing_error": "The event decoded, but processing it failed (exception type and message given).",
}

ALLOWED: dict[str, frozenset[str]] = {t.setting: t.accepts for t in INPUTS}  # keyed by the ``Settings.topic_<name>`` names

_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)
_validate = _ADAPTER.validate_json
_BY_TYPE = {  # pydantic error type -> code; anything ending in _type/_parsing is wrong_type
    "missing": "missing_field", "extra_forbidden": "unknown_field", "finite_number": "not_finite",
    "timezone_aware": "naive_timestamp", "string_pattern_mismatch": "bad_format",
    "greater_than": "out_of_range", "greater_than_equal": "out_of_range", "less_than": "out_of_range",
    "less_than_equal": "out_of_range", "string_too_short": "out_of_range", "string_too_long": "out_of_range",
    "too_short": "out_of_range", "too_long": "out_of_range", "int_from_float": "wrong_type",
}
_TIME_ERRORS = ("datetime_parsing", "datetime_from_date_parsing", "datetime_object_invalid",
                "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "value_error")


def decode(raw: bytes | None, *, allowed: frozenset[str], now: datetime, max_bytes: int,
           max_future: timedelta) -> Event:
    """Decode one message value into an event accepted on a topic, or raise ``DecodeError``."""
    if not raw or raw.isspace():
        raise DecodeError("empty", "The message value is empty.")
    if len(raw) > max_bytes:
        raise DecodeError("too_large", f"The message value has {len(raw)} bytes, more than the limit of {max_bytes}.")
    try:
        event = _validate(raw, strict=True)
    except ValidationError as exc:
        raise _explain(raw, exc.errors(include_url=False), allowed) from None
    if event.event_type not in allowed:
        raise _wrong_topic(event.event_type, allowed)
    if event.occurred_at > now + max_future:
        raise DecodeError("future_timestamp", f"Field 'occurred_at' is {event.occurred_at.isoformat()}, "
                          f"more than {max_future} ahead of the wall clock {now.isoformat()}.")
    return event


def encode(model: BaseModel) -> bytes:
    """Compact JSON bytes of a model, for every output topic.

    >>> from schemas.events import ErasureRequest
    >>> encode(ErasureRequest(event_type="erasure_request", event_id="e", customer_id="c",
    ...                       occurred_at="2024-01-01T00:00:00Z"))[:30]
    b'{"event_id":"e","customer_id":'
    """
    return model.model_dump_json().encode()


def _wrong_topic(event_type: str, allowed: frozenset[str]) -> DecodeError:
    home = BY_SETTING[TOPIC_OF_TYPE[event_type]].default if event_type in TOPIC_OF_TYPE else None
    return DecodeError("wrong_topic", f"Field 'event_type' is {event_type!r}, which this topic does not accept "
                       f"(accepted: {', '.join(sorted(allowed))})" + (f"; {event_type} events belong on {home}." if home else "."))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _explain(raw: bytes, errors: list[Any], allowed: frozenset[str]) -> DecodeError:
    """Turn pydantic's errors into one code and one sentence (first error wins)."""
    first = errors[0]
    kind, loc = first["type"], first["loc"]
    if kind == "json_invalid":
        try:
            raw.decode()
        except UnicodeDecodeError as exc:
            return DecodeError("not_utf8", f"The message value is not UTF-8: byte {exc.start} is {raw[exc.start]:#04x}.")
        return DecodeError("not_json", f"The message value is not JSON: {first['ctx']['error']}.")
    if kind == "union_tag_not_found":
        return DecodeError("missing_event_type", "Field 'event_type' is missing.")
    if kind == "union_tag_invalid":
        return DecodeError("unknown_event_type", f"Field 'event_type' is {_show(first['input'].get('event_type'))}, "
                           f"not one of {', '.join(sorted(ALL_TYPES))}.")
    if not loc:
        bad = first["input"]
        if isinstance(bad, float) and not math.isfinite(bad):
            return DecodeError("not_finite", f"The message value is {bad}, not a JSON object.")
        return DecodeError("not_object", f"The message value is a JSON {type(bad).__name__}, not an object.")
    if loc[0] not in allowed:
        return _wrong_topic(str(loc[0]), allowed)
    for err in errors:  # a NaN anywhere is reported as such, whatever else is wrong
        if isinstance(err["input"], float) and not math.isfinite(err["input"]):
            kind = "finite_number"
            first = {**err, "msg": "should be a finite number"}
            break
    path = ".".join(str(p) for p in first["loc"][1:])
    where = f"Field '{path}' of the {first['loc'][0]} event"
    if kind == "missing":
        return DecodeError("missing_field", f"{where} is required but missing.")
    if path.endswith("schema_version") and kind == "literal_error":
        code = "unsupported_version"
    elif kind == "literal_error":
        code = "not_allowed" if isinstance(first["input"], str) else "wrong_type"
    elif kind in _TIME_ERRORS:
        code = "bad_timestamp" if kind != "value_error" or path == "occurred_at" else "invalid"
    else:
        code = _BY_TYPE.get(kind) or ("wrong_type" if kind.endswith(("_type", "_parsing")) else "invalid")
    msg = first["msg"].removeprefix("Input ").removeprefix("Value error, ")
    return DecodeError(code, f"{where}: {msg} (got {_show(first['input'])}).")
