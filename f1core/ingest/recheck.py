"""Races already in the store that are fetched again on every refresh, and what changed in them.

A race's rows are not final when they first land: stewards publish penalties days later (P1 and P2
swapped), and a server that understates `total` makes a short page look complete (5 of 22
results). So every refresh asks again for the last few races with results, for races whose results
are fewer than their qualifying entries (or the other way round), and for the qualifying of a race
not yet run. Corrections replace the race's rows in the run's one transaction and are described in
the ingestion log. An answer with fewer rows than the store holds is not trusted to shrink a race:
the store's rows stay, and the log says so.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from f1core.ingest.ergast_json import Known
from f1core.store import Store

RECHECK_LAST = 3  # stewards' decisions come within days, so the last three races cover them
MAX_DRIVERS_SHOWN = 6  # per race, in the log's description of a correction
MAX_FIELDS_SHOWN = 3  # per driver
_PLURAL = {"results": "results", "sprint_results": "sprint results", "qualifying": "qualifying"}
# What a reader of the log looks for first in a corrected row.
_FIRST = ("position_order", "position", "points", "status", "grid", "q1", "q2", "q3")
# Columns whose change shows in another column already (q1_s in q1; a classified position and its
# text in the classification order), left out of the description when that one changed too.
_SHOWN_BY = {"q1_s": "q1", "q2_s": "q2", "q3_s": "q3", "position": "position_order", "position_text": "position_order"}

Key = tuple[int, int]


def races_to_recheck(known: Known, seasons: list[int], schedule: dict[Key, dict],
                     stale: set[Key], last: int = RECHECK_LAST) -> dict[str, set[Key]]:
    """Per table (results, qualifying, sprint_results), the stored races to fetch again."""
    window = set(seasons)
    with_results = sorted(known.with_results, key=lambda k: (known.dates.get(k) or dt.date.min, k))
    recent = set(with_results[-last:]) if last > 0 else set()
    results, quali, sprint = known.counts["results"], known.counts["qualifying"], known.counts["sprint_results"]
    out = {
        "results": recent | {k for k, n in results.items() if k[0] in window and n < quali.get(k, 0)},
        "qualifying": recent
        | {k for k, n in quali.items() if k[0] in window and (n < results.get(k, 0) or k not in results)},
        "sprint_results": {k for k in recent
                           if k in sprint or (schedule.get(k) or {}).get("sprint_date") is not None},
    }
    return {table: keys - stale for table, keys in out.items()}


@dataclass
class Correction:
    table: str
    key: Key
    rows: pd.DataFrame  # the race's rows as the API has them now
    added: list[str] = field(default_factory=list)  # drivers new to the race
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # driver -> "column old→new"

    def describe(self) -> str:
        parts = [f"{driver} {', '.join(diffs[:MAX_FIELDS_SHOWN])}"
                 + (f" (+{len(diffs) - MAX_FIELDS_SHOWN} more fields)" if len(diffs) > MAX_FIELDS_SHOWN else "")
                 for driver, diffs in self.changed.items()]
        parts += [f"+{driver}" for driver in self.added] + [f"-{driver}" for driver in self.removed]
        more = len(parts) - MAX_DRIVERS_SHOWN
        shown = "; ".join(parts[:MAX_DRIVERS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
        return f"corrected {self.key[0]} R{self.key[1]} {_PLURAL[self.table]}: {shown}"


def corrections(cur: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame],
                rechecked: dict[str, set[Key]], notes: list[str]) -> list[Correction]:
    """Compare the re-fetched races with the store. Their rows leave `frames` (nothing is written for
    a race that did not change); the races that did change come back as Corrections. Notes say
    where the API's answer was kept from replacing the store's rows."""
    found: list[Correction] = []
    for table, keys in rechecked.items():
        for key in sorted(keys):
            stored = _typed_rows(cur, f"SELECT * FROM {table} WHERE season = ? AND round = ?", list(key))
            if not stored:
                continue  # nothing to correct: whatever the API sent is new rows, and stays in frames
            fetched = _take(frames, table, key)
            label = f"{key[0]} R{key[1]} {_PLURAL[table]}"
            if fetched.empty:
                notes.append(f"{label}: the API lists none now; the store's {len(stored)} kept")
            elif len(fetched) < len(stored):
                notes.append(f"{label}: the API lists {len(fetched)}, the store has {len(stored)}; the store's kept")
            elif (correction := _compare(cur, table, key, fetched, stored)) is not None:
                found.append(correction)
    return found


def _take(frames: dict[str, pd.DataFrame], table: str, key: Key) -> pd.DataFrame:
    """Remove race `key`'s rows from `frames[table]` and return them."""
    frame = frames.get(table)
    if frame is None:
        return pd.DataFrame()
    in_race = ((frame["season"] == key[0]) & (frame["round"] == key[1])).to_numpy()
    rest = frame[~in_race]
    if rest.empty:
        del frames[table]
    else:
        frames[table] = rest
    return frame[in_race]


def _typed_rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def _compare(cur: duckdb.DuckDBPyConnection, table: str, key: Key, fetched: pd.DataFrame,
             stored: list[dict]) -> Correction | None:
    # Both sides through DuckDB's types, so a value reads the same whether it came from the dump,
    # an earlier run or this answer (5455026 and 5455026.0, a date and its text).
    types = {name: kind for name, kind, *_ in cur.execute(f"DESCRIBE {table}").fetchall()}
    cols = [c for c in fetched.columns if c in types]
    cur.register("recheck_stage", fetched[cols])
    try:
        new = _typed_rows(cur, "SELECT " + ", ".join(f'CAST("{c}" AS {types[c]}) AS "{c}"' for c in cols)
                          + " FROM recheck_stage", [])
    finally:
        cur.unregister("recheck_stage")
    old_by = _by_driver(stored)
    new_by = _by_driver(new)
    if old_by is None or new_by is None:  # a driver twice in a stored race (shared cars before 1979)
        return None
    correction = Correction(table, key, fetched)
    for driver, row in new_by.items():
        before = old_by.get(driver)
        if before is None:
            correction.added.append(driver)
            continue
        differ = [c for c in cols if c not in ("season", "round", "driver_ref") and not _same(before.get(c), row[c])]
        differ.sort(key=lambda c: _FIRST.index(c) if c in _FIRST else len(_FIRST))
        if differ:
            correction.changed[driver] = [f"{c} {_show(before.get(c))}→{_show(row[c])}"
                                          for c in differ if _SHOWN_BY.get(c) not in differ]
    correction.removed = [d for d in old_by if d not in new_by]
    if not (correction.added or correction.changed or correction.removed):
        return None
    return correction


def _by_driver(rows: list[dict]) -> dict[str, dict] | None:
    out = {row["driver_ref"]: row for row in rows}
    return out if len(out) == len(rows) else None


def _same(a, b) -> bool:
    # Seconds computed from "1:15.546" and typed in as 75.546 differ in the last bit.
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def apply(cur: duckdb.DuckDBPyConnection, found: list[Correction]) -> tuple[dict[str, int], dict[str, int]]:
    """Replace the rows of every corrected race; returns (rows added, rows corrected) per table."""
    added: dict[str, int] = {}
    corrected: dict[str, int] = {}
    for c in found:
        cur.execute(f"DELETE FROM {c.table} WHERE season = ? AND round = ?", list(c.key))
        Store.upsert(cur, {c.table: c.rows})
        added[c.table] = added.get(c.table, 0) + len(c.added)
        corrected[c.table] = corrected.get(c.table, 0) + len(c.changed) + len(c.removed)
    return added, corrected
