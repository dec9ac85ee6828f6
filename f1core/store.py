"""The DuckDB store: one connection per process, a cursor per query or thread, writes in transactions."""
from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd

from f1core.schema import MIGRATIONS, PRIMARY_KEYS, SOURCE_TABLES

# Files this process has open for writing, with how many Stores hold each: only the first opener
# may call unfinished runs interrupted (another Store of this process may be running one).
_OPEN_FOR_WRITE: dict[Path, int] = {}
_OPEN_LOCK = threading.Lock()


class StoreError(RuntimeError):
    """The store cannot be opened or written."""


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
    refresh is writing."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open the store {self.path}: {exc}. Is another process (the app or an ingest) "
                "holding it? Stop it, or point F1_DB/--db at another file."
            ) from exc
        self._write_lock = threading.Lock()
        self._key: Path | None = None
        if not read_only:
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
    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def close(self) -> None:
        with _OPEN_LOCK:
            if self._key is not None and _OPEN_FOR_WRITE.get(self._key):
                _OPEN_FOR_WRITE[self._key] -= 1
                if not _OPEN_FOR_WRITE[self._key]:
                    del _OPEN_FOR_WRITE[self._key]
            self._key = None
        self._con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write at a time per process; the block lands whole or not at all."""
        with self._write_lock:
            cur = self.cursor()
            cur.begin()
            try:
                yield cur
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            finally:
                cur.close()

    def read(self, sql: str, params: list | tuple | None = None) -> pd.DataFrame:
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def scalar(self, sql: str, params: list | tuple | None = None):
        cur = self.cursor()
        try:
            row = cur.execute(sql, params or []).fetchone()
            return None if row is None else row[0]
        finally:
            cur.close()

    # -- schema --------------------------------------------------------------------------------
    def schema_version(self) -> int:
        cur = self.cursor()
        try:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, description VARCHAR, applied_at TIMESTAMP)")
            row = cur.execute("SELECT max(version) FROM schema_version").fetchone()
            return int(row[0] or 0)
        finally:
            cur.close()

    def migrate(self) -> int:
        current = self.schema_version()
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
                cur.unregister(stage)
        return added

    # -- questions the app asks ----------------------------------------------------------------
    def table_counts(self) -> dict[str, int]:
        cur = self.cursor()
        try:
            return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SOURCE_TABLES}
        finally:
            cur.close()

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
        cur = self.cursor()
        try:
            rows = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
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
