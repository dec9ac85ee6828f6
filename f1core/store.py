"""The DuckDB store: one connection per process, a cursor per query or thread, writes in transactions."""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd

from f1core.schema import MIGRATIONS, PRIMARY_KEYS, SOURCE_TABLES

log = logging.getLogger(__name__)

# Files this process has open for writing, with how many Stores hold each: only the first opener
# may call unfinished runs interrupted (another Store of this process may be running one).
_OPEN_FOR_WRITE: dict[Path, int] = {}
_OPEN_LOCK = threading.Lock()

_NO_SPACE = "no space left on device"
# DuckDB invalidates the whole database instance after a fatal error (a checkpoint that could not
# be written, typically on a full disk); every later query fails until it is opened again.
_INVALIDATED = "database has been invalidated"
_DURABLE = "commit succeeded and is durable"


class StoreError(RuntimeError):
    """The store cannot be opened or written."""


class StoreReadOnly(StoreError):
    """A write was asked of a store that is open read-only."""


class StoreWriteFailed(StoreError):
    """DuckDB could not write the store. What was committed before is kept."""


class StoreDiskFull(StoreWriteFailed):
    """The disk under the store is full."""


@dataclass(frozen=True)
class RaceRef:
    season: int
    round: int
    name: str
    circuit_ref: str
    date: dt.date
    time: dt.time | None

    @property
    def label(self) -> str:
        return f"{self.season} R{self.round} {self.name}"

    @property
    def start_utc(self) -> dt.datetime:
        return dt.datetime.combine(self.date, self.time or dt.time(12, 0), tzinfo=dt.timezone.utc)


class Store:
    """Owns the process's DuckDB connection. Every caller works through `cursor()`, so threads never
    share a connection object, and DuckDB's MVCC lets readers see the last committed state while a
    refresh is writing.

    A file (or folder) that cannot be written is served read-only: `read_only` is then true, reads
    work and every write raises `StoreReadOnly`. After a fatal DuckDB error (the database
    "invalidated", typically by a full disk) the connection is opened again, so the process
    recovers once space is freed instead of failing every query until a restart."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.read_only_reason = "it was opened read-only" if read_only else None
        if not read_only:
            reason = _why_not_writable(self.path)
            if reason:
                self.read_only, self.read_only_reason = True, reason
                log.warning("the store %s is served read-only: %s", self.path, reason)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._generation = 0
        self._con: duckdb.DuckDBPyConnection | None = self._connect()
        self._key: Path | None = None
        if not self.read_only:
            self._key = self.path.resolve()
            with _OPEN_LOCK:
                first = _OPEN_FOR_WRITE.get(self._key, 0) == 0
                _OPEN_FOR_WRITE[self._key] = _OPEN_FOR_WRITE.get(self._key, 0) + 1
            self.migrate()
            if first:
                # DuckDB lets one process write a file at a time, so no other process is running a
                # run here, and this process has no other Store on the file: a run still unfinished
                # belongs to a process that was killed.
                self._mark_interrupted_runs()

    # -- connection handling -------------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.Error as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise StoreError(
                    f"cannot open the store {self.path}: another process (the app or an ingest) is holding it "
                    f"({_first_line(text)}). Stop it, or point F1_DB/--db at another file."
                ) from exc
            if not self.read_only and ("permission denied" in text.lower() or "read-only file system" in text.lower()):
                self.read_only, self.read_only_reason = True, f"DuckDB cannot write it ({_first_line(text)})"
                log.warning("the store %s is served read-only: %s", self.path, self.read_only_reason)
                return self._connect()
            raise StoreError(f"cannot open the store {self.path}: {_first_line(text)}") from exc

    def _checkout(self) -> tuple[duckdb.DuckDBPyConnection, int]:
        with self._con_lock:
            if self._con is None:  # a reopen after a fatal error failed; try again now
                self._con = self._connect()
                self._generation += 1
            return self._con.cursor(), self._generation

    def _reopen(self, generation: int) -> None:
        """Replace a connection DuckDB has invalidated (once, however many threads saw it fail)."""
        with self._con_lock:
            if generation != self._generation or self._con is None:
                return
            log.warning("reopening the store %s after a fatal DuckDB error", self.path)
            try:
                self._con.close()
            except duckdb.Error:
                pass
            self._con = None
            self._generation += 1
            try:
                self._con = self._connect()
            except StoreError as exc:  # left for the next caller to retry
                log.warning("the store %s could not be reopened yet: %s", self.path, exc)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._checkout()[0]

    def close(self) -> None:
        with _OPEN_LOCK:
            if self._key is not None and _OPEN_FOR_WRITE.get(self._key):
                _OPEN_FOR_WRITE[self._key] -= 1
                if not _OPEN_FOR_WRITE[self._key]:
                    del _OPEN_FOR_WRITE[self._key]
            self._key = None
        with self._con_lock:
            con, self._con = self._con, None
        if con is not None:
            try:
                con.close()
            except duckdb.Error as exc:
                # Closing checkpoints; when that fails (a full disk) the write-ahead log keeps every
                # committed change and the next open replays it.
                log.warning("closing the store %s: %s", self.path, _first_line(str(exc)))

    def require_writable(self) -> None:
        """Raise StoreReadOnly, saying why and what to do, when the store is open read-only."""
        if self.read_only:
            raise StoreReadOnly(
                f"the store {self.path} is read-only ({self.read_only_reason}): it can be read, but refresh, "
                "retraining and every other write are off. Make the file and its folder writable, or point "
                "F1_DB/--db at a writable file."
            )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write at a time per process; the block lands whole or not at all. A write DuckDB
        cannot make (a full disk) raises a StoreWriteFailed that says so in plain words."""
        self.require_writable()
        with self._write_lock:
            cur, generation = self._checkout()
            try:
                try:
                    cur.begin()
                    yield cur
                except BaseException:
                    _quietly(cur.rollback)
                    raise
                try:
                    cur.commit()
                except duckdb.Error as exc:
                    if _DURABLE not in _chain_text(exc):
                        _quietly(cur.rollback)
                        raise
                    # The data is in the write-ahead log; only the checkpoint after it failed.
                    log.warning("the store %s committed, but its checkpoint failed: %s", self.path,
                                _first_line(str(exc)))
                    self._reopen(generation)
            except duckdb.Error as exc:
                failure = self._failure(exc, generation)
                if failure is None:
                    raise
                raise failure from exc
            finally:
                _quietly(cur.close)

    def _failure(self, exc: BaseException, generation: int) -> StoreWriteFailed | None:
        """The plain-words error for a write DuckDB could not make, or None for other errors (a
        bad statement is a bug to see as it is). Reopens the connection when DuckDB invalidated it."""
        text = _chain_text(exc)
        fatal = isinstance(exc, duckdb.FatalException) or _INVALIDATED in text
        if fatal:
            self._reopen(generation)
        if _NO_SPACE in text:
            return StoreDiskFull(
                f"the disk under the store {self.path} is full, so the store could not be written. Nothing "
                "was lost: it keeps everything written before, and this change did not land. Free some "
                "space there and retry."
            )
        if fatal or isinstance(exc, duckdb.IOException):
            return StoreWriteFailed(
                f"the store {self.path} could not be written ({_first_line(str(exc))}). Nothing was lost: it "
                "keeps everything written before, and this change did not land. Check the disk under it "
                "(free space, permissions) and retry."
            )
        return None

    def _query(self, fn):
        """Run a read; when DuckDB has invalidated the connection, reopen it and try once more."""
        for attempt in (1, 2):
            cur, generation = self._checkout()
            try:
                return fn(cur)
            except duckdb.Error as exc:
                fatal = isinstance(exc, duckdb.FatalException) or _INVALIDATED in _chain_text(exc)
                if not fatal:
                    raise
                self._reopen(generation)
                if attempt == 2:
                    raise StoreError(f"the store {self.path} cannot be read: {_first_line(str(exc))}") from exc
            finally:
                _quietly(cur.close)

    def read(self, sql: str, params: list | tuple | None = None) -> pd.DataFrame:
        return self._query(lambda cur: cur.execute(sql, params or []).df())

    def rows(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        return self._query(lambda cur: cur.execute(sql, params or []).fetchall())

    def scalar(self, sql: str, params: list | tuple | None = None):
        row = self._query(lambda cur: cur.execute(sql, params or []).fetchone())
        return None if row is None else row[0]

    # -- schema --------------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"):
            return 0
        return int(self.scalar("SELECT max(version) FROM schema_version") or 0)

    def migrate(self) -> int:
        current = self.schema_version()
        if current == 0:
            with self.transaction() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS schema_version "
                            "(version INTEGER, description VARCHAR, applied_at TIMESTAMP)")
        for version, description, sql in MIGRATIONS:
            if version <= current:
                continue
            with self.transaction() as cur:
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [version, description, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)],
                )
            current = version
        return current

    def _mark_interrupted_runs(self) -> None:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with self.transaction() as cur:
            cur.execute(
                "UPDATE ingestion_runs SET ok = false, rows_added = 0, message = ? "
                "WHERE finished_at IS NULL AND ok IS NULL",
                [f"interrupted: the process stopped before this run finished (found when the store was next "
                 f"opened for writing, {now:%Y-%m-%d %H:%M} UTC); nothing of it landed"],
            )

    # -- writing source rows -------------------------------------------------------------------
    @staticmethod
    def upsert(cur: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Insert or replace rows by primary key, parents first; returns new rows per table.
        Re-running with the same frames changes nothing, which keeps every importer idempotent."""
        added: dict[str, int] = {}
        for table in SOURCE_TABLES:
            frame = frames.get(table)
            if frame is None or frame.empty:
                continue
            keys = PRIMARY_KEYS[table]
            columns = [r[0] for r in cur.execute(f"DESCRIBE {table}").fetchall()]
            unknown = set(frame.columns) - set(columns)
            if unknown:
                raise StoreError(f"{table}: unknown columns {sorted(unknown)}")
            stage = f"stage_{table}"
            cur.register(stage, frame)
            try:
                key_match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
                added[table] = cur.execute(
                    f"SELECT count(*) FROM (SELECT DISTINCT {', '.join(keys)} FROM {stage}) s "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {key_match})"
                ).fetchone()[0]
                cols = ", ".join(frame.columns)
                cur.execute(f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM {stage}")
            finally:
                # In a transaction DuckDB has aborted (a failed write) this fails too, and would
                # hide the error that matters; the rollback drops the registration anyway.
                _quietly(lambda: cur.unregister(stage))
        return added

    @staticmethod
    def drop_stale_race_rows(cur: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
        """For a source that gives each race whole (a dump): delete, from each per-race table, the
        rows of the races its frame holds whose key the frame no longer has, so the upsert that
        follows leaves each race as the source says. An upsert alone would keep a row whose key
        changed (a stewards' swap of places, a renamed driver) beside the new one. Returns the
        rows deleted per table."""
        dropped: dict[str, int] = {}
        for table in SOURCE_TABLES:
            frame, keys = frames.get(table), PRIMARY_KEYS.get(table, [])
            if table == "races" or frame is None or frame.empty or not {"season", "round"} <= set(keys):
                continue
            stage = f"keep_{table}"
            cur.register(stage, frame[keys].drop_duplicates())
            try:
                same = " AND ".join(f"k.{k} = t.{k}" for k in keys)
                dropped[table] = cur.execute(
                    f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {stage} k WHERE k.season = t.season "
                    f"AND k.round = t.round) AND NOT EXISTS (SELECT 1 FROM {stage} k WHERE {same})").fetchone()[0]
            finally:
                _quietly(lambda: cur.unregister(stage))
        return dropped

    # -- questions the app asks ----------------------------------------------------------------
    def table_counts(self) -> dict[str, int]:
        return self._query(lambda cur: {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SOURCE_TABLES})

    def is_empty(self) -> bool:
        return not self.scalar("SELECT count(*) FROM races")

    def data_version(self) -> int:
        """Changes whenever an ingestion run lands rows (a run that found nothing new leaves it
        alone, so an idle refresh does not empty the caches); cache keys use it."""
        return int(self.scalar("SELECT coalesce(max(run_id), 0) FROM ingestion_runs WHERE ok AND rows_added > 0") or 0)

    def _races(self, where: str, params: list, order: str, limit: int | None = None) -> list[RaceRef]:
        sql = (
            "SELECT season, round, name, circuit_ref, date, time FROM races r "
            f"WHERE {where} ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit else "")
        )
        rows = self.rows(sql, params)
        return [RaceRef(int(s), int(r), n, c, d, t) for s, r, n, c, d, t in rows]

    _HAS_RESULTS = "EXISTS (SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round)"

    def last_race_with_results(self) -> RaceRef | None:
        races = self._races(self._HAS_RESULTS, [], "date DESC, season DESC, round DESC", 1)
        return races[0] if races else None

    def races_missing_results(self, today: dt.date) -> list[RaceRef]:
        """Races whose date has passed but that have no results: the store is stale."""
        return self._races(f"date < ? AND NOT {self._HAS_RESULTS}", [today], "date")

    def next_races(self, today: dt.date, n: int = 3) -> list[RaceRef]:
        """The next races without results, from today on."""
        return self._races(f"date >= ? AND NOT {self._HAS_RESULTS}", [today], "date", n)

    def race(self, season: int, round_: int) -> RaceRef | None:
        races = self._races("season = ? AND round = ?", [season, round_], "date", 1)
        return races[0] if races else None

    def races_with_results(self, since_season: int | None = None) -> list[RaceRef]:
        where = self._HAS_RESULTS + (" AND season >= ?" if since_season else "")
        return self._races(where, [since_season] if since_season else [], "date")

    def observed_weather_rows(self) -> int:
        """Weather rows (one per race and source) of races with results: what the models learn
        rain from. Weather can reach the store after the results it belongs to."""
        return int(self.scalar(f"SELECT count(*) FROM weather_observed r WHERE {self._HAS_RESULTS}") or 0)


def _why_not_writable(path: Path) -> str | None:
    """Why DuckDB could not open `path` for writing (it also writes a log file beside it), or None."""
    if path.exists():
        if not os.access(path, os.W_OK):
            return f"the file {path} is not writable"
        if not os.access(path.parent, os.W_OK):
            return f"its folder {path.parent} is not writable (DuckDB keeps a write-ahead log beside the file)"
        return None
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise StoreError(f"cannot create the store {path}: the folder {folder} is not writable; "
                         "point F1_DB/--db at a writable place")
    return None


def _chain_text(exc: BaseException) -> str:
    """The messages of an exception and of those it came from, lower-cased: a failed write often
    surfaces as "transaction aborted" with the disk error as its context."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return " | ".join(parts).lower()


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= 300 else line[:297] + "..."


def _quietly(fn) -> None:
    try:
        fn()
    except duckdb.Error:
        pass
