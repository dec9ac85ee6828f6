"""Strict CSV reading shared by the dump and weather importers.

Every row must have exactly as many fields as the header, so a truncated file fails loudly with the
line it broke on instead of loading half a row padded with NULLs. Typed conversion is vectorised
with pandas; a value that is present but does not parse is reported with its file, line and column.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from f1core.ingest.runs import IngestError
from f1core.ingest.validate import Origin

NULL_TOKENS = {"\\N", ""}
# The largest table the importers read (results.csv, 1950 to 2026) is 1.7 MB. A file many times
# that is not an Ergast table; reading it would take gigabytes (a 500 MB zip member inflates to
# about 2.8 GB once split into rows), so it is refused before it is read.
MAX_CSV_BYTES = 64 * 1024 * 1024
# No count, place or time in milliseconds of these tables comes near 32 bits (a four-hour race is
# 14,400,000 ms), and most of the store's integer columns hold no more.
INT_LIMIT = 2**31 - 1


class CsvSource:
    """A folder of CSV files or a `.zip` holding them (at any depth)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise IngestError(f"{self.path}: no such folder or zip file")
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if self.path.is_file():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile as exc:
                raise IngestError(f"{self.path}: not a folder and not a readable zip ({exc})") from exc
            for name in self._zip.namelist():
                base = PurePosixPath(name).name
                if base.endswith(".csv") and not name.startswith("__MACOSX"):
                    self._members.setdefault(base, name)

    def has(self, filename: str) -> bool:
        return filename in self._members if self._zip else (self.path / filename).is_file()

    def where(self, filename: str) -> str:
        return f"{self.path}!{self._members[filename]}" if self._zip else str(self.path / filename)

    def size(self, filename: str) -> int:
        """Bytes of the file once read (a zip member's uncompressed size, as its header says)."""
        if self._zip:
            return self._zip.getinfo(self._members[filename]).file_size
        return (self.path / filename).stat().st_size

    def text(self, filename: str) -> str:
        try:
            size = self.size(filename)
            if size > MAX_CSV_BYTES:
                raise IngestError(
                    f"{self.where(filename)}: {size:,} bytes once unpacked, more than the {MAX_CSV_BYTES:,} an "
                    "Ergast table can plausibly need; refusing to read it (a damaged or hostile archive?)"
                )
            # Read at most one byte past the limit, so a header that understates the size cannot
            # make this read unbounded either.
            if self._zip:
                with self._zip.open(self._members[filename]) as fh:
                    raw = fh.read(MAX_CSV_BYTES + 1)
            else:
                with (self.path / filename).open("rb") as fh:
                    raw = fh.read(MAX_CSV_BYTES + 1)
            if len(raw) > MAX_CSV_BYTES:
                raise IngestError(f"{self.where(filename)}: larger than {MAX_CSV_BYTES:,} bytes; refusing to read it")
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            raise IngestError(f"{self.where(filename)}: cannot read ({exc})") from exc
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise IngestError(f"{self.where(filename)}: not UTF-8 text ({exc})") from exc


@dataclass
class CsvTable:
    where: str
    frame: pd.DataFrame  # all values as str or None; index = row number
    lines: np.ndarray  # the file line each row ends on, for error messages

    def fail(self, row: int, message: str) -> IngestError:
        return IngestError(f"{self.where} line {int(self.lines[row])}: {message}")


def line_origins(table: CsvTable, frame: pd.DataFrame) -> list[Origin]:
    """One origin per row of `frame`, whose index holds the row numbers of `table` it came from:
    the file and line, then the race (and driver) the row is about."""
    lines = table.lines[frame.index.to_numpy()]
    who = frame["driver_ref"].map(", {}".format) if "driver_ref" in frame else pd.Series("", index=frame.index)
    return [Origin(f"{table.where} line {line}", f"race {season} R{rnd}{driver}")
            for line, season, rnd, driver in zip(lines, frame["season"], frame["round"], who)]


def read_csv_strict(source: CsvSource, filename: str, required: list[str]) -> CsvTable:
    where = source.where(filename)
    text = source.text(filename)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise IngestError(f"{where}: the file is empty (no header line)") from None
    except csv.Error as exc:
        raise IngestError(f"{where} line 1: {exc}") from exc
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise IngestError(f"{where}: missing column(s) {', '.join(missing)} (header is {','.join(header)})")
    rows: list[list[str]] = []
    lines: list[int] = []
    width = len(header)
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise IngestError(
                    f"{where} line {reader.line_num}: expected {width} fields, found {len(row)} "
                    "(truncated or malformed row)"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise IngestError(f"{where} line {reader.line_num}: {exc} (truncated file?)") from exc
    if not text.endswith(("\n", "\r")) and rows:
        # A dump cut mid-row often still splits into the right number of fields when the cut falls in
        # the last column; a file written whole ends with a newline.
        raise IngestError(f"{where} line {lines[-1]}: the file ends mid-line (truncated?)")
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame = frame.where(~frame.isin(NULL_TOKENS), None)
    return CsvTable(where, frame, np.asarray(lines))


def _bad(table: CsvTable, column: str, parsed: pd.Series, kind: str) -> None:
    raw = table.frame[column]
    bad = raw.notna() & parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise table.fail(row, f"column {column}: {raw.iloc[row]!r} is not {kind}")


def as_int(table: CsvTable, column: str, required: bool = False) -> pd.Series:
    if column not in table.frame:
        return pd.Series(pd.NA, index=table.frame.index, dtype="Int64")
    parsed = pd.to_numeric(table.frame[column], errors="coerce")
    _bad(table, column, parsed, "a number")
    whole = parsed.dropna()
    if not (whole == whole.round()).all():
        row = int(np.flatnonzero((parsed != parsed.round()) & parsed.notna())[0])
        raise table.fail(row, f"column {column}: {table.frame[column].iloc[row]!r} is not a whole number")
    too_large = parsed.abs() > INT_LIMIT
    if too_large.any():
        row = int(np.flatnonzero(too_large.to_numpy())[0])
        raise table.fail(row, f"column {column}: {table.frame[column].iloc[row]!r} is far too large to be true "
                              f"(no count, place or time in milliseconds of these tables passes {INT_LIMIT:,})")
    out = parsed.astype("Int64")
    if required:
        require(table, column, out)
    return out


def as_float(table: CsvTable, column: str) -> pd.Series:
    if column not in table.frame:
        return pd.Series(np.nan, index=table.frame.index, dtype="float64")
    parsed = pd.to_numeric(table.frame[column], errors="coerce")
    _bad(table, column, parsed, "a number")
    return parsed.astype("float64")


def as_date(table: CsvTable, column: str, required: bool = False) -> pd.Series:
    if column not in table.frame:
        return pd.Series(pd.NaT, index=table.frame.index, dtype="datetime64[ns]")
    parsed = pd.to_datetime(table.frame[column], format="%Y-%m-%d", errors="coerce")
    _bad(table, column, parsed, "a date like 2024-03-02")
    if required:
        require(table, column, parsed)
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?Z?$")


def as_time(table: CsvTable, column: str) -> pd.Series:
    if column not in table.frame:
        return pd.Series(None, index=table.frame.index, dtype=object)
    raw = table.frame[column]
    parts = raw.str.extract(_TIME)
    clock = parts.apply(pd.to_numeric)
    ok = parts[0].notna() & (clock[0] <= 23) & (clock[1] <= 59) & ~(clock[2] > 59)
    _bad(table, column, raw.where(ok, None), "a time of day like 14:00:00")
    text = parts[0].str.zfill(2) + ":" + parts[1] + ":" + parts[2].fillna("00")
    return text.astype(object).where(ok, None)


def as_bool(table: CsvTable, column: str) -> pd.Series:
    raw = table.frame[column].map(lambda v: None if v is None else v.strip().lower())
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    parsed = raw.map(mapping)
    _bad(table, column, parsed, "true/false")
    return parsed.astype(object).where(parsed.notna(), None)


def unique(table: CsvTable, columns: list[str], values: list[pd.Series] | None = None) -> None:
    """Refuse two rows with the same value in `columns` (parsed `values` when given), naming the
    lines of both: a repeated id would silently hand one row's data to another."""
    frame = pd.DataFrame({c: v.to_numpy() for c, v in zip(columns, values)}) if values is not None \
        else table.frame[columns].reset_index(drop=True)
    dup = frame.duplicated(keep=False) & frame.notna().all(axis=1)
    if dup.any():
        first = int(np.flatnonzero(dup.to_numpy())[0])
        same = (frame == frame.iloc[first]).all(axis=1).to_numpy()
        second = int(np.flatnonzero(same)[1])
        value = ", ".join(f"{c} {frame[c].iloc[first]}" for c in columns)
        raise IngestError(f"{table.where} lines {int(table.lines[first])} and {int(table.lines[second])} both have "
                          f"{value}; it must name one row")


def require(table: CsvTable, column: str, values: pd.Series) -> None:
    missing = values.isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise table.fail(row, f"column {column} is empty")


def lap_seconds(values: pd.Series) -> pd.Series:
    """'1:26.572' -> 86.572; '58.123' -> 58.123; anything else (empty, 'DNF') -> NaN."""
    text = values.astype("string")
    parts = text.str.extract(r"^\s*(?:(\d+):)?(\d+(?:\.\d+)?)\s*$")
    minutes = pd.to_numeric(parts[0], errors="coerce").fillna(0)
    seconds = pd.to_numeric(parts[1], errors="coerce")
    return (minutes * 60 + seconds).astype("float64")
