"""Starting and stopping worker processes (demo, tests): they die with their parent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from config.settings import Settings
from services.embedded import die_with_parent


def settings_env(settings: Settings) -> dict[str, str]:
    """``CHURN_*`` variables that reproduce ``settings`` in a child process."""
    env = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        elif isinstance(value, (list, tuple, dict)):
            value = json.dumps(value, default=str)
        env[f"CHURN_{name.upper()}"] = str(value)
    return env


class WorkerProcess:
    """``churn-alert worker`` as a child process with its output in a log file."""

    command = "worker"

    def __init__(self, settings: Settings, name: str = "worker") -> None:
        self.settings = settings
        self.log_path = Path(tempfile.mkstemp(prefix=f"churn-{name}-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")} | settings_env(self.settings)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", self.command], env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (clean stop), then SIGKILL after ``timeout``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ApiProcess(WorkerProcess):
    """``churn-alert api`` as a child process; :meth:`wait_url` waits for it to listen."""

    command = "api"

    def wait_url(self, deadline_s: float = 60.0) -> str:
        """The dashboard's address, once the service printed it (after migrating and starting)."""
        import re
        import time

        end = time.monotonic() + deadline_s
        while True:
            found = re.search(r"team service: dashboard (http://\S+?)/?$", self.log_tail(20_000), re.M)
            if found:
                return found.group(1)
            if not self.alive() or time.monotonic() > end:
                raise RuntimeError(f"the team service did not start:\n{self.log_tail()}")
            time.sleep(0.1)  # polling its log with a deadline
