"""The customer record's binary format, and records written before it (JSON) still decode."""

from __future__ import annotations

import json

from engine.record import FORMAT_1, CustomerRecord

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


def test_a_json_record_written_before_the_binary_format_still_decodes():
    rec = CustomerRecord.decode(FORMAT_0)
    assert rec.state is not None and rec.state.n_orders == 2 and rec.state.csat == 2
    assert rec.state.marketing_consent and rec.state.segment == "smb" and rec.state.seen("o2")
    assert rec.next_check == json.loads(FORMAT_0)[0] == CustomerRecord.peek_next_check(FORMAT_0)
    assert rec.pending is not None and rec.pending.model_version == "rules-1"


def test_the_binary_format_round_trips_every_sub_state_and_is_smaller():
    rec = CustomerRecord.decode(FORMAT_0)
    raw = rec.encode()
    assert raw.startswith(FORMAT_1) and len(raw) < len(FORMAT_0)
    again = CustomerRecord.decode(raw)
    assert again == rec
    assert again.state.to_json() == rec.state.to_json() and again.encode() == raw
    assert CustomerRecord.peek_next_check(raw) == rec.next_check


def test_peek_reads_a_missing_or_whole_numbered_next_check():
    assert CustomerRecord.peek_next_check(CustomerRecord().encode()) is None
    assert CustomerRecord.peek_next_check(CustomerRecord(next_check=1_700_000_000).encode()) == 1_700_000_000
