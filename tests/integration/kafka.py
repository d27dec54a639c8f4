"""Helpers for integration tests: publish, collect with a deadline, observe workers, wait for a group's commits."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from config.settings import Settings
from engine.record import CustomerRecord
from schemas.catalogue import TOPIC_OF_TYPE
from schemas.events import AppActivityEvent, OrderEvent, SupportEvent
from streams.handler import RESERVED
from streams.publish import ensure_topics, producer, publish_models
from streams.sweep import partition_of


async def new_topic(settings: Settings, what: str, partitions: int = 1) -> str:
    """A topic of its own for one test (``what`` and a random suffix after the settings' prefix); its name."""
    name = f"{settings.topic_prefix}{what}-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def publish(settings: Settings, events: Iterable = (), raw: Iterable[tuple[str, bytes | None, bytes]] = (), *,
                  one_by_one: bool = False) -> int:
    """Publish pydantic events (to their topics) and raw (topic name, key, value) messages.
    ``one_by_one``: each event acknowledged before the next is sent, so a worker already reading
    sees them in the order given across topics, as events that happen one after another arrive;
    in batches, one topic's batch may reach it well ahead of another's."""
    await ensure_topics(settings)
    prod = producer(settings)
    await prod.start()
    try:
        if one_by_one:
            n = 0
            for ev in events:
                n += await publish_models(prod, settings, [ev])
                await prod.flush()
        else:
            n = await publish_models(prod, settings, events)
        for topic, key, value in raw:
            await prod.send(topic, value, key=key)
            n += 1
        await prod.flush()
    finally:
        await prod.stop()
    return n


async def collect(settings: Settings, topic_names: list[str], done: Callable[[list], bool], *,
                  deadline_s: float = 90.0, workers: Iterable = ()) -> list:
    """Records (topic, key, decoded JSON value) from the start of the topics until ``done(records)``.

    Fails with what it has when the deadline passes.
    """
    cons = AIOKafkaConsumer(*[settings.topic(t) for t in topic_names], bootstrap_servers=settings.bootstrap_servers,
                            auto_offset_reset="earliest", group_id=None, fetch_max_wait_ms=50)
    await cons.start()
    out: list = []
    end = time.monotonic() + deadline_s
    try:
        while not done(out):
            for w in workers:
                assert w.alive(), f"worker died:\n{w.log_tail()}"
            if time.monotonic() > end:
                logs = "\n".join(w.log_tail(1500) for w in workers)
                raise AssertionError(f"deadline of {deadline_s}s passed with {len(out)} records: {out[-3:]}\n{logs}")
            for recs in (await cons.getmany(timeout_ms=500, max_records=2000)).values():
                out.extend((r.topic, r.key.decode() if r.key else None, json.loads(r.value)) for r in recs)
    finally:
        await cons.stop()
    return out


def scrape(port: int, timeout: float = 5) -> str:
    """A worker's /metrics text ("" when the endpoint is not up yet)."""
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout).read().decode()
    except OSError:
        return ""


def metric(port: int, name: str) -> float:
    """Sum of one metric family on a worker's /metrics (0 when the endpoint is not up yet)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in scrape(port, timeout=2).splitlines()
               if line.startswith(name) and line[len(name)] in "{ ")


def sample(port: int, name: str, **labels: str) -> float:
    """The samples of a worker's /metrics with this name and these labels, summed over the labels
    not given (0 when absent or not up yet)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for family in text_string_to_metric_families(scrape(port, timeout=2)) for s in family.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def wait_for(cond, what: str, workers=(), deadline_s: float = 60.0, every: float = 0.1) -> None:  # noqa: ANN001
    end = time.monotonic() + deadline_s
    while not cond():
        for w in workers:
            assert w.alive(), f"worker died while waiting for {what}:\n{w.log_tail()}"
        assert time.monotonic() < end, f"{what}: not within {deadline_s}s\n" + "\n".join(w.log_tail(1500) for w in workers)
        time.sleep(every)  # polling with a deadline


class Feed:
    """Publishes events and counts them per input topic and partition, so the worker group's
    committed offsets say when everything was processed (the embedded broker's end offsets
    are not usable for that)."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        self.s, self.sent = settings, Counter()

    def __call__(self, events: list, raw: list[tuple[str, bytes, bytes]] = (), *, one_by_one: bool = False) -> None:
        """Publish events and raw (topic name, key, value) messages; count both, since every
        message takes an offset that the group's commits pass (``one_by_one``: see :func:`publish`)."""
        run(publish(self.s, events, raw=raw, one_by_one=one_by_one))
        for e in events:
            self.sent[TopicPartition(self.s.topic(TOPIC_OF_TYPE[e.event_type]),
                                     partition_of(e.customer_id.encode(), self.s.partitions))] += 1
        for topic, key, _ in raw:
            self.sent[TopicPartition(topic, partition_of(key, self.s.partitions))] += 1

    async def _lags(self) -> dict[TopicPartition, int]:
        cons = AIOKafkaConsumer(bootstrap_servers=self.s.bootstrap_servers, group_id=self.s.app_id,
                                enable_auto_commit=False)  # never subscribes: only reads the group's offsets
        await cons.start()
        try:
            return {tp: n - ((await cons.committed(tp)) or 0) for tp, n in self.sent.items()}
        finally:
            await cons.stop()

    def drained(self, workers, deadline_s: float = 90.0) -> None:  # noqa: ANN001
        """Wait until the group committed every published message. Faust flushes its producer
        before it commits, so then every alert and offer those messages made is on the broker."""
        lags: dict = {}

        def done() -> bool:
            lags.update(asyncio.run(self._lags()))
            return sum(lags.values()) <= 0

        try:
            wait_for(done, "input topics fully committed", workers, deadline_s, every=0.5)
        except AssertionError as exc:
            behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lags.items() if n > 0}
            raise AssertionError(f"uncommitted messages per partition: {behind}\n{exc}") from None

    def outputs(self) -> tuple[list[dict], list[dict]]:
        """Everything on churn-alerts and retention-offers so far (call after :meth:`drained`):
        a marker is appended to every output partition and read up to."""
        async def mark() -> None:
            prod = producer(self.s)
            await prod.start()
            try:
                for t in ("alerts", "offers"):
                    for p in range(self.s.partitions):
                        await prod.send_and_wait(self.s.topic(t), json.dumps({"marker": tag}).encode(), partition=p)
            finally:
                await prod.stop()

        tag = uuid.uuid4().hex
        run(mark())
        want = 2 * self.s.partitions
        recs = run(collect(self.s, ["alerts", "offers"], lambda rs: sum(v.get("marker") == tag for _, _, v in rs) >= want,
                           deadline_s=30))
        real = [(t, v) for t, _, v in recs if "marker" not in v]
        return [v for t, v in real if t == self.s.topic("alerts")], [v for t, v in real if t == self.s.topic("offers")]


def outcome_counts(port: int) -> dict[str, float]:
    """``churn_messages_total`` by outcome, summed over topics, on a worker's /metrics ({} when the
    endpoint is not up yet)."""
    out: dict[str, float] = {}
    for line in scrape(port).splitlines():
        if line.startswith("churn_messages_total{"):
            labels, value = line.split("} ")
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = out.get(outcome, 0.0) + float(value)
    return out


def sentinels(settings, at: datetime) -> list:  # noqa: ANN001
    """One event per input topic and partition at ``at``: every partition's watermark reaches it."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < settings.partitions:
        cid = f"sentinel-{i}"
        found.setdefault(partition_of(cid.encode(), settings.partitions), cid)
        i += 1
    out = []
    for cid in found.values():
        out += [AppActivityEvent(event_id=f"{cid}-a", customer_id=cid, occurred_at=at, event_type="app_activity",
                                 activity="login", platform="web"),
                OrderEvent(event_id=f"{cid}-o", customer_id=cid, occurred_at=at, event_type="order", order_id="o",
                           status="placed", amount=10, currency="EUR", items=1, channel="web"),
                SupportEvent(event_id=f"{cid}-s", customer_id=cid, occurred_at=at, event_type="support", ticket_id="t",
                             action="comment", category="other", priority="low", is_complaint=False)]
    return out


async def changelog_until(s, done: Callable[[dict[str, CustomerRecord | None]], bool], deadline_s: float, worker,  # noqa: ANN001
                          what: Callable[[dict], str] = lambda latest: str(sorted(latest))) -> dict[str, CustomerRecord | None]:
    """The latest record per customer in the table's changelog (``None``: deleted), once
    ``done(latest)``; the worker's own keys (the watermark heads) left out. ``what(latest)``
    says what is still wrong at the deadline."""
    cons = AIOKafkaConsumer(f"{s.app_id}-customers-changelog", bootstrap_servers=s.bootstrap_servers,
                            auto_offset_reset="earliest", group_id=None)
    await cons.start()
    latest: dict[str, CustomerRecord | None] = {}
    end = time.monotonic() + deadline_s
    try:
        while not done(latest):
            assert worker.alive(), worker.log_tail()
            assert time.monotonic() < end, f"changelog not as expected within {deadline_s}s: {what(latest)}\n{worker.log_tail()}"
            for recs in (await cons.getmany(timeout_ms=500, max_records=5000)).values():
                for r in recs:
                    if not r.key.startswith(RESERVED):
                        latest[r.key.decode()] = CustomerRecord.decode(r.value) if r.value is not None else None
    finally:
        await cons.stop()
    return latest


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)
