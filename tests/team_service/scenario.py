"""One shared run for the team service's integration tests: a worker and ``churn-alert api``
on a fresh database and topics, 12 synthetic customers of whom every third turns unhappy
(alerts for c0000, c0003, c0006, c0009), every offer waiting for approval,
and three webhook routes to a receiver that is not up yet."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import psycopg
import redis
import yaml
from pydantic import SecretStr

from cli.procs import ApiProcess, WorkerProcess
from config.settings import Settings, WebhookRoute
from tests.integration.kafka import Feed, sentinels
from tests.integration.test_offers import DAYS, START, history, profiles
from tests.team_service.client import Api

CUSTOMERS = 12
RAW_IDS = [f"c{i:04d}" for i in range(CUSTOMERS)]


class Receiver:
    """A webhook endpoint, started later: what each path received (``delay_s``: each
    answer takes that long, like a slow endpoint).

    Its port is bound from the start and listened on only from :meth:`start`: until then a
    POST is refused (a receiver that is down), and no other process can take the port (a
    port that was merely free once could be, by a server that answers 404 for good)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.got, self.server, self.delay_s = defaultdict(list), None, delay_s
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def start(self) -> None:
        got, delay_s = self.got, self.delay_s

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                got[self.path].append(body)
                if delay_s:
                    time.sleep(delay_s)  # a slow endpoint by design, not a wait for something
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = self.sock
        self.server.server_activate()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.sock.close()


@dataclass
class Inbox:
    settings: Settings
    api: Api
    worker: WorkerProcess
    receiver: Receiver
    started: float
    fed: bool = False
    extra: dict = field(default_factory=dict)

    def feed(self) -> None:
        """Publish the customers' history once (the first test that needs alerts does).

        One event after another, as they would happen: the worker is already reading by then, and
        a history published in batches would reach it one topic's batch ahead of another's, so a
        customer's events on different topics would be applied out of event-time order (the known
        limit of the fresh-group replay test in ``test_offers``): measured, 0 to 17 retention offers
        waiting for approval over eight runs, instead of 4."""
        if not self.fed:  # in a thread of its own: the browser test's thread runs Playwright's event loop
            events = profiles(CUSTOMERS) + history(CUSTOMERS) + sentinels(self.settings, START + timedelta(days=DAYS + 1))
            t = threading.Thread(target=Feed(self.settings), args=(events,), kwargs={"one_by_one": True})
            t.start()
            t.join()
            self.fed = True

    def alerts(self, n: int = 4) -> list[dict]:
        """At least ``n`` alerts, as an agent sees them."""
        self.feed()
        return self.api.wait("/api/alerts?limit=500", lambda j: len(j["items"]) >= n, f"{n} alerts in the inbox")["items"]

    def pending(self, n: int = 2) -> list[dict]:
        """At least ``n`` retention offers waiting for approval."""
        self.feed()
        return [o for o in self.api.wait("/api/offers?status=pending_approval",
                                         lambda j: sum(o["kind"] == "retention" for o in j) >= n, f"{n} pending offers")
                if o["kind"] == "retention"]


def priced_policy(tmp: Path) -> Path:
    """The default offer policy with every offer worth 20, so every one waits for approval (above 5)."""
    policy = yaml.safe_load((resources.files("alerts") / "default_policy.yaml").read_text())
    for section in ("retention", "win_back"):
        for segments in policy[section].values():
            for rule in segments.values():
                rule.update(value=20, monetary=True)
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def start_inbox(live: Settings, pg_url: str, tmp: Path) -> tuple[Inbox, str]:
    tag = uuid.uuid4().hex[:10]
    name = f"team_{tag}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    receiver = Receiver()
    hook = f"http://127.0.0.1:{receiver.port}"
    s = live.model_copy(update={
        "topic_prefix": f"t{tag}-", "app_id": f"test-{tag}", "redis_prefix": f"test-{tag}", "partitions": 2,
        "clock": "event", "min_labels": 10**9, "approval_above": 5.0, "policy_file": priced_policy(tmp),
        "database_url": SecretStr(f"{pg_url.rpartition('/')[0]}/{name}"), "api_port": 0, "api_group": f"test-{tag}-api",
        "pseudonym_key": SecretStr("test-key"), "webhook_backoff_s": 0.5, "webhook_backoff_max_s": 3.0,
        "webhooks": (WebhookRoute(name="all", url=f"{hook}/all"), WebhookRoute(name="slack", url=f"{hook}/slack", format="slack"),
                     WebhookRoute(name="high-value", url=f"{hook}/high", segment="high"))})
    worker = WorkerProcess(s, "team-worker").start()
    api_proc = ApiProcess(s, "team-api").start()
    started = time.monotonic()
    url = api_proc.wait_url()
    from tests.team_service.conftest import issue_tokens

    api = Api(url, issue_tokens(s), api_proc)
    api.wait("/readyz", lambda j: j["ready"], "service ready", role=None, deadline_s=30)
    return Inbox(s, api, worker, receiver, started), name


def stop_inbox(inbox: Inbox, pg_url: str, name: str) -> None:
    inbox.api.proc.stop()
    inbox.worker.stop()
    inbox.receiver.stop()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    r = redis.Redis.from_url(inbox.settings.redis_url)
    for key in r.scan_iter(match=f"{inbox.settings.redis_prefix}:*", count=1000):
        r.delete(key)
    r.close()


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)
