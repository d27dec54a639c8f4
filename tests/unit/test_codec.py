"""The topic-edge codec, dead-letter records and the bad-message generator."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import codec
from schemas.badmessages import KINDS, bad_messages
from schemas.codec import ALL_TYPES, ALLOWED, REASONS, decode, encode
from schemas.deadletter import DeadLetter, dead_letter, decode_raw, read
from schemas.errors import ChurnError, DecodeError
from schemas.events import INPUT_TYPES, AppActivityEvent, ErasureRequest, OfferOutcome, OrderEvent, ProfileUpdate, SupportEvent

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
LIMIT = 4096
ORDER = {"event_id": "e1", "event_type": "order", "customer_id": "c1", "occurred_at": "2024-05-01T10:00:00+02:00",
         "order_id": "o1", "status": "placed", "amount": 25.0, "currency": "EUR", "items": 2, "channel": "web"}
SUPPORT = {"event_id": "e2", "event_type": "support", "customer_id": "c1", "occurred_at": "2024-05-01T10:00:00Z",
           "ticket_id": "t1", "action": "opened", "category": "billing", "priority": "high", "is_complaint": True}


def run(raw: bytes | None, allowed: frozenset[str] = INPUT_TYPES, max_future: timedelta = HOUR):
    return decode(raw, allowed=allowed, now=NOW, max_bytes=LIMIT, max_future=max_future)


def code_of(raw: bytes | None, **kw) -> str:
    with pytest.raises(DecodeError) as info:
        run(raw, **kw)
    assert info.value.code in REASONS and info.value.message
    return info.value.code


def js(obj, **changes) -> bytes:
    return json.dumps({**obj, **changes}).encode()


def without(obj, field) -> bytes:
    return json.dumps({k: v for k, v in obj.items() if k != field}).encode()


# ------------------------------------------------------------ property-based
text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
times = st.builds(lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
                  st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2100, 12, 30)),
                  st.integers(-23 * 60 - 59, 23 * 60 + 59))
money = st.floats(min_value=0, max_value=1e12, allow_nan=False)
envelope = {"event_id": text, "customer_id": text, "occurred_at": times}
events = st.one_of(
    st.builds(OrderEvent, event_type=st.just("order"), **envelope, order_id=text,
              status=st.sampled_from(["placed", "cancelled", "refunded", "returned"]), amount=money,
              currency=st.from_regex(r"[A-Z]{3}", fullmatch=True), items=st.integers(0, 10**9),
              discount_amount=money, channel=st.sampled_from(["web", "app", "store", "other"])),
    st.builds(SupportEvent, event_type=st.just("support"), **envelope, ticket_id=text,
              action=st.sampled_from(["opened", "escalated", "resolved", "reopened", "comment"]),
              category=st.sampled_from(["billing", "delivery", "product", "account", "app", "other"]),
              priority=st.sampled_from(["low", "normal", "high", "urgent"]), is_complaint=st.booleans(),
              csat=st.none() | st.integers(1, 5), sentiment=st.none() | st.floats(-1, 1)),
    st.builds(AppActivityEvent, event_type=st.just("app_activity"), **envelope,
              activity=st.sampled_from(["login", "session", "feature_used", "push_opened", "notifications_disabled",
                                        "uninstall", "account_closed"]),
              duration_s=st.none() | money, feature=st.none() | text,
              platform=st.sampled_from(["ios", "android", "web", "other"])),
    st.builds(ProfileUpdate, event_type=st.just("profile"), **envelope, segment=st.none() | text,
              signup_date=st.none() | st.dates(date(1990, 1, 1), date(2100, 1, 1)),
              marketing_consent=st.none() | st.booleans(), owner=st.none() | text),
    st.builds(OfferOutcome, event_type=st.just("offer_outcome"), **envelope, offer_id=text,
              outcome=st.sampled_from(["delivered", "opened", "accepted", "redeemed", "declined", "expired", "failed"]),
              revenue=st.none() | money),
    st.builds(ErasureRequest, event_type=st.just("erasure_request"), **envelope, requested_by=st.none() | text),
)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)


@given(events)
def test_any_valid_event_round_trips(event):
    far = datetime(2101, 1, 1, tzinfo=UTC)
    back = decode(encode(event), allowed=ALL_TYPES, now=far, max_bytes=LIMIT, max_future=timedelta(0))
    assert back == event and type(back) is type(event)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_error(raw):
    try:
        run(raw, allowed=ALL_TYPES)
    except DecodeError as e:
        assert e.code in REASONS


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(events, st.sampled_from(sorted(set(ORDER) | set(SUPPORT) | {"extra"})), json_values)
def test_any_field_set_to_any_json_value_gives_an_event_or_a_known_code(event, field, value):
    raw = json.dumps({**json.loads(encode(event)), field: value}).encode()
    try:
        run(raw, allowed=ALL_TYPES, max_future=timedelta(days=10**5))
    except DecodeError as e:
        assert e.code in REASONS and isinstance(e, ChurnError)


# ------------------------------------------------------------ one case per code
CASES = {
    "empty": [None, b"", b"  \n"],
    "too_large": [js(ORDER, order_id="x" * LIMIT)],
    "not_utf8": [b"\xff\xfe", js(ORDER).replace(b'"o1"', b'"o\xe91"')],
    "not_json": [b"{", b'{"a": 1} x', js(ORDER)[:-1], b"\xef\xbb\xbf" + js(ORDER)],
    "not_object": [b"[1, 2]", b'"order"', b"42", b"null"],
    "missing_event_type": [without(ORDER, "event_type")],
    "unknown_event_type": [js(ORDER, event_type="purchase"), js(ORDER, event_type=""), js(ORDER, event_type=5)],
    "wrong_topic": [js({k: ORDER[k] for k in ("event_id", "customer_id", "occurred_at")}, event_type="profile"),
                    js({"event_type": "erasure_request", "colour": 1})],
    "missing_field": [without(ORDER, "amount"), without(SUPPORT, "is_complaint"), without(ORDER, "occurred_at")],
    "unknown_field": [js(ORDER, colour="red"), js(SUPPORT, Csat=3)],
    "wrong_type": [js(ORDER, amount="25"), js(ORDER, items=2.5), js(ORDER, items=True), js(SUPPORT, is_complaint="yes"),
                   js(ORDER, customer_id=42), js(ORDER, occurred_at=1714557600), js(ORDER, status=5)],
    "out_of_range": [js(ORDER, amount=-0.01), js(ORDER, items=-1), js(SUPPORT, csat=0), js(SUPPORT, csat=6),
                     js(SUPPORT, csat=9), js(SUPPORT, sentiment=1.01), js(SUPPORT, sentiment=-1.01), js(ORDER, event_id="")],
    "not_allowed": [js(ORDER, status="shipped"), js(SUPPORT, priority="blocker")],
    "bad_format": [js(ORDER, currency="eur"), js(ORDER, currency="EURO")],
    "not_finite": [js(ORDER).replace(b"25.0", b"NaN"), js(ORDER).replace(b"25.0", b"-Infinity"),
                   js(ORDER).replace(b"25.0", b"1e999"), js(ORDER).replace(b'"o1"', b"NaN"), b"NaN"],
    "unsupported_version": [js(ORDER, schema_version=2), js(ORDER, schema_version=0)],
    "naive_timestamp": [js(ORDER, occurred_at="2024-05-01T10:00:00")],
    "bad_timestamp": [js(ORDER, occurred_at="2999-05-01T10:00:00Z"), js(ORDER, occurred_at="1989-12-31T23:59:59Z"),
                      js(ORDER, occurred_at="yesterday"), js(ORDER, occurred_at="2024-13-01T00:00:00Z"),
                      js(ORDER, occurred_at="2024-05-01T10:00:00+25:00"), js(ORDER, occurred_at="2024-05-01")],
    "future_timestamp": [js(ORDER, occurred_at="2024-05-01T13:00:01Z")],
}


@pytest.mark.parametrize("code,raw", [(c, r) for c, raws in CASES.items() for r in raws])
def test_each_bad_class_maps_to_its_code(code, raw):
    assert code_of(raw) == code


def test_every_reason_is_exercised():
    """A new code in REASONS needs a case here; four are reached outside decode() (the
    handler's tests cover key_mismatch and reserved_key)."""
    assert set(CASES) | {"invalid", "key_mismatch", "reserved_key", "processing_error"} == set(REASONS)


def test_unmapped_pydantic_error_falls_back_to_invalid():
    err = {"type": "some_future_check", "loc": ("order", "amount"), "msg": "Input is odd", "input": 3}
    assert codec._explain(b"{}", [err], INPUT_TYPES).code == "invalid"


def test_sentence_names_field_and_value():
    with pytest.raises(DecodeError) as info:
        run(js(SUPPORT, csat=6))
    assert "'csat'" in info.value.message and "6" in info.value.message and str(info.value) == info.value.message


# ------------------------------------------------------------ boundaries that pass
@pytest.mark.parametrize("raw", [js(ORDER, amount=0), js(ORDER, amount=0.0, discount_amount=0), js(ORDER, items=0),
                                 *[js(SUPPORT, csat=c) for c in range(1, 6)], js(SUPPORT, sentiment=1),
                                 js(SUPPORT, sentiment=-1), js(ORDER, occurred_at="2024-05-01T13:00:00Z"),
                                 js(ORDER, occurred_at="1990-01-01T00:00:00+14:00"), js(ORDER, schema_version=1)])
def test_boundary_values_are_accepted(raw):
    assert run(raw).event_type in INPUT_TYPES


def test_future_limit_is_a_parameter_and_year_range_is_not():
    assert run(js(ORDER, occurred_at="2024-06-01T00:00:00Z"), max_future=timedelta(days=60)).customer_id == "c1"
    assert run(js(ORDER, occurred_at="2100-12-31T23:59:59-05:00"), max_future=timedelta(days=10**6)).occurred_at.year == 2100
    assert code_of(js(ORDER, occurred_at="2999-01-01T00:00:00Z"), max_future=timedelta(days=10**6)) == "bad_timestamp"


def test_each_input_topic_accepts_exactly_one_event_type_and_every_type_has_a_topic():
    assert all(len(types) == 1 for types in ALLOWED.values())
    assert set().union(*ALLOWED.values()) == ALL_TYPES and len(ALLOWED) == len(ALL_TYPES)
    assert run(js(ORDER), allowed=ALLOWED["orders"]).event_type == "order"
    for other in ("support", "activity", "profiles"):
        assert code_of(js(ORDER), allowed=ALLOWED[other]) == "wrong_topic"


def test_wrong_topic_names_the_topic_the_event_belongs_on():
    with pytest.raises(DecodeError) as err:
        run(js(ORDER), allowed=ALLOWED["activity"])
    assert err.value.code == "wrong_topic" and "belong on orders" in err.value.message


def test_encode_is_compact_json():
    raw = encode(run(js(ORDER)))
    assert b" " not in raw and json.loads(raw)["occurred_at"] == "2024-05-01T10:00:00+02:00"


# ------------------------------------------------------------ bad-message generator
@pytest.mark.parametrize("seed", range(5))
def test_each_generated_bad_message_decodes_to_its_expected_code(seed):
    now = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(days=seed * 97)
    msgs = bad_messages(random.Random(seed), 300, ["cust-1", "cust-2", "cust-3"], now, max_bytes=LIMIT)
    assert len(msgs) == 300 and {c for _, c in msgs} == set(KINDS) | {"too_large"}
    for raw, expected in msgs:
        with pytest.raises(DecodeError) as info:
            decode(raw, allowed=INPUT_TYPES, now=now, max_bytes=LIMIT, max_future=HOUR)
        assert info.value.code == expected, (raw[:200], info.value.message)


def test_generator_has_many_kinds_and_no_too_large_without_a_limit():
    msgs = bad_messages(random.Random(7), 100, ["c"], NOW)
    assert len(KINDS) >= 12 and "too_large" not in {c for _, c in msgs}
    assert bad_messages(random.Random(7), 100, ["c"], NOW) == msgs  # reproducible from the seed


# ------------------------------------------------------------ dead-letter records
def test_dead_letter_keeps_decode_reason_and_bounds_raw():
    raw = js(SUPPORT, csat=9)
    err = pytest.raises(DecodeError, run, raw).value
    rec = read(dead_letter(raw, topic="support-tickets", partition=2, offset=7, key=b"c1\xff", error=err,
                           max_raw=10, now=NOW, worker="w"))
    assert (rec.reason_code, rec.reason, rec.key) == ("out_of_range", err.message, "c1\ufffd")
    assert (rec.raw_size, rec.raw_truncated, decode_raw(rec)) == (len(raw), True, raw[:10])
    assert (rec.source_topic, rec.partition, rec.offset, rec.worker, rec.failed_at) == ("support-tickets", 2, 7, "w", NOW)


@pytest.mark.parametrize("size", [0, 9, 10, 11])
def test_dead_letter_truncates_only_beyond_the_cap(size):
    raw = bytes(range(size))
    rec = read(dead_letter(raw, topic="t", partition=0, offset=0, key="k", error=ValueError("v"), max_raw=10, now=NOW))
    assert decode_raw(rec) == raw[:10] and rec.raw_truncated == (size > 10) and rec.raw_size == size
    assert base64.b64decode(rec.raw_b64) == decode_raw(dead_letter(raw, topic="t", partition=0, offset=0, key="k",
                                                                   error=ValueError("v"), max_raw=10, now=NOW))


def test_processing_error_names_exception_and_caps_reason():
    rec = read(dead_letter(None, topic="t", partition=None, offset=None, key=None, error=RuntimeError("x" * 5000), now=NOW))
    assert rec.reason_code == "processing_error" and rec.reason.startswith("RuntimeError: xxx") and len(rec.reason) == 1000
    assert (rec.raw_size, rec.raw_b64, rec.key, rec.partition) == (0, "", None, None)


def test_dead_letter_record_is_strict():
    with pytest.raises(ValueError):
        DeadLetter.model_validate_json(json.dumps({"reason_code": "x"}))
