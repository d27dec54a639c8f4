"""Where a process's time went: py-spy profiles, summarised by the project's own layers.

:func:`record` samples a running process with py-spy (raw collapsed stacks, 200 Hz);
:func:`layers` reads such a file and attributes every sample to one layer: the innermost
frame of the project's own code decides (so the Redis client called by the effects counts
as the effects, River called by the learner as scoring and learning), and a sample with no
frame of ours goes to the library of its innermost frame (Faust and mode, aiokafka, ...).
The customer agent's loop and the Faust adapters of ``streams/faust_compat.py`` count as
Faust: that is Faust's machinery around our handler. Samples waiting in ``select`` are idle.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")
RATE_HZ = 200
IDLE, IMPORTS = "idle (waiting in select)", "start-up (imports)"

OURS = {  # module path prefix → layer (first match wins, so the specific ones come first)
    "streams/agents/": "Faust: consumer, streams, producer",
    "streams/faust_compat.py": "Faust: consumer, streams, producer",
    "streams/handler.py": "handler (dispatch, watermark, sweep)",
    "streams/batch.py": "record cache and codec",
    "engine/record.py": "record cache and codec",
    "streams/effects.py": "effects: alerts, offers, Redis",
    "alerts/": "effects: alerts, offers, Redis",
    "schemas/": "event decode and validation",
    "models/features.py": "features",
    "models/state.py": "customer state",
    "models/labelling.py": "labels and snapshots",
    "models/": "scoring and learning",
    "engine/": "decision path (engine)",
    "streams/": "worker: metrics, timers, health",
}
LIBRARIES = {"faust": "Faust: consumer, streams, producer", "mode": "Faust: consumer, streams, producer",
             "aiokafka": "aiokafka (fetch, produce)", "redis": "effects: alerts, offers, Redis",
             "river": "scoring and learning", "prometheus_client": "worker: metrics, timers, health"}


def record(pid: int, out: Path) -> subprocess.Popen:
    """Start sampling ``pid`` into ``out`` until it exits (py-spy must be installed: ``pip install py-spy``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(PY_SPY), "record", "--nonblocking", "-r", str(RATE_HZ), "-f", "raw", "-o", str(out),
                             "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def command(out: Path, argv: list[str]) -> list[str]:
    """``argv`` run under py-spy, recording into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return [str(PY_SPY), "record", "-r", str(RATE_HZ), "-f", "raw", "-o", str(out), "--", *argv]


def _path(frame: str) -> str:
    """``'Func (streams/handler.py:97)'`` → ``'streams/handler.py'``."""
    inside = frame.rsplit(" (", 1)[-1]
    return inside.rsplit(":", 1)[0] if inside.endswith(")") else ""


def layer_of(frames: list[str]) -> str:
    """The layer a sample (outermost frame first) belongs to.

    >>> layer_of(["run (faust/agents/agent.py:1)", "handle_batch (streams/handler.py:97)", "execute (redis/client.py:5)"])
    'handler (dispatch, watermark, sweep)'
    >>> layer_of(["run (faust/agents/agent.py:1)", "select (selectors.py:468)"])
    'idle (waiting in select)'
    >>> layer_of(["_run (asyncio/events.py:80)", "send (aiokafka/conn.py:420)"])
    'aiokafka (fetch, produce)'
    >>> layer_of(["<module> (<string>:3)", "<module> (models/model.py:9)", "<module> (river/linear_model/lin_reg.py:1)"])
    'start-up (imports)'
    """
    paths = [_path(f) for f in frames]
    if paths and paths[-1] == "selectors.py":
        return IDLE
    if sum(f.startswith("<module> ") for f in frames) > 1:  # a module executed inside the main one: an import
        return IMPORTS
    for p in reversed(paths):
        for prefix, name in OURS.items():
            if p.startswith(prefix):
                return name
    for p in reversed(paths):
        if (lib := LIBRARIES.get(p.split("/", 1)[0])) is not None:
            return lib
    return "Python runtime, asyncio, other"


def layers(raw: Path) -> tuple[Counter, int]:
    """(samples per layer, all samples) of a py-spy raw file."""
    per: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        per[layer_of(stack.split(";"))] += int(n)
        total += int(n)
    return per, total


def print_layers(title: str, raw: Path, us_per_event: float | None = None) -> None:
    """A table of the busy samples' shares, start-up's imports left out (and CPU µs per event when the
    run's CPU per event is known)."""
    if not raw.exists():
        print(f"{title}: no profile ({raw} missing: is py-spy installed?)", flush=True)
        return
    per, total = layers(raw)
    idle, imports = per.pop(IDLE, 0), per.pop(IMPORTS, 0)
    busy = total - idle - imports
    if not busy:
        print(f"{title}: no busy samples", flush=True)
        return
    print(f"\n{title}: {busy:,} busy samples ({idle:,} idle, {imports:,} in start-up's imports); share of busy samples"
          + (f", and of its {us_per_event:,.0f} CPU µs per event" if us_per_event else ""), flush=True)
    for name, n in per.most_common():
        share = n / busy
        print(f"  {share:6.1%}  " + (f"{share * us_per_event:6,.0f} µs  " if us_per_event else "") + name, flush=True)
