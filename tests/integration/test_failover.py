"""Failover under load: two workers share the partitions while events flow, one is killed
with SIGKILL, the other takes its partitions over. Afterwards every event is accounted
for exactly (each customer's state, read back from the table's changelog, equals the fold
of that customer's events, so none was lost or applied twice; each malformed message is
dead-lettered, a repeat only as a known duplicate of the same source offset), and the
alerts and offers are exactly the in-process backtest's, none twice, none missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import Counter
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer

from cli.procs import WorkerProcess
from engine.backtest import run_backtest
from services.embedded import free_port
from tests.integration.kafka import Feed, collect, metric, outcome_counts, run, sentinels, wait_for
from tests.integration.test_same_decisions import DAYS, START, customers, uncapped_policy
from tests.integration.test_state_recovery import changelog_records, fold

pytestmark = pytest.mark.integration
N_CUSTOMERS, N_BAD, CHUNK = 300, 200, 400


def comparable(state) -> dict:  # noqa: ANN001
    return dataclasses.replace(state, seen_ids=sorted(state.seen_ids)).to_json()


def explain(s, wrong: list[str], by_customer: dict, latest: dict) -> str:  # noqa: ANN001
    """For the first wrong customers: the event ids the changelog state lacks or has beyond the fold's
    (by its ring of recent ids, with their partition and offset on the activity topic), and the fields that differ."""
    from models.state import id_hash
    from tests.integration.test_state_recovery import diff

    async def offsets() -> dict[str, tuple[int, int]]:
        cons = AIOKafkaConsumer(s.topic("activity"), bootstrap_servers=s.bootstrap_servers, auto_offset_reset="earliest",
                                group_id=None)
        await cons.start()
        out, quiet = {}, 0
        try:
            while quiet < 4:  # read to the end: four empty fetches in a row
                got = await cons.getmany(timeout_ms=500, max_records=5000)
                quiet = 0 if got else quiet + 1
                for recs in got.values():
                    for r in recs:
                        with contextlib.suppress(ValueError, KeyError):
                            out[json.loads(r.value)["event_id"]] = (r.partition, r.offset)
        finally:
            await cons.stop()
        return out

    where, lines = run(offsets()), []
    for cid in wrong[:8]:
        want, got = fold(by_customer[cid]), latest[cid].state if latest.get(cid) is not None else None
        if got is None:
            lines.append(f"{cid}: no state")
            continue
        ids = {id_hash(e.event_id): e.event_id for e in by_customer[cid]}
        missing = [(ids[h], where.get(ids[h])) for h in want.seen_ids if h not in got.seen_ids]
        extra = [ids.get(h, h) for h in got.seen_ids if h not in want.seen_ids]
        fields = {k: v for k, v in diff(comparable(got), comparable(want)).items() if k != "seen_ids"}
        lines.append(f"{cid}: lacks {missing}, has beyond the fold {extra}; (got, folded) {str(fields)[:300]}")
    return "\n".join(lines)


def test_the_survivor_takes_over_and_nothing_is_lost_or_sent_twice(run_settings, tmp_path):
    ports = free_port(), free_port()
    base = run_settings.with_updates(partitions=4, min_labels=10**9, control_share=0.3, policy_file=uncapped_policy(tmp_path))
    a, b = (WorkerProcess(base.with_updates(metrics_port=p), f"failover-{k}") for k, p in enumerate(ports))
    s = a.settings
    profiles, acts = customers(N_CUSTOMERS, seed=8)
    end = START + timedelta(days=DAYS + 40)
    tail = [e for e in sentinels(s, end) if e.event_type == "app_activity"]
    bad = [(s.topic("activity"), f"c{i:04d}".encode(), b'{"event_type": "app_activity", "oops"') for i in range(N_BAD)]
    feed = Feed(s)
    try:
        a.start()
        b.start()
        feed(profiles)
        k = 0
        while not all(sum(outcome_counts(p).values()) > 0 for p in ports):  # until both are in the group
            assert k < 100, "the second worker never got a partition"
            before = sum(sum(outcome_counts(p).values()) for p in ports)
            feed([profiles[0].model_copy(
                update={"event_id": f"warm-{k}-{i}", "customer_id": f"warm-{k}-{i}"}) for i in range(8)])
            wait_for(lambda before=before: sum(sum(outcome_counts(p).values()) for p in ports) >= before + 1,
                     "warm-up taken", [a, b], 60)
            k += 1
        feed.drained([a, b])
        chunks = [acts[i:i + CHUNK] for i in range(0, len(acts), CHUNK)]
        for k, chunk in enumerate(chunks):
            feed(chunk)
            if k == len(chunks) // 3:
                feed([], raw=bad)  # counted: their offsets are committed like the rest
                wait_for(lambda: sum(outcome_counts(ports[0]).values()) > 0.2 * len(acts) / 2,
                         "worker 0 well into its partitions", [a, b], 60, every=0.05)
                a.kill()  # SIGKILL while events flow
        feed(tail)
        feed.drained([b], deadline_s=240)
        alerts, offers = feed.outputs()
        survivor = {k: metric(ports[1], k) for k in ("churn_alerts_total", "churn_alerts_deduplicated_total",
                                                      "churn_silence_scheduled")}
        want = {e.customer_id: e.event_id for e in profiles + acts + tail}  # each customer's last event
        latest = run(changelog_records(s, want, 60, b))
        # until every malformed message's dead letter is read: repeats of a source offset may come first
        letters = run(collect(s, ["dead_letter"], lambda rs: len({(v["source_topic"], v["partition"], v["offset"])
                                                                  for _, _, v in rs}) >= N_BAD, deadline_s=60, workers=[b]))
    finally:
        a.kill()
        b.stop()
    assert a.proc.returncode == -9

    by_customer: dict[str, list] = {}
    for e in profiles + acts + tail:
        by_customer.setdefault(e.customer_id, []).append(e)
    wrong = []
    for cid, events in by_customer.items():
        state = fold(events)
        if latest.get(cid) is None or comparable(latest[cid].state) != comparable(state):
            wrong.append(cid)
    assert not wrong, (f"{len(wrong)} customers' state differs from the fold of their events:\n"
                       + explain(s, wrong, by_customer, latest))

    sources = Counter((v["source_topic"], v["partition"], v["offset"]) for _, _, v in letters)
    assert len(sources) == N_BAD and all(v["reason_code"] == "not_json" for _, _, v in letters)

    result = run_backtest(profiles + acts + tail, as_of=end + timedelta(seconds=1), settings=s)
    ids = Counter(x["alert_id"] for x in alerts)
    assert [i for i, n in ids.items() if n > 1] == [], "an alert sent twice"
    replayed = {d.alert_id: (cid, d) for cid, d in result.alerts}
    lost = {i: replayed[i] for i in set(replayed) - set(ids)}
    extra = [x for x in alerts if x["alert_id"] not in replayed]
    claims = {}
    if lost:
        import redis

        r = redis.Redis.from_url(s.redis_url)
        claims = {i: r.get(f"{s.redis_prefix}:alert:{i}") for i in lost}
        r.close()
    assert not lost and not extra, f"alerts lost or made that should not exist (survivor {survivor}):\n" + "\n".join(
        [f"lost  {cid} {d.previous_tier}->{d.tier} score {d.score:.3f} claim {claims.get(i)}; streamed for them: "
         f"{[(x['previous_tier'], x['tier'], x['trigger'], x['occurred_at']) for x in alerts if x['customer_id'] == cid]}"
         for i, (cid, d) in sorted(lost.items(), key=lambda kv: kv[1][0])[:8]]
        + [f"extra {x['customer_id']} {x['previous_tier']}->{x['tier']} {x['trigger']} {x['occurred_at']}" for x in extra[:8]])
    offer_ids = Counter(o["offer_id"] for o in offers)
    assert [i for i, n in offer_ids.items() if n > 1] == [], "an offer sent twice"
    planned = {p.offer_id: p for p in result.offers}
    notes = {x["alert_id"]: x.get("offer_note") for x in alerts}
    lost_offers = [planned[i] for i in set(planned) - set(offer_ids)]
    assert not lost_offers and set(offer_ids) <= set(planned), "offers lost:\n" + "\n".join(
        f"{p.kind} {p.customer_id} {p.offer_type} {p.status} alert {p.alert_id}: note {notes.get(p.alert_id)!r}"
        for p in lost_offers[:10])
    print(f"failover: {len(acts)} events, {len(ids)} alerts, {len(offer_ids)} offers, {len(letters)} dead letters "
          f"({len(letters) - N_BAD} repeats of the same offsets)")
