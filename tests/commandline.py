"""Run ``churn-alert`` as a user would: a subprocess of this interpreter (``python -m cli.main``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def churn_alert(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 240) -> subprocess.CompletedProcess:
    """``churn-alert ARGS`` with captured text output; the caller checks the return code."""
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)
