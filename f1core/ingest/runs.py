"""The ingestion log: every run is recorded, whether its data landed or not."""
from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from f1core.store import Store

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    """A source gave data that cannot be stored. The message names the source and the row or URL."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class RunResult:
    source: str
    run_id: int
    rows_added: dict[str, int] = field(default_factory=dict)
    message: str = ""

    @property
    def total_added(self) -> int:
        return sum(self.rows_added.values())

    def add(self, counts: dict[str, int]) -> None:
        for table, n in counts.items():
            self.rows_added[table] = self.rows_added.get(table, 0) + int(n)


@contextmanager
def ingestion_run(store: Store, source: str) -> Iterator[RunResult]:
    """Record a run in `ingestion_runs`. The data writes inside the block are the caller's own
    transaction; this log entry is written apart from it so a failed run is remembered even
    though its data was rolled back."""
    with store.transaction() as cur:
        run_id = cur.execute(
            "INSERT INTO ingestion_runs (source, started_at) VALUES (?, ?) RETURNING run_id",
            [source, _utcnow()],
        ).fetchone()[0]
    result = RunResult(source=source, run_id=run_id)
    try:
        yield result
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, IngestError) else str(exc)
        log.warning("ingestion run %s (%s) failed: %s", run_id, source, message)
        with store.transaction() as cur:
            cur.execute(
                "UPDATE ingestion_runs SET finished_at = ?, ok = false, rows_added = 0, message = ? WHERE run_id = ?",
                [_utcnow(), message[:2000], run_id],
            )
        raise
    summary = result.message or ", ".join(f"{t} +{n}" for t, n in result.rows_added.items() if n) or "no new rows"
    with store.transaction() as cur:
        cur.execute(
            "UPDATE ingestion_runs SET finished_at = ?, ok = true, rows_added = ?, message = ? WHERE run_id = ?",
            [_utcnow(), result.total_added, summary[:2000], run_id],
        )
