"""The command line as a user runs it: a real subprocess over a copy of the snapshot store."""
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from f1core.store import Store
from tests.conftest import REPO


@pytest.fixture
def cli(trained_engine, engine_paths, tmp_path):
    db, models = engine_paths
    shutil.copy(db, tmp_path / "f1.duckdb")
    shutil.copytree(models, tmp_path / "models")
    env = {**os.environ, "F1_DB": str(tmp_path / "f1.duckdb"), "F1_MODELS": str(tmp_path / "models"),
           "F1_TODAY": "2026-05-10", "F1_TRAIN_FROM": "2022"}

    def run(*args: str, ok: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "f1core", *args], cwd=REPO, env={**env, **extra_env},
                              capture_output=True, text=True, timeout=600)
        assert (done.returncode == 0) == ok, done.stderr
        return done

    return run, tmp_path


def test_predict_writes_the_documented_json(cli):
    run, tmp = cli
    out = tmp / "p.json"
    printed = run("predict", "2026", "5", "--json", str(out)).stdout
    assert "2026 R5 Canadian Grand Prix" in printed and "pre-qualifying" in printed
    data = json.loads(out.read_text())
    assert data["race"] == {"season": 2026, "round": 5, "name": "Canadian Grand Prix", "date": "2026-05-24"}
    assert data["mode"] == "pre-qualifying" and data["model_version"].startswith("v")
    driver = data["drivers"][0]
    assert set(driver) == {"driver", "constructor", "grid", "quali_gap_pct", "quali_time_s", "p_win", "p_podium",
                           "p_points", "p_dnf", "expected_position"}
    assert sum(d["p_win"] for d in data["drivers"]) == pytest.approx(1)


def test_predict_with_a_grid_file_and_weather(cli):
    run, tmp = cli
    grid = tmp / "grid.csv"
    grid.write_text("driver,grid\nhamilton,1\nantonelli,2\n")
    out = tmp / "p.json"
    run("predict", "2026", "4", "--grid-file", str(grid), "--rain", "0.8", "--air-temp", "31", "--json", str(out))
    data = json.loads(out.read_text())
    slots = {d["driver"]: d["grid"] for d in data["drivers"]}
    assert slots["hamilton"] == 1 and slots["antonelli"] == 2
    assert data["scenario"]["rain"] == 0.8 and data["scenario"]["air_temp"] == 31.0
    assert data["scenario"]["grid_slots"] == [{"driver": "hamilton", "grid": 1}, {"driver": "antonelli", "grid": 2}]


@pytest.mark.parametrize("content, message", [
    ("driver,grid\nnobody,1\n", "grid.csv line 2: 'nobody' is not in the field of 2026 R4 Miami Grand Prix"),
    ("driver,grid\nhamiltn,1\n", "(closest: hamilton"),
    ("name,slot\nhamilton,1\n", "grid.csv line 1: needs the columns driver,grid"),
    ("driver,grid\nhamilton,\n", "grid.csv line 2: grid slot '' is not a whole number"),
    ("driver,grid\nhamilton,1,x\n", "grid.csv line 2: 3 values where the header has 2"),
    ("driver,grid\nhamilton,0\n", "grid.csv line 2: grid slot 0 is outside 1 to 34"),
    ("driver,grid\nhamilton,-3\n", "outside 1 to 34"),
    ("driver,grid\nhamilton,23\n", "grid.csv line 2: slot 23 is outside 1 to 22"),
    ("driver,grid\nhamilton,40\n", "grid.csv line 2: grid slot 40 is outside 1 to 34"),
    ("driver,grid\nhamilton,2\nrussell,2\n", "grid.csv line 3: slot 2 is already given on line 2"),
    (b"driver,grid\nh\xe4milton,1\n", "not a UTF-8 text file"),
])
def test_bad_grid_files_are_refused_naming_file_and_line(cli, content, message):
    run, tmp = cli
    grid = tmp / "grid.csv"
    grid.write_bytes(content if isinstance(content, bytes) else content.encode())
    err = run("predict", "2026", "4", "--grid-file", str(grid), ok=False).stderr
    assert message in err and err.count("\n") == 1, err  # one line, no traceback


def test_a_partial_grid_file_moves_only_its_drivers(cli):
    """`max_verstappen,10` alone starts him from P10, not P1; a byte-order mark is fine."""
    run, tmp = cli
    grid, out = tmp / "grid.csv", tmp / "p.json"
    grid.write_bytes("\ufeffdriver,grid\nmax_verstappen,10\n".encode("utf-8"))
    run("predict", "2026", "4", "--json", str(out))
    before = {d["driver"]: d["grid"] for d in json.loads(out.read_text())["drivers"]}
    run("predict", "2026", "4", "--grid-file", str(grid), "--json", str(out))
    after = {d["driver"]: d["grid"] for d in json.loads(out.read_text())["drivers"]}
    assert after["max_verstappen"] == 10
    others = sorted((g, d) for d, g in before.items() if d != "max_verstappen")
    assert [after[d] for _, d in others] == [s for s in range(1, len(before) + 1) if s != 10]


@pytest.mark.parametrize("args, message", [
    (["--air-temp", "200"], "air_temp=200 is outside -10 to 50 °C"),
    (["--track-temp", "-50"], "track_temp=-50 is outside -5 to 75 °C"),
    (["--rain", "nan"], "rain=nan is outside 0 to 1"),
    (["--rain", "3"], "rain=3 is outside 0 to 1"),
])
def test_absurd_weather_is_refused_in_one_line(cli, args, message):
    run, _ = cli
    err = run("predict", "2026", "4", *args, ok=False).stderr
    assert message in err and "Traceback" not in err


def test_unknown_races_stores_and_models_are_named(cli, tmp_path):
    run, tmp = cli
    err = run("predict", "2026", "99", ok=False).stderr
    assert f"there is no race 2026 round 99 in the store {tmp / 'f1.duckdb'}: season 2026 has rounds 1 to 22" in err
    assert "there is no season 2031" in run("predict", "2031", "3", ok=False).stderr
    err = run("predict", "2026", "5", "--db", str(tmp / "typo.duckdb"), ok=False).stderr
    assert "there is no store at" in err and not (tmp / "typo.duckdb").exists()
    empty = tmp_path / "no-models"
    err = run("--db", str(tmp / "f1.duckdb"), "predict", "2026", "5", ok=False, F1_MODELS=str(empty)).stderr
    assert "there is no trained model" in err and "python -m f1core train" in err
    assert not any(empty.glob("v*"))  # it did not train silently


def test_global_options_go_before_or_after_the_command(cli):
    run, tmp = cli
    db = str(tmp / "f1.duckdb")
    assert "2026 R5" in run("predict", "2026", "5", "--db", db).stdout
    assert "2026 R5" in run("--db", db, "predict", "2026", "5").stdout
    usage = run("backtest", "--help").stdout
    assert "--from FROM_SEASON" in usage and "default 2022" in usage and "minutes" in usage


def test_train_and_backtest(cli):
    run, tmp = cli
    trained = run("train").stdout
    assert "walk-forward on the last 12 races" in trained and "grid" in trained
    out = tmp / "b.json"
    printed = run("backtest", "--from", "2026", "--json", str(out)).stdout
    assert "post-qualifying" in printed and "qualifying: grid Spearman" in printed
    data = json.loads(out.read_text())
    assert data["races"] == 4 and data["seconds"] > 0
    for entry in [data["model"], data["baselines"]["grid"], data["baselines"]["form"]]:
        for key in ("winner_top1", "winner_top3", "winner_logloss", "multiclass_brier", "podium_brier", "spearman",
                    "position_mae"):
            assert key in entry and len(entry[f"{key}_ci"]) == 2
    assert {"grid_spearman", "pole_hit", "laptime_median_abs_error_s"} <= set(data["stage1"])
    assert set(data["rain"]) == {"post-qualifying", "pre-qualifying"} and data["code"]
    assert "rain check, post-qualifying: no wet race in the backtest" in printed  # 2026's first races were dry
    # per_race lets anyone recount the metrics: the winner's log loss, race by race, gives the headline
    races = [r for r in data["per_race"] if r["mode"] == "post-qualifying"]
    assert len(races) == 4 and {"driver", "grid", "p_win", "p_podium", "expected_position", "pred_grid",
                                "pred_quali_time_s", "finish", "quali_time_s"} == set(races[0]["drivers"][0])
    losses = [-math.log(max(next(d["p_win"] for d in r["drivers"] if d["finish"] == 1), 1e-4)) for r in races]
    assert sum(losses) / len(losses) == pytest.approx(data["model"]["winner_logloss"], abs=1e-9)


def test_ingest_runs_the_same_upkeep_as_the_app(tmp_path, ergast_dir, weather_dir):
    """A fresh store filled from the dump: the command line then trains, freezes the predictions
    shown and runs the backtest, as the app's background refresh does; --no-upkeep only loads."""
    env = {**os.environ, "F1_DB": str(tmp_path / "f1.duckdb"), "F1_MODELS": str(tmp_path / "models"),
           "F1_TODAY": "2026-05-10", "F1_TRAIN_FROM": "2024"}
    for name in ("F1_SNAPSHOT", "F1_WEATHER", "F1_ADMIN_PASSWORD"):
        env.pop(name, None)

    def ingest(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "f1core", "ingest", "--snapshot", str(ergast_dir),
                               "--weather", str(weather_dir), *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=600)

    only = ingest("--no-upkeep", "--db", str(tmp_path / "only.duckdb"))
    assert only.returncode == 0, only.stderr
    assert "upkeep:" not in only.stdout and not (tmp_path / "models").exists()

    done = ingest()
    assert done.returncode == 0, done.stderr
    assert "upkeep: retrained" in done.stdout and "upkeep: froze" in done.stdout and "upkeep: backtest run" in done.stdout
    store = Store(tmp_path / "f1.duckdb", read_only=True)
    assert store.scalar("SELECT count(DISTINCT round) FROM prediction_log WHERE season = 2026") == 3
    assert store.scalar("SELECT count(*) FROM backtest_runs") == 1
    store.close()
    assert json.loads((tmp_path / "models" / "registry.json").read_text())["champion"] == "v0001"


def test_season_prints_the_table_and_writes_the_documented_json(cli):
    run, tmp = cli
    out = tmp / "s.json"
    printed = run("season", "2026", "--json", str(out)).stdout
    assert "2026 championship after round 4" in printed and "cannot clinch" in printed
    data = json.loads(out.read_text())
    assert data["season"] == 2026 and data["after_round"] == 4
    assert set(data["drivers"][0]) == {"driver", "points_now", "p_title", "points_expected", "points_p10", "points_p90"}
    assert set(data["constructors"][0]) == {"constructor", "points_now", "p_title", "points_expected", "points_p10",
                                            "points_p90"}
    assert sum(d["p_title"] for d in data["drivers"]) == pytest.approx(1)
    race = data["remaining_races"][0]
    assert race == {**race, "round": 5, "name": "Canadian Grand Prix", "date": "2026-05-24", "sprint": True}
    assert set(race) == {"round", "name", "date", "sprint", "favourite", "p_win"}
    replay = json.loads((run("season", "2025", "--after-round", "12", "--json", str(out)), out.read_text())[1])
    assert replay["after_round"] == 12 and replay["model_version"] == "trained before 2025 R13"
    assert "has results up to round 4" in run("season", "2026", "--after-round", "9", ok=False).stderr
