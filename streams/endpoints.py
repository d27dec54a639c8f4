"""``/metrics``, ``/healthz`` and ``/readyz`` of a worker on ``CHURN_METRICS_PORT``.

A small ``http.server`` in a daemon thread: it answers while the worker's loop is
busy or blocked (which is what liveness must detect, see ``streams.health``), and
needs nothing beyond the standard library and prometheus-client. ``/metrics?name[]=F``
serves only the family ``F`` (a frequent poller, such as the benchmarks, need not
render every family: a full page costs the worker several ms of CPU under the GIL). Probes answer
200 or 503 with a JSON body naming each check.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from streams.health import Health


class Endpoints:
    """Serves one registry and one :class:`Health`; ``start()`` binds, ``stop()`` closes."""

    def __init__(self, registry: CollectorRegistry, health: Health, port: int, host: str = "0.0.0.0") -> None:
        self.registry, self.health = registry, health
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="churn-endpoints", daemon=True)

    def start(self) -> Endpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(ep: Endpoints) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path, _, query = self.path.partition("?")
            if path == "/metrics":
                encode, content_type = choose_encoder(self.headers.get("Accept", ""))
                names = parse_qs(query).get("name[]")  # as prometheus-client's own handler: only these families
                self._send(200, content_type, encode(ep.registry.restricted_registry(names) if names else ep.registry))
            elif path in ("/healthz", "/livez"):
                self._probe(*ep.health.live())
            elif path == "/readyz":
                self._probe(*ep.health.ready())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /readyz\n")

        def _probe(self, ok: bool, checks: dict[str, str]) -> None:
            body = json.dumps({"ok": ok, "checks": checks}).encode() + b"\n"
            self._send(200 if ok else 503, "application/json", body)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - scrapes every 15 s need no log line
            pass

    return Handler
