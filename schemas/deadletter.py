"""Dead-letter records: what failed, where it came from, and the raw bytes (bounded).

A message that cannot be decoded or processed never stops a worker and never
vanishes: it becomes one ``DeadLetter`` on the dead-letter topic, keyed by the
original key.

>>> from datetime import datetime, timezone
>>> from schemas.errors import DecodeError
>>> value = dead_letter(b'{"oops', topic="orders", partition=3, offset=42, key=b"cust-1",
...                     error=DecodeError("not_json", "The message value is not JSON."),
...                     now=datetime(2024, 5, 1, tzinfo=timezone.utc), worker="w1")
>>> record = read(value)
>>> record.reason_code, record.source_topic, record.key, decode_raw(record)
('not_json', 'orders', 'cust-1', b'{"oops')
"""

from __future__ import annotations

import base64

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.errors import DecodeError


class DeadLetter(BaseModel):
    """One message that was not applied, with the reason and its raw bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    reason_code: str = Field(description="Machine-readable reason, a key of `schemas.codec.REASONS`.", examples=["out_of_range"])
    reason: str = Field(description="A sentence naming the field and value at fault.",
                        examples=["Field 'amount' of the order event: should be greater than or equal to 0 (got -0.01)."])
    source_topic: str = Field(description="Topic the message was read from.", examples=["orders"])
    partition: int | None = Field(ge=0, description="Partition it was read from (null when unknown).", examples=[3])
    offset: int | None = Field(ge=0, description="Offset in that partition (null when unknown).", examples=[18231])
    key: str | None = Field(description="Original key as UTF-8 text (bad bytes replaced), or null.", examples=["cust-000042"])
    raw_b64: str = Field(description="Base64 of the raw value, cut to the configured size.", examples=["eyJldmVudF9pZCI6ICJ4In0="])
    raw_size: int = Field(ge=0, description="Size of the original value in bytes.", examples=[17])
    raw_truncated: bool = Field(description="True when `raw_b64` holds only the first bytes of the value.", examples=[False])
    failed_at: AwareDatetime = Field(description="Wall-clock time of the failure.", examples=["2024-05-01T10:00:01+00:00"])
    worker: str = Field(default="", description="Worker (host/process) that failed the message.", examples=["worker-1@host-a"])


_MAX_REASON = 1000


def dead_letter(raw: bytes | None, *, topic: str, partition: int | None, offset: int | None,
                key: bytes | str | None, error: Exception, max_raw: int = 65536, now: AwareDatetime,
                worker: str = "") -> bytes:
    """Encode the dead-letter record for a message that failed with ``error``.

    A ``DecodeError`` keeps its code and sentence; any other exception becomes
    ``processing_error`` with its type and message.

    >>> from datetime import datetime, timezone
    >>> rec = read(dead_letter(b"x" * 10, topic="orders", partition=0, offset=1, key=None,
    ...                        error=KeyError("k"), max_raw=4, now=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    >>> rec.reason_code, rec.reason, rec.raw_size, rec.raw_truncated, decode_raw(rec)
    ('processing_error', "KeyError: 'k'", 10, True, b'xxxx')
    """
    if isinstance(error, DecodeError):
        code, reason = error.code, error.message
    else:
        code, reason = "processing_error", f"{type(error).__name__}: {error}"
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3] + "..."
    raw = raw or b""
    record = DeadLetter(
        reason_code=code, reason=reason, source_topic=topic, partition=partition, offset=offset,
        key=key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key,
        raw_b64=base64.b64encode(raw[:max_raw]).decode("ascii"), raw_size=len(raw),
        raw_truncated=len(raw) > max_raw, failed_at=now, worker=worker)
    return record.model_dump_json().encode()


def read(value: bytes | str) -> DeadLetter:
    """Parse a record read from the dead-letter topic."""
    return DeadLetter.model_validate_json(value)


def decode_raw(record: DeadLetter | bytes | str) -> bytes:
    """The raw bytes kept in a record (an encoded record is parsed first)."""
    if not isinstance(record, DeadLetter):
        record = read(record)
    return base64.b64decode(record.raw_b64)
