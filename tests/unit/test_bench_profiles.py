"""The benchmark's profile summary (bench/profiles.py): every sample goes to one layer of ours or a library's."""

from __future__ import annotations

import doctest

from bench import profiles


def test_the_doctests_of_the_layering_hold():
    assert doctest.testmod(profiles).failed == 0


def test_samples_are_attributed_by_the_innermost_frame_of_ours_and_idle_and_imports_are_set_apart(tmp_path):
    raw = tmp_path / "w.txt"
    raw.write_text("\n".join([
        "<module> (cli/main.py:1);run (faust/agents/agent.py:5);handle_batch (streams/handler.py:97);"
        "compute_features (models/features.py:40);max (builtins:0) 30",
        "<module> (cli/main.py:1);run (faust/agents/agent.py:5);customers (streams/agents/customer.py:20);"
        "take (faust/streams.py:9) 50",
        "<module> (cli/main.py:1);_after (streams/effects.py:90);execute (redis/asyncio/client.py:9) 15",
        "<module> (cli/main.py:1);_run_once (asyncio/base_events.py:1);select (selectors.py:468) 40",
        "<module> (cli/main.py:1);<module> (models/model.py:3) 5",
    ]) + "\n")
    per, total = profiles.layers(raw)
    assert total == 140
    assert per == {"features": 30, "Faust: consumer, streams, producer": 50, "effects: alerts, offers, Redis": 15,
                   profiles.IDLE: 40, profiles.IMPORTS: 5}
