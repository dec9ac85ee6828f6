"""Importer for observed race-day weather CSVs: FastF1 session averages and Open-Meteo daily values.

The format of each file is recognised from its header, so the folder can hold either or both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from f1core.ingest.csvfiles import CsvSource, CsvTable, as_bool, as_float, as_int, line_origins, read_csv_strict
from f1core.ingest.runs import IngestError, RunResult, ingestion_run
from f1core.ingest.validate import check_plausible
from f1core.store import Store

FASTF1_COLUMNS = ["race_id", "fastf1_weather_available", "fastf1_air_temp_mean", "fastf1_track_temp_mean",
                  "fastf1_humidity_mean", "fastf1_rainfall_rate", "fastf1_wet_race"]
OPENMETEO_COLUMNS = ["season", "round", "precipitation_mm", "temp_max_c", "temp_min_c", "rainfall"]


def _fastf1(t: CsvTable) -> pd.DataFrame:
    race_id = t.frame["race_id"].str.extract(r"^(\d{4})_(\d{1,2})$")
    bad = race_id[0].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise t.fail(row, f"race_id {t.frame['race_id'].iloc[row]!r} is not like 2024_05")
    available = as_float(t, "fastf1_weather_available").fillna(0) > 0
    wet = as_float(t, "fastf1_wet_race")
    frame = pd.DataFrame({
        "season": race_id[0].astype(int), "round": race_id[1].astype(int), "source": "fastf1",
        "air_temp": as_float(t, "fastf1_air_temp_mean"), "track_temp": as_float(t, "fastf1_track_temp_mean"),
        "humidity": as_float(t, "fastf1_humidity_mean"), "pressure": as_float(t, "fastf1_pressure_mean"),
        "wind_speed": as_float(t, "fastf1_wind_speed_mean"), "rainfall_rate": as_float(t, "fastf1_rainfall_rate"),
        "temp_max": as_float(t, "fastf1_air_temp_max"), "temp_min": as_float(t, "fastf1_air_temp_min"),
        "wet": (wet > 0).astype(object).where(wet.notna(), None),
    })
    # Rows flagged unavailable carry no values; storing them would only add empty rows.
    return frame[available.to_numpy()]


def _openmeteo(t: CsvTable) -> pd.DataFrame:
    return pd.DataFrame({
        "season": as_int(t, "season", required=True), "round": as_int(t, "round", required=True),
        "source": "openmeteo",
        "precipitation_mm": as_float(t, "precipitation_mm"), "precipitation_hours": as_float(t, "precipitation_hours"),
        "temp_max": as_float(t, "temp_max_c"), "temp_min": as_float(t, "temp_min_c"),
        "air_temp": (as_float(t, "temp_max_c") + as_float(t, "temp_min_c")) / 2,
        "wind_speed": as_float(t, "wind_max_kmh"), "wet": as_bool(t, "rainfall"),
    })


def read_weather(path: str | Path, progress: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, list[tuple[str, CsvTable, pd.DataFrame]]]:
    src_path = Path(path)
    if src_path.is_dir():
        names = sorted(p.name for p in src_path.glob("*.csv"))
    else:
        names = [src_path.name]
        src_path = src_path.parent
    if not names:
        raise IngestError(f"{path}: no weather CSV files found")
    src = CsvSource(src_path)
    parts = []
    for name in names:
        if progress:
            progress(f"reading {name}")
        header = src.text(name).splitlines()[0].split(",") if src.text(name) else []
        if set(FASTF1_COLUMNS) <= set(header):
            t = read_csv_strict(src, name, FASTF1_COLUMNS)
            parts.append((name, t, _fastf1(t)))
        elif set(OPENMETEO_COLUMNS) <= set(header):
            t = read_csv_strict(src, name, OPENMETEO_COLUMNS)
            parts.append((name, t, _openmeteo(t)))
        else:
            raise IngestError(
                f"{src.where(name)}: not a known weather format; expected the FastF1 columns "
                f"({', '.join(FASTF1_COLUMNS)}) or the Open-Meteo columns ({', '.join(OPENMETEO_COLUMNS)})"
            )
    frame = pd.concat([p[2] for p in parts], ignore_index=True)
    # a race twice (in one file or two of the same source) or a value no race day has is refused
    check_plausible("weather_observed", frame, [o for _, t, part in parts for o in line_origins(t, part)],
                    refusing="the weather files")
    return frame, parts


def import_weather(store: Store, path: str | Path, progress: Callable[[str], None] | None = None) -> RunResult:
    with ingestion_run(store, f"weather-csv:{path}") as run:
        frame, parts = read_weather(path, progress)
        known = set(map(tuple, store.read("SELECT season, round FROM races").to_numpy().tolist()))
        for name, table, part in parts:
            for i, (season, rnd) in enumerate(zip(part["season"], part["round"])):
                if (int(season), int(rnd)) not in known:
                    row = part.index[i]
                    raise table.fail(row, f"race {season} round {rnd} is not in the store (load the dump first)")
        with run.transaction() as cur:
            run.add(Store.upsert(cur, {"weather_observed": frame}))
    return run
