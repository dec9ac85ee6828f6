"""The store under hostile conditions: a run killed with its process."""
from __future__ import annotations

import os
import selectors
import subprocess
import sys

from f1core.ingest.runs import ingestion_run
from f1core.store import Store
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
