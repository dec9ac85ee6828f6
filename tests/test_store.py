"""The store under hostile conditions: a run killed with its process, a disk that fills up, a file
that cannot be written. Disk-full and read-only cases use real filesystems (a small tmpfs, a
read-only remount) when running as root, and are skipped with the reason otherwise."""
from __future__ import annotations

import errno
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from f1core.config import load_settings
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.refresh import Refresher, refresh
from f1core.ingest.runs import ingestion_run
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store, StoreDiskFull, StoreError, StoreReadOnly
from tests.conftest import FIXTURES, REPO

MINI = FIXTURES / "ergast_mini"
MINI_WEATHER = FIXTURES / "weather_mini"


def contents(store: Store) -> dict[str, list]:
    return {t: sorted(map(repr, store.read(f"SELECT * FROM {t}").itertuples(index=False)))
            for t in store.table_counts()}


def runs(store: Store) -> list[tuple]:
    return [tuple(r) for r in store.read(
        "SELECT split_part(source, ':', 1), ok, message FROM ingestion_runs ORDER BY run_id").itertuples(index=False)]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "f1core", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


# --- runs killed with their process ------------------------------------------------------------

KILLED_RUN = """
import sys
from f1core.store import Store
from f1core.ingest.runs import ingestion_run
store = Store(sys.argv[1])
with ingestion_run(store, "jolpica"):
    print("started", flush=True)
    sys.stdin.read()  # until killed
"""


def test_a_run_killed_with_its_process_is_marked_interrupted_at_the_next_open(tmp_path):
    path = tmp_path / "f1.duckdb"
    Store(path).close()
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path)], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=60), "the child process never started its run"
        assert proc.stdout.readline().strip() == b"started"
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
    store = Store(path)
    [(source, ok, message)] = runs(store)
    assert source == "jolpica" and ok is False
    assert message.startswith("interrupted: the process stopped before this run finished")
    store.close()


def test_a_second_store_in_the_same_process_leaves_a_live_run_alone(tmp_path):
    first = Store(tmp_path / "f1.duckdb")
    with ingestion_run(first, "jolpica") as run:
        second = Store(tmp_path / "f1.duckdb")  # the same file, while the run is going on
        assert second.scalar("SELECT ok FROM ingestion_runs WHERE run_id = ?", [run.run_id]) is None
        second.close()
    assert runs(first) == [("jolpica", True, "no new rows")]
    first.close()


# --- a full disk ---------------------------------------------------------------------------------

def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (a real filesystem that fills up)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path):
    where = tmp_path / "disk"
    where.mkdir()
    _mount_tmpfs(where, "4m")
    yield where
    _umount(where)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` with a file; delete the file to free them again."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        block = b"\0" * 65536
        while True:
            try:
                if os.write(fd, block) == 0:
                    break
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    finally:
        os.close(fd)
    return filler


def use_up_the_logs_last_page(store: Store, disk: Path) -> None:
    """A write that fits in the unused end of the write-ahead log's last page needs no new space,
    even on a full disk. Small writes to a table of its own leave less than 1 KB there, so the
    imports that follow need a page the disk does not have."""
    store.cursor().execute("CREATE TABLE padding (n INTEGER)")
    wal, page = disk / "f1.duckdb.wal", os.statvfs(disk).f_bsize
    while (-wal.stat().st_size) % page >= 1024:
        store.cursor().execute("INSERT INTO padding VALUES (1)")


def checkpoint_at_every_commit(store: Store, filler: Path) -> None:
    """What a big import does by itself: its commit passes DuckDB's checkpoint threshold, and the
    checkpoint needs room the disk no longer has (a little is left, for the log)."""
    store.cursor().execute("SET checkpoint_threshold = '1KB'")
    os.truncate(filler, filler.stat().st_size - 64 * 1024)


@pytest.mark.parametrize("how", ["write", "checkpoint"])
def test_a_full_disk_is_a_plain_store_error_and_nothing_is_lost(small_disk, how):
    store = Store(small_disk / "f1.duckdb")
    import_dump(store, MINI)
    before = contents(store)
    use_up_the_logs_last_page(store, small_disk)
    filler = fill(small_disk)
    if how == "checkpoint":  # DuckDB then invalidates the database, not just the transaction
        checkpoint_at_every_commit(store, filler)
    with pytest.raises(StoreDiskFull) as err:
        import_weather(store, MINI_WEATHER)
    message = str(err.value)
    assert f"the disk under the store {small_disk / 'f1.duckdb'} is full" in message
    assert "Nothing was lost" in message and "Free some space" in message
    assert isinstance(err.value, StoreError)  # what the CLI and the pages print as one plain line
    assert contents(store) == before
    filler.unlink()
    assert import_weather(store, MINI_WEATHER).rows_added == {"weather_observed": 3}
    # The failed run is in the log too, written once there was room for it.
    assert [(s, ok) for s, ok, _ in runs(store)] == [("ergast-csv", True), ("weather-csv", False), ("weather-csv", True)]
    assert "is full" in runs(store)[1][2]
    store.close()


def test_a_store_invalidated_by_a_failed_checkpoint_is_opened_again(small_disk):
    store = Store(small_disk / "f1.duckdb")
    import_dump(store, MINI)
    before = contents(store)
    use_up_the_logs_last_page(store, small_disk)
    filler = fill(small_disk)
    cur = store.cursor()
    with pytest.raises(duckdb.FatalException):
        cur.execute("CHECKPOINT")  # what DuckDB does by itself after a big write, or when closing
    # DuckDB has invalidated the database: without a reopen every query fails until a restart.
    assert contents(store) == before
    with pytest.raises(StoreDiskFull, match="Nothing was lost"):
        import_weather(store, MINI_WEATHER)
    filler.unlink()
    assert import_weather(store, MINI_WEATHER).rows_added == {"weather_observed": 3}
    store.close()
    reopened = Store(small_disk / "f1.duckdb")
    assert reopened.table_counts()["weather_observed"] == 3
    reopened.close()


def test_a_commit_already_durable_when_its_checkpoint_fails_is_kept(small_disk):
    store = Store(small_disk / "f1.duckdb")
    with store.transaction() as cur:
        # Without a key DuckDB logs the commit before checkpointing, and says the commit is durable.
        cur.execute("CREATE TABLE scratch (n INTEGER)")
    checkpoint_at_every_commit(store, fill(small_disk))
    with store.transaction() as cur:
        cur.execute("INSERT INTO scratch VALUES (1)")
    assert store.scalar("SELECT count(*) FROM scratch") == 1  # and the store still answers
    (small_disk / "filler").unlink()
    store.close()
    reopened = Store(small_disk / "f1.duckdb")
    assert reopened.scalar("SELECT count(*) FROM scratch") == 1
    reopened.close()


def test_the_cli_says_in_one_line_that_the_disk_is_full(small_disk):
    path = small_disk / "f1.duckdb"
    Store(path).close()
    fill(small_disk)
    done = cli("--db", str(path), "ingest", "--snapshot", str(MINI))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: the disk under the store {path} is full")


# --- a store that cannot be written ---------------------------------------------------------------

@pytest.fixture
def read_only_db(tmp_path):
    """A store with the mini dump and one run left unfinished, on a read-only filesystem (as root,
    who ignores file permissions) or with its file and folder made read-only (otherwise)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        _mount_tmpfs(folder, "16m")
    path = folder / "f1.duckdb"
    store = Store(path)
    import_dump(store, MINI)
    with store.transaction() as cur:
        cur.execute("INSERT INTO ingestion_runs (source, started_at) VALUES ('jolpica', TIMESTAMP '2026-05-01 10:00')")
    store.close()
    if as_root:
        done = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True, timeout=30)
        if done.returncode:
            _umount(folder)
            pytest.skip(f"cannot remount a tmpfs read-only here: {done.stderr.strip()}")
    else:
        path.chmod(0o444)
        folder.chmod(0o555)
    yield path
    if as_root:
        _umount(folder)
    else:
        folder.chmod(0o755)
        path.chmod(0o644)


def test_a_read_only_store_is_served_for_reading_and_refuses_writes(read_only_db):
    store = Store(read_only_db)
    assert store.read_only and "not writable" in store.read_only_reason
    assert store.table_counts()["results"] == 8
    assert store.last_race_with_results().name == "Saudi Arabian Grand Prix"
    with pytest.raises(StoreReadOnly) as err:
        import_weather(store, MINI_WEATHER)
    assert f"the store {read_only_db} is read-only" in str(err.value)
    assert "refresh, retraining and every other write are off" in str(err.value)
    # Opened read-only, it is no judge of which runs are still going.
    assert store.scalar("SELECT count(*) FROM ingestion_runs WHERE ok IS NULL") == 1
    store.close()


def test_the_refresher_skips_a_read_only_store_with_a_plain_message(read_only_db, tmp_path):
    store = Store(read_only_db)
    settings = load_settings({"F1_DB": str(read_only_db), "F1_MODELS": str(tmp_path / "models")}, secrets_path=None)
    called = []
    refresher = Refresher(store, settings, refresh_fn=lambda *a, **kw: called.append("refresh") or [],
                          after_refresh=lambda *a: called.append("upkeep"))
    assert refresher.run_once() == []
    status = refresher.status()
    assert called == [] and not status.running and status.last_error is None
    assert status.skipped.startswith("Refresh and retraining are off: the store") and "read-only" in status.skipped
    assert status.data_as_of == "2024 R2 Saudi Arabian Grand Prix"
    with pytest.raises(StoreReadOnly):
        refresh(store, settings)
    store.close()


def test_the_cli_says_in_one_line_that_a_read_only_store_cannot_be_written(read_only_db):
    done = cli("--db", str(read_only_db), "ingest", "--snapshot", str(MINI))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: the store {read_only_db} is read-only")


def test_a_store_held_by_another_process_still_says_so(tmp_path):
    path = tmp_path / "f1.duckdb"
    Store(path).close()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); sys.stdin.read()", str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        with selectors.DefaultSelector() as sel:
            sel.register(holder.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=max(0.0, deadline - time.monotonic()))
        assert holder.stdout.readline().strip() == b"open"
        with pytest.raises(StoreError, match="another process .* is holding it"):
            Store(path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
        holder.stdin.close()
        holder.stdout.close()
