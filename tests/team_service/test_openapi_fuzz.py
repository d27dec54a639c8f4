"""Property-based run of schemathesis against the served OpenAPI document, as an agent and
as an admin (the roles that act), over an inbox with alerts: no request makes a server
error. The event stream is left out: it never ends, by design."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemas.codec import encode
from tests.integration.kafka import publish, run
from tests.team_service.test_database import alert

pytestmark = pytest.mark.integration
ST = Path(sys.executable).with_name("schemathesis")


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_schemathesis_finds_no_server_error(role, team_settings, start_api):
    s = team_settings
    run(publish(s, raw=[(s.topic("alerts"), f"cust-{i}".encode(), encode(alert(i))) for i in range(3)]))
    api = start_api(s)
    api.wait("/api/alerts", lambda j: len(j["items"]) == 3, "alerts stored")
    done = subprocess.run([str(ST), "run", f"{api.url}/openapi.json", "--checks", "not_a_server_error",
                           "--max-examples", "30", "--exclude-path", "/api/stream", "--seed", "13",
                           "--header", f"Authorization: Bearer {api.tokens[role]}", "--request-timeout", "20"],
                          capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-2000:]}\n{api.proc.log_tail()}"
    assert api.proc.alive()
    assert " passed" in done.stdout and "Tested:" in done.stdout, done.stdout[-3000:]
