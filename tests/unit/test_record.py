"""The customer record's binary format, and records written before it (format 1, JSON) still decode."""

from __future__ import annotations

import json
from dataclasses import fields, replace

from engine.record import FORMAT_3, CustomerRecord
from models.state import LAYOUT, CustomerState

# A customer's record as the worker wrote it before the binary format (format 0: JSON text):
# a profile, two orders, a complaint with a CSAT of 2, an app session.
FORMAT_0 = (
    b'[1711616400.0,{"hd":19803,"do":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1],"dt":[0,0,0,0,0,0,0,0,0,0,0'
    b',0,0,0,0,0,0,1],"dc":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1],"ds":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1],'
    b'"wo":[1,0,0,1],"ws":[19,0,0,42.5],"si":"M2s4P61lYvLwOBUUI0jhbBc0a2s=","no":2,"nd":2,"ts":61.5,"cc":['
    b'1,1,0,0],"fo":1709370000,"lo":1711011600,"ot":[[1532276279,1709542800]],"co":{"delivery":[1709542800'
    b']},"cs":2,"ll":1709629200,"qf":300,"qs":300,"fs":1709283600,"la":1711011600,"pa":1709283600,"mc":tru'
    b'e,"sg":"smb"},{"l":0.3318122278318339},{"t":1709370000.0,"v":"rules-1","x":[0.0,1.0,1.0,1.0,30.0,0.0'
    b',42.5,1.0,42.5,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,4.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1'
    b'.0,1034.17,1.0,0.0,0.0],"y":false,"r":1709542800.0},1709370000.0,null,null,false]'
)

# The same record as format 1 wrote it (MessagePack of the sub-states' to_json()).
FORMAT_1 = bytes.fromhex(
    "0198cb41d9814c64000000de0019a26864cd4d5ba2646fdc00140100000000000000000000000000000000000001a26474dc"
    "0012000000000000000000000000000000000001a26463dc0012000000000000000000000000000000000001a26473dc0011"
    "0000000000000000000000000000000001a2776f9401000001a2777394130000cb4045400000000000a27369bc4d32733450"
    "36316c59764c774f42555549306a68624263306132733da26e6f02a26e6402a27473cb404ec00000000000a2636394010100"
    "00a2666fce65e2ea90a26c6fce65fbf710a26f749192ce5b54ae37ce65e58d90a2636f81a864656c697665727991ce65e58d"
    "90a2637302a26c6cce65e6df10a27166cd012ca27173cd012ca26673ce65e19910a26c61ce65fbf710a27061ce65e19910a2"
    "6d63c3a27367a3736d6281a16ccb3fd53c695abcd71585a174cb41d978baa4000000a176a772756c65732d31a178dc0023cb"
    "0000000000000000cb3ff0000000000000cb3ff0000000000000cb3ff0000000000000cb403e000000000000cb0000000000"
    "000000cb4045400000000000cb3ff0000000000000cb4045400000000000cb0000000000000000cb0000000000000000cb00"
    "00000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb000000000000"
    "0000cb0000000000000000cb4010000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000"
    "000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb00000000000000"
    "00cb0000000000000000cb0000000000000000cb3ff0000000000000cb409028ae147ae148cb3ff0000000000000cb000000"
    "0000000000cb0000000000000000a179c2a172cb41d9796364000000cb41d978baa4000000c0c0c2"
)

# The same record as format 2 wrote it (the state's array inline, not in a bin of its own).
FORMAT_2 = bytes.fromhex(
    "0298cb41d9814c64000000dc002ecd4d5bdc00140100000000000000000000000000000000000001dc001200000000000000"
    "0000000000000000000001dc0012000000000000000000000000000000000001dc0011000000000000000000000000000000"
    "0001940100000194130000cb4045400000000000909090c414336b383fad6562f2f03815142348e16c17346b6b0202000000"
    "cb404ec00000000000cb00000000000000009401010000cb41d978baa4000000cb41d97efdc400000081ce5b54ae37cb41d9"
    "796364000000c40081a864656c697665727991cb41d9796364000000c0cb4000000000000000c0c0cb41d979b7c4000000c0"
    "c0c0c0cb4072c00000000000cb4072c0000000000000c4009090cb41d9786644000000cb41d97efdc4000000cb41d9786644"
    "000000c3c0a3736d62c081a16ccb3fd53c695abcd715c5016485a174cb41d978baa4000000a176a772756c65732d31a178dc"
    "0023cb0000000000000000cb3ff0000000000000cb3ff0000000000000cb3ff0000000000000cb403e000000000000cb0000"
    "000000000000cb4045400000000000cb3ff0000000000000cb4045400000000000cb0000000000000000cb00000000000000"
    "00cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb000000"
    "0000000000cb0000000000000000cb4010000000000000cb0000000000000000cb0000000000000000cb0000000000000000"
    "cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb00000000"
    "00000000cb0000000000000000cb0000000000000000cb3ff0000000000000cb409028ae147ae148cb3ff0000000000000cb"
    "0000000000000000cb0000000000000000a179c2a172cb41d9796364000000cb41d978baa4000000c0c0c2"
)

# The same record as format 3 wrote it before the input positions: eight parts.
FORMAT_3_WITHOUT_POSITIONS = bytes.fromhex(
    "0398cb41d9814c64000000c5012bdc002ecd4d5bdc00140100000000000000000000000000000000000001dc001200000000"
    "0000000000000000000000000001dc0012000000000000000000000000000000000001dc0011000000000000000000000000"
    "0000000001940100000194130000cb4045400000000000909090c414336b383fad6562f2f03815142348e16c17346b6b0202"
    "000000cb404ec00000000000cb00000000000000009401010000cb41d978baa4000000cb41d97efdc400000081ce5b54ae37"
    "cb41d9796364000000c40081a864656c697665727991cb41d9796364000000c0cb4000000000000000c0c0cb41d979b7c400"
    "0000c0c0c0c0cb4072c00000000000cb4072c0000000000000c4009090cb41d9786644000000cb41d97efdc4000000cb41d9"
    "786644000000c3c0a3736d62c081a16ccb3fd53c695abcd715c5016485a174cb41d978baa4000000a176a772756c65732d31"
    "a178dc0023cb0000000000000000cb3ff0000000000000cb3ff0000000000000cb3ff0000000000000cb403e000000000000"
    "cb0000000000000000cb4045400000000000cb3ff0000000000000cb4045400000000000cb0000000000000000cb00000000"
    "00000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb"
    "0000000000000000cb0000000000000000cb4010000000000000cb0000000000000000cb0000000000000000cb0000000000"
    "000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb00"
    "00000000000000cb0000000000000000cb0000000000000000cb3ff0000000000000cb409028ae147ae148cb3ff000000000"
    "0000cb0000000000000000cb0000000000000000a179c2a172cb41d9796364000000cb41d978baa4000000c0c0c2"
)


def test_a_json_record_written_before_the_binary_format_still_decodes():
    rec = CustomerRecord.decode(FORMAT_0)
    assert rec.state is not None and rec.state.n_orders == 2 and rec.state.csat == 2
    assert rec.state.marketing_consent and rec.state.segment == "smb" and rec.state.seen("o2")
    assert rec.next_check == json.loads(FORMAT_0)[0] == CustomerRecord.peek_next_check(FORMAT_0)
    assert rec.pending is not None and rec.pending.model_version == "rules-1"


def test_a_format_1_record_still_decodes_to_the_same_record():
    old = CustomerRecord.decode(FORMAT_1)
    assert old == CustomerRecord.decode(FORMAT_0)
    assert CustomerRecord.peek_next_check(FORMAT_1) == old.next_check
    assert CustomerRecord.decode(old.encode()) == old


def test_the_binary_format_round_trips_every_sub_state_and_is_smaller():
    rec = CustomerRecord.decode(FORMAT_0)
    raw = rec.encode()
    assert raw.startswith(FORMAT_3) and len(raw) < len(FORMAT_0)  # and about format 1's size: no keys, whole floats as floats
    again = CustomerRecord.decode(raw)
    assert again == rec
    assert again.state.to_json() == rec.state.to_json() and again.encode() == raw
    assert CustomerRecord.peek_next_check(raw) == rec.next_check


def test_a_format_2_record_still_decodes_to_the_same_record():
    old = CustomerRecord.decode(FORMAT_2)
    assert old == CustomerRecord.decode(FORMAT_0)
    assert CustomerRecord.peek_next_check(FORMAT_2) == old.next_check
    assert CustomerRecord.decode(old.encode()) == old


def test_a_record_whose_state_did_not_change_reuses_its_bytes(monkeypatch):
    rec = CustomerRecord.decode(CustomerRecord.decode(FORMAT_0).encode())
    monkeypatch.setattr(CustomerState, "to_array", None)  # laid out again, the state would fail to encode
    rec.next_check = 1.0
    again = CustomerRecord.decode(rec.encode())
    monkeypatch.undo()
    assert again.next_check == 1.0 and again.state == CustomerRecord.decode(FORMAT_0).state


def test_the_state_layout_names_every_field_once():
    assert sorted(LAYOUT) == sorted(f.name for f in fields(CustomerState))


def test_re_encoding_reuses_only_what_did_not_change():
    rec = CustomerRecord.decode(CustomerRecord.decode(FORMAT_0).encode())
    rec.state = replace(rec.state, d_orders=[5] + rec.state.d_orders[1:], seen_ids=rec.state.seen_ids + [9])
    rec.pending = replace(rec.pending, outcome=True, resolved_at=1.0)
    again = CustomerRecord.decode(rec.encode())
    assert again == rec and again.state.d_orders[0] == 5 and again.state.seen_ids[-1] == 9 and again.pending.outcome


def test_a_shorter_state_array_leaves_newer_fields_at_their_defaults():
    arr = CustomerState(head_day=3, signup="2024-01-01").to_array()
    assert CustomerState.from_array(arr[:-1]) == CustomerState(head_day=3)


def test_peek_reads_a_missing_or_whole_numbered_next_check():
    assert CustomerRecord.peek_next_check(CustomerRecord().encode()) is None
    assert CustomerRecord.peek_next_check(CustomerRecord(next_check=1_700_000_000).encode()) == 1_700_000_000


def test_a_format_3_record_written_before_the_positions_decodes_to_no_positions():
    old = CustomerRecord.decode(FORMAT_3_WITHOUT_POSITIONS)
    assert old == CustomerRecord.decode(FORMAT_0) and old.positions is None
    assert CustomerRecord.peek_next_check(FORMAT_3_WITHOUT_POSITIONS) == old.next_check
    assert CustomerRecord.decode(old.encode()) == old


def test_the_input_positions_round_trip_and_a_copy_carries_them():
    rec = CustomerRecord.decode(FORMAT_0)
    rec.note_handled("t-orders", 3, 1_234_567, 1_760_000_000_123)
    rec.note_handled("t-app-activity", 3, 8, 1_760_000_000_456)
    raw = rec.encode()
    again = CustomerRecord.decode(raw)
    assert again == rec and again.positions == {"t-orders": [3, 1_234_567, 1_760_000_000_123],
                                                "t-app-activity": [3, 8, 1_760_000_000_456]}
    assert again.handled("t-orders", 3, 1_234_567, 1_760_000_000_123) and not again.handled("t-orders", 3, 1_234_568, 1_760_000_000_124)
    assert CustomerRecord.peek_next_check(raw) == rec.next_check
    copy = again.copy()
    assert copy.positions == again.positions
    copy.note_handled("t-orders", 3, 1_234_568, 1_760_000_000_200)
    assert again.positions["t-orders"][1] == 1_234_567, "noting a position replaces the map, the original keeps its own"


def test_an_erasure_marker_round_trips_and_is_told_apart_from_a_customer_by_its_head():
    marker = CustomerRecord.erased({"t-orders": [3, 1_234_567, 1_760_000_000_123]}, at=1_760_000_100.5, until=1_760_600_000.0)
    raw = marker.encode()
    again = CustomerRecord.decode(raw)
    assert again == marker and again.erased_at == 1_760_000_100.5 and again.state is None and again.pending is None
    assert CustomerRecord.peek_erased(raw) and CustomerRecord.peek_next_check(raw) == 1_760_600_000.0
    assert again.copy().erased_at == marker.erased_at
    assert len(raw) < 64, "positions, two times and empty parts only"
    for old in (FORMAT_0, FORMAT_1, FORMAT_2, FORMAT_3_WITHOUT_POSITIONS):
        assert not CustomerRecord.peek_erased(old) and CustomerRecord.decode(old).erased_at is None


def test_a_customers_record_is_written_as_before_the_markers_nine_parts():
    rec = CustomerRecord.decode(FORMAT_0)
    rec.note_handled("t-orders", 3, 1_234_567, 1_760_000_000_123)
    raw = rec.encode()
    assert raw[:2] == FORMAT_3 + b"\x99" and not CustomerRecord.peek_erased(raw)  # a fixarray of nine parts
