"""Poison and floods: a burst of 10,000 malformed messages and one customer sending ten
times the normal rate neither stop the worker nor starve the other customers. Probe
customers, whose next event makes a risk alert at once, are sent right behind the burst;
every malformed message is dead-lettered, every valid one applied, and the probes' alerts
arrive no later than the burst is worked off (plus a little): a partition's order puts
them behind the burst, nothing may put them further back.

On the wall clock, as in production. The latency of the same probes with no burst is
measured first, in the same run, and printed beside it with the burst's drain time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bench.floods import malformed, one_customer, probe, warm
from cli.procs import WorkerProcess
from services.embedded import free_port
from streams.publish import ensure_topics
from streams.sweep import partition_of
from tests.integration.kafka import outcome_counts, publish, run, wait_for

pytestmark = pytest.mark.integration
N_BAD, N_HOT, N_PROBES = 10_000, 2_000, 20
SLACK_S = 5.0  # a probe's alert may come this much after the burst is worked off


def p99(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.99) - 1)] if xs else float("nan")


def test_malformed_bursts_and_a_flooding_customer_do_not_starve_the_others(run_settings):
    port = free_port()
    s = run_settings.with_updates(clock="wall", metrics_port=port, min_labels=10**9)
    now = datetime.now(UTC)
    quiet = [f"quiet-{i}" for i in range(N_PROBES)]
    loud = [f"loud-{i}" for i in range(N_PROBES)]
    rng = random.Random(5)
    burst = malformed(s, rng, N_BAD, [f"x{i}" for i in range(300)]) + one_customer(s, N_HOT, "hot")
    rng.shuffle(burst)
    run(ensure_topics(s))
    with WorkerProcess(s, "floods") as worker:
        run(publish(s, [e for c in quiet + loud for e in warm(c, now)]))
        wait_for(lambda: outcome_counts(port).get("applied", 0) >= 6 * N_PROBES, "probes warmed up", [worker], 60)
        baseline, _ = run(probe(s, quiet))
        flooded, drain_s = run(probe(s, loud, before=burst,
                                     drained=lambda: outcome_counts(port).get("dead_lettered", 0) >= N_BAD))
        counts = outcome_counts(port)
        assert worker.alive()
    print(f"probe alert latency, p50/p99 s: quiet {sorted(baseline.values())[len(baseline) // 2]:.3f}/"
          f"{p99(list(baseline.values())):.3f}; right behind {N_BAD:,} malformed + {N_HOT:,} from one customer "
          f"{sorted(flooded.values())[len(flooded) // 2]:.3f}/{p99(list(flooded.values())):.3f}, "
          f"the burst worked off in {drain_s:.1f} s")
    assert len(baseline) == N_PROBES and len(flooded) == N_PROBES, "a probe's alert never arrived"
    assert max(flooded.values()) <= drain_s + SLACK_S, "the probes waited longer than the burst ahead of them"
    assert counts["dead_lettered"] == N_BAD
    assert counts["applied"] >= 7 * N_PROBES + N_HOT, "the flooding customer's events and the probes are all applied"


def test_a_flood_on_one_partition_does_not_hold_the_other_partition_back(run_settings):
    """A worker reads all its partitions into one queue; taken first in, first out, whatever was read
    ahead on the flooded partition went first, and the other partition's probes waited for nearly
    the whole burst. Its queue takes the partitions in turn (``streams.faust_compat.PartitionTurns``):
    the other partition's probes are alerted while most of the burst is still to be worked off."""
    port = free_port()
    s = run_settings.with_updates(clock="wall", metrics_port=port, min_labels=10**9)
    now = datetime.now(UTC)
    rng = random.Random(7)
    burst = malformed(s, rng, N_BAD, ["x0"], oversized=False)  # one broken producer's messages, on one key
    flooded = partition_of(b"x0", s.partitions)
    names = (f"other-{i}" for i in range(10**4))
    other = [c for c in names if partition_of(c.encode(), s.partitions) != flooded][:N_PROBES // 2]
    run(ensure_topics(s))
    with WorkerProcess(s, "flood-one-partition") as worker:
        run(publish(s, [e for c in other for e in warm(c, now)]))
        wait_for(lambda: outcome_counts(port).get("applied", 0) >= 3 * len(other), "probes warmed up", [worker], 60)
        worked_off: list[float] = []  # malformed messages dead-lettered when each probe's alert was read
        got, drain_s = run(probe(s, other, before=burst, drained=lambda: outcome_counts(port).get("dead_lettered", 0) >= len(burst),
                                 alerted=lambda cid: worked_off.append(outcome_counts(port).get("dead_lettered", 0))))
        assert worker.alive()
    print(f"{len(burst):,} malformed on partition {flooded}: the other partition's probes alerted after "
          f"{sorted(got.values())[len(got) // 2]:.3f}/{max(got.values()):.3f} s (p50/max), with "
          f"{max(worked_off):,.0f} of the burst worked off; all of it in {drain_s:.1f} s")
    assert len(got) == len(other), "a probe's alert never arrived"
    assert max(worked_off) <= 0.6 * len(burst), "the other partition waited behind most of the flooded one's burst"
