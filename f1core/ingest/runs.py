"""The ingestion log: every run is recorded, whether its data landed or not.

A run's row is written when it starts; `RunResult.transaction()` marks it done inside the data's
own transaction, so the data and the record of it land together. A process killed mid-run leaves
the row unfinished, and the next Store that opens the file for writing marks it interrupted.

`rows_added` in the log counts the rows a run landed: new ones and corrected ones (a re-fetched race
whose results changed), because both change what the app shows and `Store.data_version` moves on it.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import duckdb

from f1core.store import Store, StoreError

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    """A source gave data that cannot be stored. The message names the source and the row or URL."""


def utc_now() -> dt.datetime:
    """Now, as the store keeps times: naive UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class RunResult:
    source: str
    run_id: int
    rows_added: dict[str, int] = field(default_factory=dict)
    message: str = ""
    rows_corrected: dict[str, int] = field(default_factory=dict)
    store: Store | None = field(default=None, repr=False, compare=False)
    landed: bool = False  # the run's data transaction has committed
    notes: list[str] = field(default_factory=list)  # what the source sent and the run left out, and why

    @property
    def total_added(self) -> int:
        return sum(self.rows_added.values())

    @property
    def total_corrected(self) -> int:
        return sum(self.rows_corrected.values())

    def add(self, counts: dict[str, int]) -> None:
        for table, n in counts.items():
            self.rows_added[table] = self.rows_added.get(table, 0) + int(n)

    def corrected(self, counts: dict[str, int]) -> None:
        for table, n in counts.items():
            self.rows_corrected[table] = self.rows_corrected.get(table, 0) + int(n)

    def summary(self) -> str:
        done = self.message or ", ".join(f"{t} +{n}" for t, n in self.rows_added.items() if n) or "no new rows"
        return "; ".join([done, *self.notes])

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The run's data write: a store transaction that also records the run as done, so a
        process stopped right after the data committed cannot leave it looking interrupted."""
        assert self.store is not None, "RunResult.transaction() needs the run's store"
        with self.store.transaction() as cur:
            yield cur
            _record_ok(cur, self)
        self.landed = True


def _record_ok(cur: duckdb.DuckDBPyConnection, result: RunResult) -> None:
    cur.execute(
        "UPDATE ingestion_runs SET finished_at = ?, ok = true, rows_added = ?, message = ? WHERE run_id = ?",
        [utc_now(), result.total_added + result.total_corrected, result.summary()[:2000], result.run_id],
    )


# Failures the log could not take when they happened (a full disk), per store file, as
# (run_id or None for a run that could not even be started, source, started_at, finished_at,
# message); written at the start of the next run on that file, so they are recorded once there is room.
_Pending = tuple[int | None, str, dt.datetime, dt.datetime, str]
_unrecorded: dict[str, list[_Pending]] = {}
_unrecorded_lock = threading.Lock()


def _remember(store: Store, *failures: _Pending) -> None:
    with _unrecorded_lock:
        _unrecorded.setdefault(str(store.path), []).extend(failures)


def _write_pending(cur: duckdb.DuckDBPyConnection, pending: list[_Pending]) -> None:
    for run_id, source, started, finished, message in pending:
        if run_id is None:
            cur.execute("INSERT INTO ingestion_runs (source, started_at, finished_at, ok, rows_added, message) "
                        "VALUES (?, ?, ?, false, 0, ?)", [source, started, finished, message[:2000]])
        else:
            cur.execute("UPDATE ingestion_runs SET finished_at = ?, ok = false, rows_added = 0, message = ? "
                        "WHERE run_id = ? AND ok IS NULL", [finished, message[:2000], run_id])


def _record_failure(store: Store, run_id: int, source: str, message: str) -> None:
    failure = (run_id, source, utc_now(), utc_now(), message)
    try:
        with store.transaction() as cur:
            _write_pending(cur, [failure])
    except StoreError as exc:
        log.warning("ingestion run %s: its failure could not be recorded yet (%s)", run_id, exc)
        _remember(store, failure)


@contextmanager
def ingestion_run(store: Store, source: str) -> Iterator[RunResult]:
    """Record a run in `ingestion_runs`. The data is written in `run.transaction()`, which marks the
    run done in the same commit; a failed run is recorded apart from it, so it is remembered even
    though its data was rolled back."""
    with _unrecorded_lock:
        pending = _unrecorded.pop(str(store.path), [])
    started = utc_now()
    try:
        with store.transaction() as cur:
            _write_pending(cur, pending)
            run_id = cur.execute(
                "INSERT INTO ingestion_runs (source, started_at) VALUES (?, ?) RETURNING run_id", [source, started],
            ).fetchone()[0]
    except StoreError as exc:
        _remember(store, *pending, *([] if store.read_only else [(None, source, started, utc_now(), str(exc))]))
        raise
    except BaseException:
        _remember(store, *pending)
        raise
    result = RunResult(source=source, run_id=run_id, store=store)
    try:
        yield result
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (IngestError, StoreError)) else str(exc)
        if result.landed:
            # The data and its record already committed; what failed came after.
            log.warning("ingestion run %s (%s) landed, then failed: %s", run_id, source, message)
        else:
            log.warning("ingestion run %s (%s) failed: %s", run_id, source, message)
            _record_failure(store, run_id, source, message)
        raise
    # Again, with the final message (importers may add notes after their write), and for runs
    # that wrote nothing and so had no data transaction.
    try:
        with store.transaction() as cur:
            _record_ok(cur, result)
    except StoreError as exc:
        if not result.landed:
            raise
        log.warning("ingestion run %s (%s) landed; its final message could not be written: %s", run_id, source, exc)
