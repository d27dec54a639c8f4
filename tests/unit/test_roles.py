"""Worker roles: one process runs everything (demo), or stream workers and one learner apart."""

from __future__ import annotations

import asyncio

import pytest

from config.settings import Settings
from streams.bootstrap import bootstrap


@pytest.mark.parametrize(("role", "agents", "group"), [
    ("all", {"customers", "learner"}, "churn-alert"),
    ("stream", {"customers"}, "churn-alert"),
    ("learner", {"learner"}, "churn-alert-learner"),
])
def test_each_role_runs_its_agents_in_its_group(role, agents, group):
    asyncio.set_event_loop(asyncio.new_event_loop())
    rt = bootstrap(Settings(bootstrap_servers="127.0.0.1:1", role=role))  # nothing connects before the app starts
    names = {a.name.rsplit(".", 1)[-1] for a in rt.app.agents.values()}
    assert names == agents and rt.app.conf.id == group
    assert rt.app.tables.keys() == ({"customers"} if role != "learner" else set())
