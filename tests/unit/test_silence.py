"""Silence checkpoints and the due index."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.silence import DueIndex, next_silence_check, silence_schedule
from models.state import CustomerState, apply_event
from tests.unit.test_state import T0, app, fold, order, profile


def walk(state, after):
    out = []
    while (nxt := next_silence_check(state, after)) is not None:
        out.append(nxt)
        after = nxt
    return out


def test_schedule_follows_the_customers_own_rhythm_then_fixed_marks():
    s = fold([order(T0 - timedelta(days=10)), order(T0)])  # typical gap: 10 days, last activity T0
    days = [(c - T0) / timedelta(days=1) for c in walk(s, T0)]
    # 1x, 2x, 3x the 10-day gap and the fixed 7, 14, 30, 60, 90 days (30 appears once)
    assert days == [7, 10, 14, 20, 30, 60, 90]
    assert next_silence_check(s, T0 + timedelta(days=14)) == T0 + timedelta(days=20)  # strictly after
    assert next_silence_check(s, T0 + timedelta(days=90)) is None


def test_default_gap_before_two_orders_and_no_checks_without_activity_or_after_churn():
    s = fold([order(T0)])
    assert [(c - T0).days for c in silence_schedule(s)] == [7, 14, 30, 60, 90]  # 30/60/90 = 1-3x the default 30
    assert next_silence_check(fold([profile(T0, segment="x")]), T0 - timedelta(days=1)) is None
    assert next_silence_check(CustomerState(), T0) is None
    assert next_silence_check(apply_event(s, app(T0, "account_closed")), T0) is None


def test_new_activity_moves_the_schedule():
    s = fold([order(T0)])
    s2 = apply_event(s, app(T0 + timedelta(days=5)))
    assert next_silence_check(s2, T0 + timedelta(days=5)) == T0 + timedelta(days=12)


def test_due_index_pops_in_time_order_with_limit_reschedule_and_removal():
    idx = DueIndex()
    for i, due in enumerate([50.0, 10.0, 30.0, 20.0, 40.0]):
        idx.schedule(f"c{i}", due)
    idx.schedule("c0", 5.0)      # moved earlier
    idx.schedule("c1", 100.0)    # moved later
    idx.remove("c4")             # erased
    assert len(idx) == 4 and "c4" not in idx and idx.due_at("c1") == 100.0
    assert idx.next_due() == 5.0
    assert idx.pop_due(25.0, limit=1) == ["c0"]
    assert idx.pop_due_items(35.0) == [("c3", 20.0), ("c2", 30.0)]
    assert idx.pop_due(99.0) == [] and len(idx) == 1
    assert idx.pop_due(100.0) == ["c1"] and len(idx) == 0 and idx.next_due() is None


def test_same_due_twice_is_popped_once():
    idx = DueIndex()
    idx.schedule("a", 1.0)
    idx.schedule("a", 1.0)
    idx.schedule("a", 2.0)
    idx.schedule("a", 1.0)
    assert idx.pop_due(10.0) == ["a"] and idx.pop_due(10.0) == []


def test_stale_entries_are_compacted():
    idx = DueIndex()
    for i in range(100):
        idx.schedule(f"c{i}", float(i))
    for r in range(50):
        for i in range(100):
            idx.schedule(f"c{i}", float(1000 + r * 100 + i))
        assert len(idx._heap) <= 3 * len(idx) + 1  # stale never exceeds twice the live ones (+1 before compaction)
    for i in range(100):
        idx.cancel(f"c{i}")
    assert len(idx) == 0 and len(idx._heap) == 0


class Counted(float):
    """A due time that counts how often it is compared."""

    calls = 0

    def __lt__(self, other):
        Counted.calls += 1
        return float.__lt__(self, other)

    def __eq__(self, other):
        Counted.calls += 1
        return float.__eq__(self, other)

    __hash__ = float.__hash__


def test_a_sweep_costs_what_is_due_not_all_customers():
    idx = DueIndex()
    for i in range(20_000):
        idx.schedule(f"c{i}", Counted(1000.0 + i))
    Counted.calls = 0
    assert idx.pop_due(1004.0) == [f"c{i}" for i in range(5)]
    # 5 pops of a 20,000-entry heap: about 5 x 2 x log2(20,000) comparisons, not 20,000
    assert Counted.calls < 400, Counted.calls


ops = st.lists(st.tuples(st.sampled_from(["schedule", "cancel", "pop"]), st.integers(0, 9),
                         st.integers(0, 50), st.one_of(st.none(), st.integers(1, 4))), max_size=80)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_due_index_agrees_with_a_plain_dict(script):
    idx, model = DueIndex(), {}
    for op, c, t, limit in script:
        cid = f"c{c}"
        if op == "schedule":
            idx.schedule(cid, float(t))
            model[cid] = float(t)
        elif op == "cancel":
            idx.cancel(cid)
            model.pop(cid, None)
        else:
            due = sorted((at, k) for k, at in model.items() if at <= t)[:limit]
            assert idx.pop_due(float(t), limit) == [k for _, k in due]
            for _, k in due:
                del model[k]
        assert len(idx) == len(model)
