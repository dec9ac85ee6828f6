import csv
import datetime as dt
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from f1core.ingest.csvfiles import MAX_CSV_BYTES
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.runs import IngestError
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store
from tests.conftest import FIXTURES

MINI = FIXTURES / "ergast_mini"
MINI_WEATHER = FIXTURES / "weather_mini"


def snapshot_of(store: Store) -> dict[str, list]:
    """Full content of every source table, to prove a failed import changed nothing."""
    out = {}
    for table in store.table_counts():
        out[table] = sorted(map(repr, store.read(f"SELECT * FROM {table}").itertuples(index=False)))
    return out


def failed_runs(store: Store) -> list[tuple]:
    frame = store.read("SELECT source, message FROM ingestion_runs WHERE NOT ok ORDER BY run_id")
    return [tuple(r) for r in frame.itertuples(index=False)]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "f1.duckdb")
    yield s
    s.close()


@pytest.fixture
def mini_copy(tmp_path) -> Path:
    dst = tmp_path / "dump"
    shutil.copytree(MINI, dst)
    return dst


def test_mini_dump_lands_with_natural_keys(store):
    run = import_dump(store, MINI)
    counts = store.table_counts()
    assert counts["races"] == 3 and counts["results"] == 8 and counts["qualifying"] == 8
    assert run.rows_added["results"] == 8
    row = store.read("SELECT * FROM results WHERE season = 2024 AND round = 2 AND driver_ref = 'bearman'").iloc[0]
    assert (row.constructor_ref, row.grid, row.position, row.status) == ("ferrari", 11, 4, "+1 Lap")
    q = store.read("SELECT q1_s, q3_s FROM qualifying WHERE round = 2 AND driver_ref = 'bearman'").iloc[0]
    assert q.q1_s == pytest.approx(88.642) and pd.isna(q.q3_s)  # \N -> NULL
    sprint = store.read("SELECT position, position_text, status FROM sprint_results WHERE driver_ref = 'leclerc'").iloc[0]
    assert pd.isna(sprint.position) and sprint.position_text == "R" and sprint.status == "Collision"
    race = store.race(2024, 1)
    assert race.circuit_ref == "bahrain" and race.time == dt.time(15, 0)
    assert store.read("SELECT url FROM circuits WHERE circuit_ref = 'albert_park'").url.isna().all()


def test_import_twice_changes_nothing(store):
    import_dump(store, MINI)
    before = snapshot_of(store)
    second = import_dump(store, MINI)
    assert second.total_added == 0
    assert snapshot_of(store) == before


def test_a_newer_dump_replaces_its_races_whole(store, mini_copy):
    """A stewards' decision swaps P2 and P3 of Bahrain 2024 in a newer dump: re-imported, the race
    has each driver once, in the new order (the results' key holds the place, so an upsert alone
    kept the old rows beside the new ones)."""
    import_dump(store, MINI)
    path = mini_copy / "results.csv"
    rows = list(csv.DictReader(path.open()))
    second, third = (r for r in rows if r["raceId"] == "1121" and r["positionOrder"] in ("2", "3"))
    for r, place in ((second, "3"), (third, "2")):
        r["positionOrder"] = r["position"] = r["positionText"] = place
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run = import_dump(store, mini_copy)
    race = store.read("SELECT driver_ref, position_order FROM results WHERE season = 2024 AND round = 1 "
                      "ORDER BY position_order")
    assert race["driver_ref"].is_unique and list(race["position_order"]) == list(range(1, len(race) + 1))
    assert run.rows_corrected["results"] == 2  # the two old rows went
    # the other races are untouched
    assert store.read("SELECT count(*) AS n FROM results WHERE season = 2024 AND round = 2").iloc[0, 0] > 0


def test_zip_dump_in_a_subfolder(store, tmp_path):
    archive = tmp_path / "dump.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in MINI.glob("*.csv"):
            zf.write(f, f"f1db/{f.name}")
    import_dump(store, archive)
    assert store.table_counts()["results"] == 8


def _assert_rejected(store, path, *fragments):
    import_dump(store, MINI)
    before = snapshot_of(store)
    with pytest.raises(IngestError) as err:
        import_dump(store, path)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert snapshot_of(store) == before
    runs = failed_runs(store)
    assert runs and fragments[0] in runs[-1][1]
    return str(err.value)


def test_truncated_file_is_rejected_and_store_unchanged(store, mini_copy):
    path = mini_copy / "results.csv"
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 30])  # cut the last row mid-way
    message = _assert_rejected(store, mini_copy, "results.csv", "line 9")
    assert "truncated" in message


def test_unterminated_quote_is_rejected(store, mini_copy):
    path = mini_copy / "drivers.csv"
    path.write_text(path.read_text() + '861,"colapinto,43,COL,Franco\n')
    _assert_rejected(store, mini_copy, "drivers.csv", "line 7")


def test_missing_column_is_named(store, mini_copy):
    path = mini_copy / "results.csv"
    rows = list(csv.reader(path.open()))
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([r[:2] + r[3:] for r in rows])  # drop driverId
    _assert_rejected(store, mini_copy, "results.csv", "missing column(s) driverId")


def test_unknown_driver_in_results_is_named(store, mini_copy):
    path = mini_copy / "results.csv"
    with path.open("a") as fh:
        fh.write("26009,1122,9999,6,99,20,5,5,5,10,50,+40.000,4883273,40,6,1:33.000,239.0,1\n")
    _assert_rejected(store, mini_copy, "results.csv", "line 10", "driverId 9999 is not in drivers.csv")


def test_non_numeric_value_is_named(store, mini_copy):
    path = mini_copy / "qualifying.csv"
    path.write_text(path.read_text().replace("10002,1121,844,6,16,2", "10002,1121,844,6,16,P2"))
    _assert_rejected(store, mini_copy, "qualifying.csv", "line 3", "'P2' is not a number")


DUPLICATE_IDS = {
    # A second driver under Verstappen's id: his results would go to whichever row came last.
    "driverId": ("drivers.csv", '830,"hamilton",44,"HAM","Lewis","Hamilton","1985-01-07","British",\\N\n',
                 "drivers.csv lines 2 and 7 both have driverId 830"),
    # A race of 2026 under Saudi Arabia 2024's id: its results would move to a race never run.
    "raceId": ("races.csv", "1122,2026,6,3,Miami Grand Prix,2026-05-03,20:00:00,\\N" + ",\\N" * 10 + "\n",
               "races.csv lines 3 and 5 both have raceId 1122"),
    "circuitId": ("circuits.csv", "3,miami,Miami International Autodrome,Miami,USA,25.9,-80.2,0,\\N\n",
                  "circuits.csv lines 2 and 5 both have circuitId 3"),
    "constructorId": ("constructors.csv", "9,mclaren,McLaren,British,\\N\n",
                      "constructors.csv lines 2 and 4 both have constructorId 9"),
    "statusId": ("status.csv", '1,"Disqualified"\n', "status.csv lines 2 and 5 both have statusId 1"),
    "driverRef": ("drivers.csv", '999,"perez",11,"PER","Sergio","Perez","1990-01-26","Mexican",\\N\n',
                  "drivers.csv lines 3 and 7 both have driverRef perez"),
    "season and round": ("races.csv", "1199,2024,2,3,Bahrain again,2024-03-10,15:00:00,\\N" + ",\\N" * 10 + "\n",
                         "races.csv lines 3 and 5 both have year 2024, round 2"),
}


@pytest.mark.parametrize("case", DUPLICATE_IDS, ids=list(DUPLICATE_IDS))
def test_a_repeated_id_is_refused_naming_both_lines(store, mini_copy, case):
    filename, row, message = DUPLICATE_IDS[case]
    with (mini_copy / filename).open("a", newline="") as fh:
        fh.write(row)
    _assert_rejected(store, mini_copy, message)


def test_a_repeated_result_key_names_both_lines(store, mini_copy):
    path = mini_copy / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines) + lines[1].replace("26001,", "26099,", 1))
    _assert_rejected(store, mini_copy, "results.csv lines 2 and 10 both have season 2024, round 1, "
                                       "driver_ref max_verstappen, position_order 1")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


IMPOSSIBLE_ROWS = {
    # (file, text, replaced by, what the error says)
    "two winners": ("results.csv", "26002,1121,815,9,11,5,2,2,2,", "26002,1121,815,9,11,5,1,1,1,",
                    "results.csv line 2: race 2024 R1, max_verstappen and line 3: race 2024 R1, perez have the "
                    "same classification order (1), which a race holds once; refusing the dump"),
    "a place 0": ("results.csv", "26004,1121,844,6,16,2,4,4,4,", "26004,1121,844,6,16,2,4,4,0,",
                  "results.csv line 5: race 2024 R1, leclerc: classification order 0 cannot be true "
                  "(expected 1 to 50); refusing the dump"),
    "grid slot 99": ("results.csv", "26008,1122,860,6,38,11,", "26008,1122,860,6,38,99,",
                     "results.csv line 9: race 2024 R2, bearman: grid slot 99 cannot be true"),
    "a driver twice in 2024": ("results.csv", "26003,1121,832,", "26003,1121,830,",
                               "line 2: race 2024 R1, max_verstappen and line 4: race 2024 R1, max_verstappen have the same driver"),
    "an hour 25": ("races.csv", '"2024-03-02","15:00:00"', '"2024-03-02","25:00:00"',
                   "races.csv line 2: column time: '25:00:00' is not a time of day like 14:00:00"),
    "milliseconds past 32 bits": ("results.csv", ",5504742,", ",3000000000,",
                                  "results.csv line 2: column milliseconds: '3000000000' is far too large"),
}


@pytest.mark.parametrize("case", IMPOSSIBLE_ROWS, ids=list(IMPOSSIBLE_ROWS))
def test_a_row_that_cannot_be_true_is_refused_naming_its_file_and_line(store, mini_copy, case):
    filename, old, new, message = IMPOSSIBLE_ROWS[case]
    _edit(mini_copy / filename, old, new)
    _assert_rejected(store, mini_copy, message)


def test_shared_cars_before_1979_are_history_not_errors(store, mini_copy):
    # 1955: two drivers shared a car and its place, and one of them also drove a second car
    with (mini_copy / "races.csv").open("a") as fh:
        fh.write("1200,1955,1,3,Argentine Grand Prix,1955-01-16,\\N,\\N" + ",\\N" * 10 + "\n")
    with (mini_copy / "results.csv").open("a") as fh:
        for rid, driver, place in ((27001, 830, 1), (27002, 815, 1), (27003, 830, 2)):
            fh.write(f"{rid},1200,{driver},9,2,1,{place},{place},{place},4,96,\\N,\\N,\\N,\\N,\\N,\\N,1\n")
    import_dump(store, mini_copy)
    shared = store.read("SELECT driver_ref, position_order FROM results WHERE season = 1955 ORDER BY 2, 1")
    assert shared.values.tolist() == [["max_verstappen", 1], ["perez", 1], ["max_verstappen", 2]]


def test_a_lap_no_car_can_run_is_left_out_and_said(store, mini_copy):
    # the real dump holds one: 1995 Japanese GP, Blundell, 16:42.640
    _edit(mini_copy / "qualifying.csv", "10002,1121,844,6,16,2,1:30.243,", "10002,1121,844,6,16,2,16:42.640,")
    run = import_dump(store, mini_copy)
    row = store.read("SELECT position, q1, q1_s, q2_s FROM qualifying WHERE driver_ref = 'leclerc' AND round = 1")
    assert row["position"].iloc[0] == 2 and row["q2_s"].iloc[0] == pytest.approx(89.165)
    assert pd.isna(row["q1_s"].iloc[0]) and row["q1"].iloc[0] is None  # its gap to pole would be 11 times the field's
    said = store.read("SELECT message FROM ingestion_runs WHERE run_id = ?", [run.run_id])["message"].iloc[0]
    assert "qualifying.csv line 3: race 2024 R1, leclerc: Q1 lap '16:42.640' (1002.64 s) cannot be true" in said
    assert "left out" in said


def test_a_zip_member_too_large_for_a_table_is_refused_before_it_is_read(store, tmp_path):
    archive = tmp_path / "dump.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in MINI.glob("*.csv"):
            if f.name != "results.csv":
                zf.write(f, f.name)
        with zf.open("results.csv", "w") as fh:  # a few hundred KB on disk, more than the limit unpacked
            left = MAX_CSV_BYTES + 1
            while left:
                left -= fh.write(b"\0" * min(left, 1 << 20))
    assert archive.stat().st_size < 1_000_000
    import_dump(store, MINI)
    before = snapshot_of(store)
    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as err:
            import_dump(store, archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"{archive}!results.csv: {MAX_CSV_BYTES + 1:,} bytes once unpacked" in str(err.value)
    assert "refusing to read it" in str(err.value)
    assert peak < MAX_CSV_BYTES / 4, peak  # refused from the header: never inflated into memory
    assert snapshot_of(store) == before
    assert "bytes once unpacked" in failed_runs(store)[-1][1]


def test_not_a_dump(store, tmp_path):
    with pytest.raises(IngestError, match="missing circuits.csv"):
        import_dump(store, tmp_path)


def test_weather_both_formats(store):
    import_dump(store, MINI)
    run = import_weather(store, MINI_WEATHER)
    assert run.rows_added == {"weather_observed": 3}  # the 'unavailable' FastF1 row is not stored
    w = store.read("SELECT * FROM weather_observed ORDER BY round, source")
    fastf1 = w[(w["round"] == 1) & (w.source == "fastf1")].iloc[0]
    assert fastf1.track_temp == pytest.approx(25.2) and not fastf1.wet
    meteo = w[(w["round"] == 2) & (w.source == "openmeteo")].iloc[0]
    assert meteo.wet and meteo.precipitation_mm == pytest.approx(1.2)
    assert import_weather(store, MINI_WEATHER).total_added == 0


def _assert_weather_rejected(store, folder: Path, message: str) -> None:
    """The weather files in `folder` are refused with `message` over the mini dump, which keeps
    what it had."""
    import_dump(store, MINI)
    before = snapshot_of(store)
    with pytest.raises(IngestError) as err:
        import_weather(store, folder)
    assert message in str(err.value)
    assert snapshot_of(store) == before


def test_weather_for_unknown_race_is_rejected(store, tmp_path):
    bad = tmp_path / "w"
    bad.mkdir()
    (bad / "om.csv").write_text(
        (MINI_WEATHER / "openmeteo_race_weather.csv").read_text() + "2031,1,bahrain,2031-03-02,0,20,10,5,0,False\n")
    _assert_weather_rejected(store, bad, "om.csv line 4: race 2031 round 1 is not in the store")


IMPOSSIBLE_WEATHER = {
    "a race twice": ("openmeteo_race_weather.csv", None, "2024,1,bahrain,2024-03-02,0.0,22.1,15.3,25.2,0.0,False\n",
                     "openmeteo_race_weather.csv line 2: race 2024 R1 and line 4: race 2024 R1 have the same "
                     "weather source (openmeteo), which a race holds once; refusing the weather files"),
    "Kelvin": ("openmeteo_race_weather.csv", ",28.0,21.0,", ",301.2,294.2,",
               "openmeteo_race_weather.csv line 3: race 2024 R2: highest air temperature 301.2 °C cannot be true "
               "(expected -30 to 60 °C)"),
    "humidity per mille": ("fastf1_race_weather.csv", ",46.0,1016.8,", ",460.0,1016.8,",
                           "fastf1_race_weather.csv line 2: race 2024 R1: humidity 460 % cannot be true"),
}


@pytest.mark.parametrize("case", IMPOSSIBLE_WEATHER, ids=list(IMPOSSIBLE_WEATHER))
def test_weather_that_cannot_be_true_is_refused_naming_its_line(store, tmp_path, case):
    filename, old, new, message = IMPOSSIBLE_WEATHER[case]
    folder = tmp_path / "w"
    shutil.copytree(MINI_WEATHER, folder)
    if old is None:
        with (folder / filename).open("a") as fh:
            fh.write(new)
    else:
        _edit(folder / filename, old, new)
    _assert_weather_rejected(store, folder, message)


def test_unknown_weather_format(store, tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match="not a known weather format"):
        import_weather(store, tmp_path)


# -- the real snapshot ------------------------------------------------------------------------------

def _csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def test_real_snapshot_loads_completely(snapshot_store, ergast_dir):
    counts = snapshot_store.table_counts()
    for table in ["seasons", "circuits", "drivers", "constructors", "status", "races", "results", "sprint_results",
                  "qualifying", "pit_stops", "driver_standings", "constructor_standings", "constructor_results"]:
        assert counts[table] == _csv_rows(ergast_dir / f"{table}.csv"), table
    calendar = snapshot_store.read("SELECT round FROM races WHERE season = 2026 ORDER BY round")["round"].tolist()
    assert calendar == list(range(1, 23))
    last = snapshot_store.last_race_with_results()
    assert (last.season, last.round, last.name) == (2026, 4, "Miami Grand Prix")
    nxt = snapshot_store.next_races(dt.date(2026, 5, 10), 3)
    assert [r.round for r in nxt] == [5, 6, 7]
    assert snapshot_store.races_missing_results(dt.date(2026, 5, 10)) == []
    stale = snapshot_store.races_missing_results(dt.date(2026, 6, 10))
    assert [r.round for r in stale] == [5, 6]


def test_real_weather_loads(snapshot_store):
    counts = snapshot_store.read("SELECT source, count(*) n FROM weather_observed GROUP BY source")
    assert dict(zip(counts.source, counts.n)) == {"fastf1": 127, "openmeteo": 177}


def test_data_version_moves_only_when_rows_land(store):
    assert store.data_version() == 0
    import_dump(store, MINI)
    after_load = store.data_version()
    assert after_load > 0
    import_dump(store, MINI)  # nothing new
    assert store.data_version() == after_load
    import_weather(store, MINI_WEATHER)
    assert store.data_version() > after_load
