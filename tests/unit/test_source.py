"""The backtest streams its input: files in or out of time order replay in event-time order,
with at most one sorted run in memory, and give the decisions of an in-memory replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

import engine.source as source
from config.settings import Settings
from engine.backtest import describe_handover, run_backtest
from engine.source import EventFile, stream_events
from schemas.errors import DecodeError
from simulator import Simulator
from simulator.io import to_jsonl

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def run():
    sim = Simulator(40, seed=5, start=START, horizon_days=120, kind="app")
    return sim.events_between(START, START + timedelta(days=120))


def test_an_unsorted_file_is_merge_sorted_in_runs_on_disk(tmp_path, run, monkeypatch):
    shuffled = run[:]
    random.Random(1).shuffle(shuffled)
    to_jsonl(shuffled, tmp_path / "x.jsonl")
    monkeypatch.setattr(source, "RUN_LINES", 1000)  # many runs, each small
    src = EventFile(tmp_path / "x.jsonl")
    got = list(src.events())
    assert not src.in_order and src.lines == len(run)
    assert [e.occurred_at for e in got] == sorted(e.occurred_at for e in run)
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in run)


def test_streamed_backtest_takes_the_decisions_of_an_in_memory_one(tmp_path, run):
    to_jsonl(run, tmp_path / "x.jsonl")
    src = stream_events(tmp_path / "x.jsonl")
    src.scan()
    assert src.in_order
    as_of, s = START + timedelta(days=110), Settings(min_labels=50)
    streamed = run_backtest(src.events(), as_of=as_of, settings=s, ordered=True, cutoffs=[START + timedelta(days=90)])
    in_memory = run_backtest(list(reversed(run)), as_of=as_of, settings=s, cutoffs=[START + timedelta(days=90)])
    assert streamed.scores == in_memory.scores and streamed.labels == in_memory.labels > 0
    assert streamed.events == in_memory.events == sum(e.occurred_at < as_of for e in run)
    assert list(streamed.at) == [START + timedelta(days=90)] and streamed.at[START + timedelta(days=90)].scores
    assert set(v for v in streamed.vocabulary if v) >= {"messages", "feed"}
    assert describe_handover(streamed.model_version, streamed.handover).startswith("scorer at T: ")


def test_a_bad_line_names_its_number(tmp_path, run):
    lines = [e.model_dump_json() for e in run[:5]]
    lines[3] = lines[3].replace('"event_type":"', '"event_type":"no-such-', 1)
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DecodeError, match=r"bad.jsonl:4"):
        list(EventFile(tmp_path / "bad.jsonl").events())
    with pytest.raises(DecodeError, match="no such file"):
        stream_events(tmp_path / "missing.jsonl")
